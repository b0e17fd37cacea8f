"""Renders isobench benchmark results (Google Benchmark JSON) as HTML and Markdown.

  /usr/bin/python3 reports/report.py --out DIR RESULT.json [RESULT2.json ...]

writes DIR/report.html (self-contained: the plots are embedded as base64 PNG),
the same PNGs beside it, and DIR/summary.md, a short table for CI logs.

  /usr/bin/python3 reports/report.py --out DIR bench.json io.json --conformance verdicts.json

The page reads top-down: a headline first (per backend: the serial start with
its interval and its ratios to the host floor and to the yardsticks of its kind,
memory per instance, the I/O ratios to the host, the conformance counts and the
regression gate's verdict; headline.py), then one section per family, each opening
with its main chart, and the environment of every input folded at the end.

Benchmarks are named Family/backend/params. The Startup family gets its own
section (distribution per backend on a log axis with the KVM boot target as a
reference line, medians with 95% bootstrap intervals, the phases as stacked bars,
teardown times); so do Density (per-instance memory and N-th startup against N,
the density reached under the memory budget), Io (bandwidth and IOPS as ratios to
the host's same job, p99 latency), Net (stream throughput and round trips per path, as
ratios to the host's loopback), Image (pull and cold-start bars per image and the
layer-sharing savings) and Overhead (slowdown against the host). Every
other family gets a table. A conformance verdict file (--conformance, or given
among the inputs: it is recognised) adds the probe x backend matrix and the
mutation table; conformance_file.load_conformance() documents the schema.

Several files are shown side by side and compared with the first one: one column
per host when they come from different hosts (hardware comparison), one per file
when they come from the same host (A/B of a change). Files from one host whose
benchmarks do not overlap (a quick suite and a separate I/O run) are one run.

Statistics come from the C++ core through the isobench_py module, found in
--module-dir, $ISOBENCH_PYMODULE_DIR or <repo>/build*/reports; without it the
report is not made (exit 2). Verdicts between inputs are the regression gate's own
(`isobench compare --json`, through the same module): this package computes none.
Run with Debian's /usr/bin/python3, which has matplotlib.

One module per concern: core (the isobench_py module), model (inputs, cells,
backend order and colours), fmt and markup (text and tables), plotting (matplotlib),
headline, one section_<name> per section, conformance_file (the verdict file's
schema), page (report.html and summary.md), inputs (sorting and joining the files)
and cli. Each module's tests sit beside it (test_<module>.py; report_case.py holds
their fixtures); screenshot_test.py shoots the page in headless Chromium.
"""
