"""Sorting and joining the input files."""
import json

from .conformance_file import is_conformance_file


def sniff_conformance(path):
    """True when path holds a conformance verdict file (read errors: False, so that the
    benchmark loader reports them)."""
    try:
        with open(path, "rb") as f:
            return is_conformance_file(json.loads(f.read()))
    except (OSError, ValueError, UnicodeDecodeError):
        return False


def merge_parts(loaded):
    """[(path, results)]: inputs from one host whose benchmarks do not overlap (e.g. the
    quick suite and a separate I/O run) are parts of one run, not an A/B: they become
    one series, its path the joined paths. Anything else is returned as given."""
    if len(loaded) < 2:
        return loaded
    hosts = {(r["context"].get("env.hostname") or r["context"].get("host_name"))
             for _, r in loaded}
    names = [set(r["runs"]) for _, r in loaded]
    if len(hosts) != 1 or sum(len(n) for n in names) != len(set().union(*names)):
        return loaded
    runs, context = {}, {}
    for _, r in loaded:
        runs.update(r["runs"])
        for k, v in r["context"].items():
            context.setdefault(k, v)
    path = " + ".join(p for p, _ in loaded)
    return [(path, {"source": path, "context": context, "runs": runs})]
