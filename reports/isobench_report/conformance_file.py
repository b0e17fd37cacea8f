"""The conformance verdict file: recognising it and checking its schema."""
import json

VERDICTS = ("pass", "fail", "skip")


def is_conformance_file(root):
    """A conformance verdict file rather than Google Benchmark results."""
    return isinstance(root, dict) and "benchmarks" not in root and (
        root.get("suite") == "isobench-conformance" or "verdicts" in root or "probes" in root
        or ("records" in root and "targets" in root))


def load_conformance(path):
    """Reads and checks a verdict file; ValueError names the bad field.

    Accepted schema (what conformance/suite.cc Suite::VerdictFile writes, version 1):

      {"suite": "isobench-conformance", "version": 1, "run_id": "...",
       "environment": {...}, "unusable": [{"backend", "reason"}],
       "baseline": {"backend": "container", "profile": "default", "description": "..."},
       "targets": [{"backend", "profile", "status": "ran"|"unavailable"|"error",
                    "reason"?, "vm"?, "expectations"?}],
       "records": [{"probe", "number", "title", "backend", "profile",
                    "verdict": "pass"|"fail"|"skip", "detail",
                    "baseline_verdict", "baseline_detail"?, "observed"?,
                    "error"?: true, "known_deviation"?: "why"}],
       "mutation": {"backend", "score": {"caught", "tried"},
                    "results": [{"weakening", "reference_profile", "profile", "backend",
                                 "status": "caught"|"missed"|"skipped"|"error",
                                 "reason"?, "caught_by"?: ["#2 pid1: ..."],
                                 "verdicts"?: {probe: verdict}}]}}

    "verdicts" is accepted for "records", and an optional "probes" list of
    {"name", "number", "title"} fixes the row order; "targets" and "mutation" may be
    absent (targets are then taken from the records).
    """
    with open(path, "rb") as f:
        text = f.read()
    try:
        root = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError("%s: not valid JSON: %s" % (path, e)) from None

    def fail(field, problem):
        raise ValueError("%s: %s: %s" % (path, field, problem))

    def kind(value):
        return {dict: "object", list: "array", str: "string", bool: "boolean",
                type(None): "null"}.get(type(value), "number")

    if not isinstance(root, dict):
        fail("top level", "expected an object, got " + kind(root))
    records = root.get("records", root.get("verdicts"))
    rkey = "records" if "records" in root else "verdicts"
    if records is None:
        fail("records", "missing")
    if not isinstance(records, list):
        fail(rkey, "expected an array, got " + kind(records))
    for i, r in enumerate(records):
        at = "%s[%d]" % (rkey, i)
        if not isinstance(r, dict):
            fail(at, "expected an object, got " + kind(r))
        for k in ("probe", "backend", "verdict"):
            if not isinstance(r.get(k), str):
                fail(at + "." + k, "missing" if k not in r else
                     "expected a string, got " + kind(r[k]))
        for k in ("verdict", "baseline_verdict"):
            if k in r and r[k] not in VERDICTS:
                fail(at + "." + k, 'expected "pass", "fail" or "skip", got %s'
                     % json.dumps(r[k]))
        if "number" in r and not (isinstance(r["number"], int)
                                  and not isinstance(r["number"], bool)):
            fail(at + ".number", "expected an integer, got " + kind(r["number"]))
    for key in ("targets", "probes", "unusable"):
        if key in root and not isinstance(root[key], list):
            fail(key, "expected an array, got " + kind(root[key]))
        for i, t in enumerate(root.get(key) or []):
            if not isinstance(t, dict):
                fail("%s[%d]" % (key, i), "expected an object, got " + kind(t))
    mutation = root.get("mutation")
    if mutation is not None:
        if not isinstance(mutation, dict):
            fail("mutation", "expected an object, got " + kind(mutation))
        results = mutation.get("results", [])
        if not isinstance(results, list):
            fail("mutation.results", "expected an array, got " + kind(results))
        for i, m in enumerate(results):
            at = "mutation.results[%d]" % i
            if not isinstance(m, dict):
                fail(at, "expected an object, got " + kind(m))
            if not isinstance(m.get("weakening"), str):
                fail(at + ".weakening", "missing" if "weakening" not in m else
                     "expected a string, got " + kind(m["weakening"]))
            if not isinstance(m.get("caught_by", []), list):
                fail(at + ".caught_by", "expected an array, got " + kind(m["caught_by"]))
    root["_path"] = path
    root["records"] = records
    return root
