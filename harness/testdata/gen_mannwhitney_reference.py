#!/usr/bin/python3
"""Regenerates mannwhitney_reference.json, the scipy values stats_test.cc checks.

Needs Debian's python3-scipy (apt-get install python3-scipy) only when run; the
tests read the JSON and never need scipy. Run from the repository root:

  /usr/bin/python3 harness/testdata/gen_mannwhitney_reference.py \
      > harness/testdata/mannwhitney_reference.json
"""
import json
import math
import sys

import numpy as np
import scipy
from scipy import stats


def cases():
    rng = np.random.default_rng(20240611)
    yield "separated_3v3", [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    yield "interleaved_4v5", [1.1, 3.3, 5.5, 7.7], [2.2, 4.4, 6.6, 8.8, 9.9]
    yield "single_each", [1.0], [2.0]
    yield "all_tied", [5.0, 5.0, 5.0], [5.0, 5.0]
    yield "ties_small", [1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 3.0, 4.0, 5.0]
    yield "ties_rounded", list(np.round(rng.normal(3.0, 0.2, 25), 1)), \
        list(np.round(rng.normal(3.2, 0.2, 30), 1))
    yield "startup_ms_20v20", list(rng.lognormal(np.log(3e-3), 0.1, 20)), \
        list(rng.lognormal(np.log(3.3e-3), 0.1, 20))
    yield "same_dist_40v35", list(rng.normal(10, 1, 40)), list(rng.normal(10, 1, 35))
    yield "vm_3v20", list(rng.normal(9.0, 0.3, 3)), list(rng.normal(9.5, 0.3, 20))
    yield "small_7v8", list(rng.normal(0, 1, 7)), list(rng.normal(1, 1, 8))
    yield "large_200v150", list(rng.exponential(1.0, 200)), list(rng.exponential(1.2, 150))
    yield "ties_8v9", list(np.round(rng.normal(5.0, 1.0, 8))), list(np.round(rng.normal(6.0, 1.0, 9)))
    yield "ties_one_group_6v6", [1.0, 2.0, 3.0, 3.0, 3.0, 4.0], [3.0, 3.0, 5.0, 6.0, 7.0, 8.0]
    yield "separated_10v12", list(rng.normal(1.0, 0.05, 10)), list(rng.normal(1.5, 0.05, 12))


def exact_p(x, y):
    """The exact two-sided p: scipy's exact distribution without ties, an exhaustive
    permutation test of U with ties (None where that would take too long)."""
    if len(x) + len(y) > 60:  # the gate uses the normal approximation there
        return None
    if len(set(x) | set(y)) == len(x) + len(y):
        return float(stats.mannwhitneyu(x, y, alternative="two-sided", method="exact").pvalue)
    if math.comb(len(x) + len(y), len(x)) > 200000:
        return None

    def u(a, b, axis=-1):
        return stats.mannwhitneyu(a, b, axis=axis, method="asymptotic").statistic
    r = stats.permutation_test((x, y), u, permutation_type="independent", n_resamples=np.inf,
                               alternative="two-sided", vectorized=True)
    return float(r.pvalue)


def main():
    out = {
        "_generated_by": "/usr/bin/python3 harness/testdata/gen_mannwhitney_reference.py "
                         "(scipy " + scipy.__version__ + ", numpy " + np.__version__ + ")",
        "cases": [],
    }
    for name, x, y in cases():
        x = [float(v) for v in x]
        y = [float(v) for v in y]
        asym = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
        auto = stats.mannwhitneyu(x, y, alternative="two-sided", method="auto")
        out["cases"].append({
            "name": name,
            "x": x,
            "y": y,
            "u1": float(asym.statistic),
            "p_asymptotic": float(asym.pvalue),
            "p_auto": float(auto.pvalue),
            "p_exact": exact_p(x, y),
            "median_x": float(np.median(x)),
            "percentile_x": {str(q): float(np.percentile(x, q)) for q in (0, 10, 25, 90, 100)},
            "mean_x": float(np.mean(x)),
            "stddev_x": float(np.std(x, ddof=1)) if len(x) > 1 else None,
        })
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
