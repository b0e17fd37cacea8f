"""Pure-Python stand-in for the isobench_py module (harness/stats.cc, bench_results.cc).

report.py uses it only when the compiled module cannot be imported, and says so.
It mirrors the C++ functions closely enough that the numbers agree: the bootstrap
draws the same SplitMix64 stream with the same rejection sampling, so for a given
seed its intervals equal the C++ ones exactly; the Mann-Whitney p-values agree to
rounding. test_report.py checks both against the module when it is built.
"""
import json
import math

DEFAULT_SEED = 0x15BA5EED
DEFAULT_RESAMPLES = 2000

_MASK = (1 << 64) - 1
_KNOWN_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
    "time_unit", "aggregate_name", "aggregate_unit", "error_occurred", "error_message",
    "label", "big_o", "cpu_coefficient", "real_coefficient", "rms", "skipped",
}
_TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
_MODIFIER_PREFIXES = ("iterations:", "repeats:", "threads:", "min_time:", "min_warmup_time:")
_MODIFIERS = ("real_time", "manual_time", "process_time")


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & _MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def below(self, n):
        threshold = ((1 << 64) - n) % n
        while True:
            x = self.next()
            if x >= threshold:
                return x % n


def _has_nan(samples):
    return any(math.isnan(v) for v in samples)


def _sorted_percentile(s, q):
    pos = q / 100.0 * (len(s) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    frac = pos - lo
    if frac == 0 or s[lo] == s[hi]:
        return s[lo]
    return s[lo] + (s[hi] - s[lo]) * frac


def percentile(samples, q):
    samples = list(samples)
    if not samples or _has_nan(samples) or math.isnan(q):
        return math.nan
    return _sorted_percentile(sorted(samples), min(max(q, 0.0), 100.0))


def median(samples):
    return percentile(samples, 50)


def mean(samples):
    samples = list(samples)
    return math.fsum(samples) / len(samples) if samples else math.nan


def stddev(samples):
    samples = list(samples)
    if len(samples) < 2:
        return math.nan
    m = mean(samples)
    return math.sqrt(sum((v - m) ** 2 for v in samples) / (len(samples) - 1))


def relative_change(base, new):
    return math.nan if base == 0 else new / base - 1


def _median_of_sorted(s):
    n = len(s)
    mid = n // 2
    if n % 2:
        return s[mid]
    return s[mid - 1] + (s[mid] - s[mid - 1]) / 2


def _resample_median(samples, rng):
    n = len(samples)
    return _median_of_sorted(sorted(samples[rng.below(n)] for _ in range(n)))


def _check(samples, what):
    if not samples:
        raise ValueError(what + ": no samples")
    if _has_nan(samples):
        raise ValueError(what + ": samples contain NaN")


def _check_bootstrap(confidence, resamples):
    if resamples < 1:
        raise ValueError("bootstrap: resamples must be at least 1, got %d" % resamples)
    if not 0 < confidence < 1:
        raise ValueError("bootstrap: confidence must be in (0, 1), got %g" % confidence)


def _interval(stats, confidence):
    stats.sort()
    tail = (1 - confidence) / 2 * 100
    return _sorted_percentile(stats, tail), _sorted_percentile(stats, 100 - tail)


def bootstrap_ci(samples, confidence=0.95, resamples=DEFAULT_RESAMPLES, seed=DEFAULT_SEED):
    samples = [float(v) for v in samples]
    _check(samples, "bootstrap")
    _check_bootstrap(confidence, resamples)
    rng = SplitMix64(seed)
    return _interval([_resample_median(samples, rng) for _ in range(resamples)], confidence)


def _exact_sf(u, m, n):
    if m > n:
        m, n = n, m
    poly = [[1]] + [[] for _ in range(m)]
    for total in range(1, m + n + 1):
        for j in range(min(total, m), 0, -1):
            nxt = list(poly[j - 1])
            shifted = poly[j]
            if len(nxt) < len(shifted) + j:
                nxt += [0] * (len(shifted) + j - len(nxt))
            for k, c in enumerate(shifted):
                nxt[k + j] += c
            poly[j] = nxt
    counts = poly[m]
    first = math.ceil(u)
    return sum(counts[first:]) / sum(counts)


def mann_whitney_u(x, y, method="asymptotic"):
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    _check(x, "Mann-Whitney U: first sample")
    _check(y, "Mann-Whitney U: second sample")
    if method not in ("asymptotic", "exact", "auto"):
        raise ValueError("method must be 'asymptotic', 'exact' or 'auto', got '%s'" % method)
    n1, n2 = len(x), len(y)
    pooled = sorted([(v, True) for v in x] + [(v, False) for v in y], key=lambda p: p[0])
    rank_sum_x = 0.0
    tie_term = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j][0] == pooled[i][0]:
            j += 1
        t = j - i
        midrank = (i + 1 + j) / 2
        rank_sum_x += midrank * sum(1 for k in range(i, j) if pooled[k][1])
        tie_term += t ** 3 - t
        i = j
    u1 = rank_sum_x - n1 * (n1 + 1) / 2
    u_max = max(u1, n1 * n2 - u1)
    if method == "auto":
        method = "asymptotic" if (n1 > 8 and n2 > 8) or tie_term > 0 else "exact"
    if method == "exact":
        if tie_term > 0:
            raise ValueError("Mann-Whitney U: the exact test needs samples without ties")
        return u1, min(max(2 * _exact_sf(u_max, n1, n2), 0.0), 1.0)
    n = n1 + n2
    s = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    numerator = u_max - n1 * n2 / 2 - 0.5
    z = numerator / s if s > 0 else -math.inf
    return u1, min(max(math.erfc(z / math.sqrt(2.0)), 0.0), 1.0)


def compare(base, new, threshold=0.05, alpha=0.01, direction="lower_is_better",
            method="asymptotic", confidence=0.95, resamples=DEFAULT_RESAMPLES,
            seed=DEFAULT_SEED):
    base = [float(v) for v in base]
    new = [float(v) for v in new]
    _check(base, "compare: base")
    _check(new, "compare: new")
    _check_bootstrap(confidence, resamples)
    if direction not in ("lower_is_better", "higher_is_better"):
        raise ValueError("direction must be 'lower_is_better' or 'higher_is_better', got '%s'"
                         % direction)
    base_median, new_median = median(base), median(new)
    if base_median == 0:
        raise ValueError("compare: base median is 0, so the relative change is undefined")
    change = new_median / base_median - 1
    _, p = mann_whitney_u(base, new, method)
    _, min_p = mann_whitney_u(range(len(base)), range(len(base), len(base) + len(new)), method)
    rng = SplitMix64(seed)
    changes = []
    for _ in range(resamples):
        b = _resample_median(base, rng)
        n = _resample_median(new, rng)
        if b == 0:
            changes.append(0.0 if n == 0 else math.copysign(math.inf, n))
        else:
            changes.append(n / b - 1)
    low, high = _interval(changes, confidence)
    worse = change if direction == "lower_is_better" else -change
    verdict = "same"
    if p < alpha and worse > threshold:
        verdict = "regressed"
    elif p < alpha and worse < -threshold:
        verdict = "improved"
    return {"base_median": base_median, "new_median": new_median, "change": change,
            "ci_low": low, "ci_high": high, "p_value": p, "min_p_value": min_p,
            "base_count": len(base), "new_count": len(new), "verdict": verdict}


def split_name(name):
    parts = name.split("/")
    end = len(parts)
    while end > 0 and (parts[end - 1] in _MODIFIERS
                       or parts[end - 1].startswith(_MODIFIER_PREFIXES)):
        end -= 1
    if end < 2 or any(p == "" for p in parts):
        return None
    params = "/".join(parts[2:end])
    return {"family": parts[0], "backend": parts[1], "params": params,
            "modifiers": "/".join(parts[end:]),
            "case_key": parts[0] + ("/" + params if params else "")}


def _type_name(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_results(path):
    """Same shape as isobench_py.load_results; ValueError/OSError on bad input."""
    with open(path, "rb") as f:
        text = f.read()
    try:
        root = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError("%s: not valid JSON: %s" % (path, e)) from None

    def fail(field, problem):
        raise ValueError("%s: %s: %s" % (path, field, problem))

    def get(record, at, key, kind, default=None, required=False):
        if key not in record:
            if required:
                fail(at + key, "missing")
            return default
        value = record[key]
        if kind == "number" and not _is_number(value):
            fail(at + key, "expected a number, got " + _type_name(value))
        if kind == "integer":
            ok = _is_number(value) and float(value).is_integer()
            if not ok:
                fail(at + key, "expected an integer, got " + _type_name(value))
            return int(value)
        if kind == "string" and not isinstance(value, str):
            fail(at + key, "expected a string, got " + _type_name(value))
        if kind == "bool" and not isinstance(value, bool):
            fail(at + key, "expected true or false, got " + _type_name(value))
        return value

    if not isinstance(root, dict):
        fail("top level", "expected an object, got " + _type_name(root))
    context = root.get("context", {})
    if not isinstance(context, dict):
        fail("context", "expected an object, got " + _type_name(context))
    # Non-string values as compact JSON with sorted keys, as nlohmann::json dumps them.
    context = {k: v if isinstance(v, str)
               else json.dumps(v, separators=(",", ":"), sort_keys=True)
               for k, v in sorted(context.items())}
    if "benchmarks" not in root:
        fail("benchmarks", "missing")
    if not isinstance(root["benchmarks"], list):
        fail("benchmarks", "expected an array, got " + _type_name(root["benchmarks"]))

    runs = {}
    for i, rec in enumerate(root["benchmarks"]):
        at = "benchmarks[%d]" % i
        if not isinstance(rec, dict):
            fail(at, "expected an object, got " + _type_name(rec))
        at += "."
        name = get(rec, at, "name", "string", required=True)
        run_name = get(rec, at, "run_name", "string", name)
        run_type = get(rec, at, "run_type", "string", "iteration")
        if run_type not in ("iteration", "aggregate"):
            fail(at + "run_type",
                 'expected "iteration" or "aggregate", got "%s"' % run_type)
        failed = get(rec, at, "error_occurred", "bool", False)
        threads = get(rec, at, "threads", "integer", 1)
        repetitions = get(rec, at, "repetitions", "integer", 0)
        run = runs.get(run_name)
        if run is None:
            run = runs[run_name] = {
                "run_name": run_name, "name": split_name(run_name), "time_unit": "",
                "threads": threads, "repetitions": repetitions, "real_time_s": [],
                "cpu_time_s": [], "iterations": [], "counters": {}, "aggregates": {},
                "errors": []}
        if failed:
            run["errors"].append(get(rec, at, "error_message", "string", "unknown error"))
            continue
        counters = {k: float(v) for k, v in rec.items()
                    if k not in _KNOWN_KEYS and _is_number(v)}
        if run_type == "aggregate":
            agg_name = get(rec, at, "aggregate_name", "string", required=True)
            unit = get(rec, at, "aggregate_unit", "string", "time")
            real = float(get(rec, at, "real_time", "number", math.nan))
            cpu = float(get(rec, at, "cpu_time", "number", math.nan))
            if unit == "time" and ("real_time" in rec or "cpu_time" in rec):
                scale = _TIME_UNITS.get(get(rec, at, "time_unit", "string", required=True))
                if scale is None:
                    fail(at + "time_unit", 'unknown time unit "%s"' % rec["time_unit"])
                real, cpu = real * scale, cpu * scale
            run["aggregates"][agg_name] = {"unit": unit, "real_time": real, "cpu_time": cpu,
                                           "counters": counters}
            continue
        unit = get(rec, at, "time_unit", "string", required=True)
        if unit not in _TIME_UNITS:
            fail(at + "time_unit", 'unknown time unit "%s" (expected ns, us, ms or s)' % unit)
        real = get(rec, at, "real_time", "number", required=True)
        cpu = get(rec, at, "cpu_time", "number", required=True)
        iterations = get(rec, at, "iterations", "integer", required=True)
        if not run["time_unit"]:
            run["time_unit"] = unit
        run["real_time_s"].append(real * _TIME_UNITS[unit])
        run["cpu_time_s"].append(cpu * _TIME_UNITS[unit])
        run["iterations"].append(iterations)
        for k, v in counters.items():
            run["counters"].setdefault(k, []).append(v)
    return {"source": path, "context": context, "runs": runs}
