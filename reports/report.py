#!/usr/bin/python3
"""Renders isobench benchmark results (Google Benchmark JSON) as HTML and Markdown.

  /usr/bin/python3 reports/report.py --out DIR RESULT.json [RESULT2.json ...]

writes DIR/report.html (self-contained: the plots are embedded as base64 PNG),
the same PNGs beside it, and DIR/summary.md, a short table for CI logs.

  /usr/bin/python3 reports/report.py --out DIR bench.json io.json --conformance verdicts.json

Benchmarks are named Family/backend/params. The Startup family gets its own
section (distribution per backend on a log axis with the KVM boot target as a
reference line, medians with 95% bootstrap intervals, the phases as stacked bars,
teardown times); so do Density (per-instance memory and N-th startup against N,
the density reached under the memory budget), Io (bandwidth and IOPS as ratios to
the host's same job, p99 latency) and Overhead (slowdown against the host). Every
other family gets a table. A conformance verdict file (--conformance, or given
among the inputs: it is recognised) adds the probe x backend matrix and the
mutation table; load_conformance() documents the schema.

Several files are shown side by side and compared with the first one: one column
per host when they come from different hosts (hardware comparison), one per file
when they come from the same host (A/B of a change). Files from one host whose
benchmarks do not overlap (a quick suite and a separate I/O run) are one run.

Statistics come from the C++ core through the isobench_py module, found in
--module-dir, $ISOBENCH_PYMODULE_DIR or <repo>/build*/reports; without it the
report is not made (exit 2). Verdicts between inputs are the regression gate's own
(`isobench compare --json`, through the same module): this file computes none.
Run with Debian's /usr/bin/python3, which has matplotlib.
"""
import argparse
import base64
import datetime
import glob
import html
import importlib
import io
import json
import math
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# What a backend is comes from the results' context, written by the harness from the
# backend's traits: backend.<name>.kind (host, container, vm) and backend.<name>.reference
# (true for yardsticks: the host floor, runc, qemu without libvirt). A file without them
# shows the backend as a product of unknown kind. Order and colour are presentation:
# a backend keeps its place and colour from report to report.
DISPLAY_ORDER = ("container", "vm", "oci", "docker", "host", "runc", "crun", "qemu-raw")
# The VM boot time this project aims for under KVM: QEMU's boot-to-userspace figure in
# Agache et al., "Firecracker: Lightweight Virtualization for Serverless Applications",
# NSDI'20. Drawn as a reference line on the startup plot; TCG is far slower.
VM_BOOT_TARGET_S = 0.250
BACKEND_COLORS = {"container": "#1f77b4", "vm": "#ff7f0e", "oci": "#2ca02c",
                  "docker": "#9467bd", "host": "#7f7f7f", "runc": "#8c564b",
                  "crun": "#bcbd22", "qemu-raw": "#d62728"}
EXTRA_COLORS = ["#17becf", "#e377c2", "#393b79", "#637939", "#8c6d31"]
SERIES_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]

# Context keys first in the environment table, in this order; the rest follow
# sorted. Arrays and objects (caches, load_avg) are left out.
ENV_ORDER = ("host_name", "env.hostname", "env.cpu_model", "num_cpus", "mhz_per_cpu",
             "env.memory_total_bytes", "env.kernel", "env.cgroup_mode", "vm.accelerator",
             "vm.nested", "env.hypervisor", "env.libvirt_version", "env.qemu_version",
             "env.ksm", "env.thp", "env.cpu_governor", "env.git_revision", "date", "executable",
             "library_build_type", "cpu_scaling_enabled")


# --------------------------------------------------------------------------- stats


class ModuleError(Exception):
    """The isobench_py module (the C++ statistics) cannot be imported."""


def load_stats_module(module_dir):
    """The isobench_py module. There is no fallback: the report shows the gate's own
    verdicts and the C++ statistics, or nothing (ModuleError names where it looked)."""
    if module_dir:
        dirs = [module_dir]
    elif os.environ.get("ISOBENCH_PYMODULE_DIR"):
        dirs = [os.environ["ISOBENCH_PYMODULE_DIR"]]
    else:
        dirs = sorted(glob.glob(os.path.join(REPO, "build*", "reports")))
    saved = list(sys.path)
    sys.path[:0] = dirs
    try:
        return importlib.import_module("isobench_py")
    except ImportError as e:
        where = ", ".join(dirs) if dirs else "no build directory found"
        raise ModuleError(
            "cannot import the isobench_py module (searched: %s): %s. It is required: build it "
            "with `cmake --build build --target isobench_py` (needs pybind11 and python3-dev for "
            "/usr/bin/python3), or point --module-dir / ISOBENCH_PYMODULE_DIR at it"
            % (where, e)) from e
    finally:
        sys.path[:] = saved


# ----------------------------------------------------------------------- formatting


def fmt_time(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "–"
    mag = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if mag >= scale or unit == "ns":
            return _fmt_sig(seconds / scale) + " " + unit
    return str(seconds)


def _fmt_sig(value):
    """Three significant figures without scientific notation."""
    mag = abs(value)
    if mag >= 100:
        return "%.0f" % value
    if mag >= 10:
        return "%.1f" % value
    if mag >= 1:
        return "%.2f" % value
    return "%.3g" % value


def fmt_number(value, name=""):
    if value is None or not math.isfinite(value):
        return "–"
    if name.endswith("_s"):
        return fmt_time(value)
    if abs(value) >= 1e6 or (value != 0 and abs(value) < 1e-3):
        return "%.3g" % value
    if float(value).is_integer():
        return "{:,}".format(int(value)).replace(",", "\u2009")
    return _fmt_sig(value)


def fmt_interval(low, high, name="_s"):
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return "%s – %s" % (fmt_number(low, name), fmt_number(high, name))


def fmt_change(change):
    if change is None or not math.isfinite(change):
        return "–"
    return "%+.1f%%" % (change * 100)


def fmt_bytes(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return "%s (%.1f GiB)" % (text, value / 2 ** 30)


def esc(text):
    return html.escape(str(text), quote=True)


# --------------------------------------------------------------------------- model


class Series:
    """One input file."""

    def __init__(self, path, results, index):
        self.path = path
        self.index = index
        self.results = results
        self.context = results["context"]
        self.host = (self.context.get("env.hostname") or self.context.get("host_name")
                     or "unknown host")
        self.accelerator = self.context.get("vm.accelerator", "")
        # KVM inside a guest (ci/nested_kvm.sh) is its own environment, never KVM on
        # hardware: "kvm nested in tcg" wherever the accelerator is named.
        nested = self.context.get("vm.nested", "none")
        if self.accelerator and nested not in ("", "none", "unknown"):
            self.accelerator = "%s nested in %s" % (self.accelerator, nested)
        self.label = self.host

    def kind(self, backend):
        """host, container, vm; "" when the file does not say."""
        return self.context.get("backend.%s.kind" % backend, "")

    def is_reference(self, backend):
        return self.context.get("backend.%s.reference" % backend) == "true"

    def backend_label(self, backend):
        if self.kind(backend) == "vm" and self.accelerator:
            return "%s (%s)" % (backend, self.accelerator)
        return backend


class Cell:
    """The samples of one benchmark (family, params, backend) in one series."""

    def __init__(self, series, run, name):
        self.series = series
        self.run = run
        self.family = name["family"]
        self.backend = name["backend"]
        self.params = name["params"]
        self.case = name["case_key"]
        self.samples = list(run["real_time_s"])
        self.cpu = list(run["cpu_time_s"])
        self.counters = run["counters"]
        self.errors = run["errors"]


def joint_backend_label(backend, series, newline=False):
    """'vm (tcg)' when every series agrees, else 'vm (tcg / kvm)' in series order."""
    labels = list(dict.fromkeys(s.backend_label(backend) for s in series))
    if len(labels) <= 1:
        return labels[0] if labels else backend
    return "%s%s(%s)" % (backend, "\n" if newline else " ",
                         " / ".join(s.accelerator or "?" for s in series))


def backend_order(report, backends):
    """Products (known ones first), then references."""
    def key(b):
        known = DISPLAY_ORDER.index(b) if b in DISPLAY_ORDER else len(DISPLAY_ORDER)
        if report.is_reference(b):
            return (2, known, b)
        return (0 if b in DISPLAY_ORDER else 1, known, b)
    return sorted(set(backends), key=key)


def backend_color(backend, backends):
    if backend in BACKEND_COLORS:
        return BACKEND_COLORS[backend]
    others = [b for b in backends if b not in BACKEND_COLORS]
    return EXTRA_COLORS[others.index(backend) % len(EXTRA_COLORS)]


class Report:
    def __init__(self, stats, series, thresholds="", alpha=None):
        self.stats = stats
        self.series = series
        self.thresholds = thresholds
        self.alpha = alpha
        self.cells = []
        self.warnings = []
        self.images = []  # (filename, png bytes)
        self.summary_extra = []  # Markdown lines after the table
        self._label_series()
        for s in series:
            for run_name, run in s.results["runs"].items():
                name = run["name"] or {"family": "Other", "backend": "–", "params": run_name,
                                       "case_key": "Other/" + run_name}
                cell = Cell(s, run, name)
                self.cells.append(cell)
                if cell.errors:
                    self.warnings.append(
                        "%s [%s]: %d of %d repetitions failed: %s" % (
                            run_name, s.label, len(cell.errors),
                            len(cell.errors) + len(cell.samples),
                            "; ".join(sorted(set(cell.errors)))))
        self._ci_cache = {}
        self.verdicts = {}

    def series_title(self, s):
        return ("host " if self.multi_host else "input ") + s.label

    def is_reference(self, backend):
        """A yardstick row in any input."""
        return any(s.is_reference(backend) for s in self.series)

    def is_vm(self, backend):
        return any(s.kind(backend) == "vm" for s in self.series)

    def _label_series(self):
        hosts = [s.host for s in self.series]
        self.multi_host = len(set(hosts)) > 1
        if len(self.series) > 1 and not self.multi_host:
            # The same host several times: an A/B of a change; name the files.
            names = [os.path.splitext(os.path.basename(s.path))[0] for s in self.series]
            for i, s in enumerate(self.series):
                s.label = names[i] if names.count(names[i]) == 1 else "%s #%d" % (names[i], i + 1)

    # ----------------------------------------------------------------- statistics

    def median_ci(self, samples):
        # Google Benchmark writes NaN for a counter it could not compute; such a
        # repetition says nothing about the median.
        samples = [v for v in samples if math.isfinite(v)]
        key = tuple(samples)
        if key not in self._ci_cache:
            if not samples:
                self._ci_cache[key] = (math.nan, math.nan, math.nan)
            else:
                lo, hi = self.stats.bootstrap_ci(samples)
                self._ci_cache[key] = (self.stats.median(samples), lo, hi)
        return self._ci_cache[key]

    def compute_verdicts(self):
        """The gate's verdict of every later series against the first: the dict
        `isobench compare --json` prints, computed by the same C++ (compare_results).
        Inputs from different hosts are a host comparison (cross_host)."""
        self.verdicts = {}
        for s in self.series[1:]:
            self.verdicts[s.index] = self.stats.compare_results(
                self.series[0].results, s.results, thresholds=self.thresholds,
                alpha=self.alpha, cross_host=self.multi_host)
            v = self.verdicts[s.index]
            if v["environment"]["differences"]:
                self.warnings.append("%s against %s: %s: %s" % (
                    s.label, self.series[0].label,
                    "host comparison" if self.multi_host else "refused, no verdicts",
                    "; ".join("%s %s vs %s" % (d["key"], d["base"], d["new"])
                              for d in v["environment"]["differences"])))

    def verdict(self, cell, metric="time"):
        """The gate's row for this cell (a later series) against the first, or None."""
        if cell is None or cell.series.index == 0:
            return None
        v = getattr(self, "verdicts", {}).get(cell.series.index)
        if not v:
            return None
        key = cell.run["run_name"] + ":" + metric
        for row in v["rows"]:
            if row["key"] == key:
                return row
        return None

    # ------------------------------------------------------------------- figures

    def add_figure(self, fig, name):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        self.images.append((name + ".png", buf.getvalue()))
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return '<img class="plot" alt="%s" src="data:image/png;base64,%s">' % (esc(name), data)


# -------------------------------------------------------------------------- plots

# Imported in main(), after choosing the Agg backend, so that a bad input fails
# fast and no display is ever needed.
plt = None  # matplotlib.pyplot
FuncFormatter = None  # matplotlib.ticker.FuncFormatter


def _ms_formatter():
    def fmt(value, _pos):
        if value >= 1:
            return "{:,.0f}".format(value).replace(",", "\u2009")
        return "%g" % value
    return FuncFormatter(fmt)


def plot_distribution(report, cells, backends, title):
    """Start times per backend: box + points on a log axis in ms (left), and each
    backend's spread around its own median in % (right), which the log axis hides
    when containers take milliseconds and VMs seconds."""
    series = report.series
    nser = len(series)
    fig, (ax, spread) = plt.subplots(
        1, 2, figsize=(13, 5.4), layout="constrained",
        gridspec_kw={"width_ratios": [3, 2]})
    rng = random.Random(0)
    box_w = 0.55 if nser == 1 else 0.75 / nser
    for bi, backend in enumerate(backends):
        for si, s in enumerate(series):
            cell = cells.get((backend, si))
            if cell is None or not cell.samples:
                continue
            x = bi + (si - (nser - 1) / 2) * box_w * 1.1
            ms = [v * 1e3 for v in cell.samples if math.isfinite(v)]
            med = report.median_ci(cell.samples)[0]
            if not ms:
                continue
            rel = [(v / (med * 1e3) - 1) * 100 for v in ms] if med > 0 else []
            color = (backend_color(backend, backends) if nser == 1
                     else SERIES_COLORS[si % len(SERIES_COLORS)])
            hatch = "//" if report.is_reference(backend) else None
            jitter = [x + rng.uniform(-0.28, 0.28) * box_w for _ in ms]
            legend = s.label if nser > 1 and bi == _first_with(cells, backends, si) else None
            for axis, values in ((ax, ms), (spread, rel)):
                if not values:
                    continue
                bp = axis.boxplot([values], positions=[x], widths=box_w, whis=(0, 100),
                                  patch_artist=True, showfliers=False, manage_ticks=False,
                                  medianprops={"color": "black", "linewidth": 1.6})
                for patch in bp["boxes"]:
                    patch.set_facecolor(color)
                    patch.set_alpha(0.35)
                    patch.set_hatch(hatch)
                axis.scatter(jitter, values, s=16, color=color, edgecolors="black",
                             linewidths=0.4, zorder=3, label=legend if axis is ax else None)
            ax.annotate(fmt_time(med), (x, max(ms)), xytext=(0, 6), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8.5,
                        rotation=0 if nser == 1 else 90)
    ticks = []
    for b in backends:
        text = joint_backend_label(b, [s for s in series if (b, s.index) in cells],
                                   newline=True)
        if report.is_reference(b):
            text += "\nreference"
        ticks.append(text)
    for axis in (ax, spread):
        axis.set_xticks(range(len(backends)))
        axis.set_xticklabels(ticks, fontsize=9)
        axis.set_xlim(-0.6, len(backends) - 0.4)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_ms_formatter())
    ax.set_ylabel("create request → ready (ms, log scale)")
    lo, hi = ax.get_ylim()
    if any(report.is_vm(b) for b in backends):
        target_ms = VM_BOOT_TARGET_S * 1e3
        lo, hi = min(lo, target_ms / 2), max(hi, target_ms * 2)
        # Labelled on the line, not in the legend, which would hide the top boxes.
        ax.axhline(target_ms, color="#d62728", linestyle="--", linewidth=1.2, zorder=1)
        ax.annotate("KVM design target: ≤ %g ms to ready (QEMU, Firecracker NSDI'20)"
                    % target_ms, (0, target_ms), xycoords=("axes fraction", "data"),
                    xytext=(4, 3), textcoords="offset points", fontsize=8, color="#d62728",
                    va="bottom", ha="left")
    ax.set_ylim(lo / 1.5, hi * (3 if nser == 1 else 12))  # room for the median labels
    ax.grid(axis="y", which="major", alpha=0.4)
    ax.grid(axis="y", which="minor", alpha=0.12)
    ax.set_title(title, fontsize=11)
    if nser > 1:
        ax.legend(loc="upper left", fontsize=9, title="host" if report.multi_host else "input")
    spread.axhline(0, color="black", linewidth=0.8)
    spread.set_ylabel("deviation from the backend's median (%)")
    spread.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%+g%%" % v if v else "0"))
    spread.grid(axis="y", alpha=0.35)
    spread.set_title("spread around each median", fontsize=11)
    return fig


def _first_with(cells, backends, si):
    for bi, b in enumerate(backends):
        if (b, si) in cells and cells[(b, si)].samples:
            return bi
    return -1


def phase_durations(cell):
    """[(phase, median duration s)], ordered by when each phase ends."""
    ends = {k[len("phase_"):-len("_s")]: v for k, v in cell.counters.items()
            if k.startswith("phase_") and k.endswith("_s") and len(v) == len(cell.samples)}
    if not ends:
        return []
    order = sorted(ends, key=lambda p: median_of(ends[p]))
    per_phase = {p: [] for p in order}
    other = []
    for i, total in enumerate(cell.samples):
        if not all(math.isfinite(ends[p][i]) for p in order):
            continue  # a repetition that could not time every phase
        prev = 0.0
        for p in order:
            per_phase[p].append(max(ends[p][i] - prev, 0.0))
            prev = max(prev, ends[p][i])
        other.append(max(total - prev, 0.0))
    if not other:
        return []
    out = [(p, median_of(per_phase[p])) for p in order]
    rest = median_of(other)
    if rest > 0.005 * median_of(cell.samples):
        out.append(("(after last phase)", rest))
    return out


def median_of(values):
    """Median of the finite values (plain Python: used for display only)."""
    s = sorted(v for v in values if math.isfinite(v))
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def plot_phases(report, cells, backends):
    rows = []  # (backend, [(series, phases)])
    for b in backends:
        bars = [(s, phase_durations(cells[(b, s.index)])) for s in report.series
                if (b, s.index) in cells]
        bars = [(s, ph) for s, ph in bars if ph]
        if bars:
            rows.append((b, bars))
    if not rows:
        return None
    heights = [0.9 + 0.5 * len(bars) for _, bars in rows]
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, layout="constrained",
                             squeeze=False)
    cmap = plt.get_cmap("tab20")
    for ax, (backend, bars) in zip(axes[:, 0], rows):
        longest = max(sum(d for _, d in ph) for _, ph in bars)
        scale, unit = (1.0, "s") if longest >= 1 else (1e3, "ms")
        names = []
        for _, ph in bars:
            for p, _ in ph:
                if p not in names:
                    names.append(p)
        colors = {p: cmap(i * 2 % 20) for i, p in enumerate(names)}
        for y, (s, ph) in enumerate(bars):
            left = 0.0
            for p, d in ph:
                w = d * scale
                ax.barh(y, w, left=left, color=colors[p], edgecolor="white", height=0.6,
                        label=p if y == 0 else None)
                if w > 0.1 * longest * scale:
                    ax.text(left + w / 2, y, "%s\n%s" % (p, fmt_time(d)), ha="center",
                            va="center", fontsize=8)
                left += w
            ax.text(left, y, "  " + fmt_time(sum(d for _, d in ph)), va="center", fontsize=8.5)
        ax.set_yticks(range(len(bars)))
        ax.set_yticklabels([s.label if len(report.series) > 1 else "" for s, _ in bars])
        ax.invert_yaxis()
        ax.set_xlim(0, longest * scale * 1.12)
        ax.set_xlabel(unit)
        ax.set_title("%s — median duration of each phase"
                     % joint_backend_label(backend, [s for s, _ in bars]), loc="left",
                     fontsize=10)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)  # grid lines behind the bars
    return fig


def plot_destroy(report, cells, backends):
    """Median destroy time with its 95% CI per backend, as points on a log axis."""
    rows = []
    for b in backends:
        for s in report.series:
            cell = cells.get((b, s.index))
            if cell and cell.counters.get("destroy_s"):
                med, lo, hi = report.median_ci(cell.counters["destroy_s"])
                if not (math.isfinite(lo) and lo > 0):
                    continue  # not drawable on a log axis; the table still has it
                label = s.backend_label(b) + ("" if len(report.series) == 1 else
                                              " — " + s.label)
                rows.append((label, med, lo, hi, b, s.index))
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(rows) + 1.2), layout="constrained")
    for y, (label, med, lo, hi, b, si) in enumerate(rows):
        color = (backend_color(b, backends) if len(report.series) == 1
                 else SERIES_COLORS[si % len(SERIES_COLORS)])
        ax.errorbar(med * 1e3, y, xerr=[[(med - lo) * 1e3], [(hi - med) * 1e3]], fmt="o",
                    color=color, ecolor="black", markersize=7, capsize=4, linewidth=1)
        ax.annotate(fmt_time(med), (hi * 1e3, y), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize=8.5)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_ms_formatter())
    low = min(r[2] for r in rows) * 1e3
    high = max(r[3] for r in rows) * 1e3
    ax.set_xlim(low / 2.5, high * 6)  # room for the value labels
    ax.set_xlabel("destroy time: median and 95% CI (ms, log scale)")
    ax.grid(axis="x", which="major", alpha=0.35)
    return fig


# ------------------------------------------------------------------------- sections


def table(headers, rows, classes=None, numeric_from=1, groups=None):
    """rows: lists of cell HTML (already escaped); groups: [(header HTML, colspan)]
    for a first header row spanning the columns below it."""
    out = ['<div class="scroll"><table><thead>']
    if groups:
        out.append("<tr>")
        out += ['<th colspan="%d" class="group">%s</th>' % (span, h) for h, span in groups]
        out.append("</tr>")
    out.append("<tr>")
    out += ["<th>%s</th>" % h for h in headers]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = (classes or {}).get(i)
        out.append("<tr%s>" % (' class="%s"' % cls if cls else ""))
        for j, cell in enumerate(row):
            out.append('<td%s>%s</td>' % (' class="num"' if j >= numeric_from else "", cell))
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def verdict_text(row):
    """The gate's word for a row: 'regressed', 'same', 'cannot judge: <why>',
    'report-only: <why>', ... (never recomputed here)."""
    text = row["status"]
    why = row["reason"] or (row["role_reason"] if row["role"] != "gated" else "")
    return "%s: %s" % (text, why) if why else text


def comparison_cell(row):
    """A cell for the gate's row (None: nothing to compare)."""
    if row is None:
        return "–"
    interval = ""
    if row["ci_low"] is not None and row["ci_high"] is not None and row["ci_confidence"]:
        interval = "%.4g%% CI %s … %s, " % (100 * row["ci_confidence"], fmt_change(row["ci_low"]),
                                            fmt_change(row["ci_high"]))
    p = "p=%.2g" % row["p_value"] if row["p_value"] is not None else ""
    return '<span class="v-%s">%s<br><small>%s%s<br>%s</small></span>' % (
        esc(row["status"].replace(" ", "-")), fmt_change(row["estimate"]), esc(interval), esc(p),
        esc(verdict_text(row)))


def section_environment(report):
    keys = set()
    for s in report.series:
        keys.update(k for k, v in s.context.items() if not v.startswith(("[", "{")))
    ordered = [k for k in ENV_ORDER if k in keys] + sorted(keys - set(ENV_ORDER))
    rows, classes = [], {}
    for i, k in enumerate(ordered):
        values = [s.context.get(k, "–") for s in report.series]
        shown = [fmt_bytes(v) if k.endswith("_bytes") else v for v in values]
        rows.append(["<code>%s</code>" % esc(k)] + [esc(v) for v in shown])
        if len(set(values)) > 1:
            classes[i] = "differs"
    headers = ["key"] + [esc(s.label) for s in report.series]
    note = ('<p class="note">Rows that differ between the inputs are highlighted.</p>'
            if len(report.series) > 1 else "")
    return ('<section><h2 id="environment">Environment</h2>%s%s</section>'
            % (note, table(headers, rows, classes, numeric_from=99)))


def section_startup(report):
    cells_all = [c for c in report.cells if c.family == "Startup"]
    if not cells_all:
        return "", []
    out = ['<section><h2 id="startup">Startup</h2>',
           '<p class="note">Time from the create request to the agent\'s ready line, measured '
           'on the host. Median with a 95% percentile-bootstrap interval; rows marked '
           '<em>reference</em> are yardsticks outside the harness backends.</p>']
    summary = []
    if any(c.series.kind(c.backend) == "vm" and c.samples for c in cells_all):
        out.append('<p class="note">The dashed red line on the distribution is the design '
                   'target for a VM under KVM: <b>≤ %g ms</b> from create to ready, QEMU\'s '
                   'boot time in the Firecracker paper (Agache et al., NSDI\'20). VMs run '
                   'under %s here.</p>' % (VM_BOOT_TARGET_S * 1e3, esc(" / ".join(
                       sorted({s.accelerator or "an unknown accelerator"
                               for s in report.series})))))
    cases = sorted({c.params for c in cells_all})
    for case in cases:
        cells = {(c.backend, c.series.index): c for c in cells_all if c.params == case}
        backends = backend_order(report, (b for b, _ in cells))
        slug = "startup-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", case or "all")
        if len(cases) > 1:
            out.append("<h3>%s</h3>" % esc(case or "(no params)"))
        if any(c.samples for c in cells.values()):
            fig = plot_distribution(report, cells, backends,
                                    "Startup%s — distribution per backend"
                                    % (" " + case if case else ""))
            out.append(report.add_figure(fig, slug + "-distribution"))
        out.append(startup_table(report, cells, backends))
        summary += [("Startup/" + case if case else "Startup", b, [
            cells.get((b, s.index)) for s in report.series]) for b in backends]

        fig = plot_phases(report, cells, backends)
        if fig is not None:
            out.append("<h3>Phases%s</h3>" % (" — " + esc(case) if len(cases) > 1 else ""))
            out.append('<p class="note">Each phase counter <code>phase_&lt;name&gt;_s</code> is '
                       'the time at which that phase ended; a bar segment is the median of the '
                       'per-repetition durations between consecutive phase ends.</p>')
            out.append(report.add_figure(fig, slug + "-phases"))
            out.append(phase_table(report, cells, backends))

        fig = plot_destroy(report, cells, backends)
        if fig is not None:
            out.append("<h3>Teardown%s</h3>" % (" — " + esc(case) if len(cases) > 1 else ""))
            out.append(destroy_table(report, cells, backends))
            out.append(report.add_figure(fig, slug + "-destroy"))
    out.append("</section>")
    return "".join(out), summary


def startup_table(report, cells, backends):
    single = len(report.series) == 1
    base_backend = "container" if any(b == "container" for b, _ in cells) else None
    headers = ["backend"]
    groups = [("", 1)]
    for i, s in enumerate(report.series):
        headers += ["n", "median", "95% CI", "min – max"]
        if single:
            headers += ["CPU time (median)"]
            if base_backend:
                headers += ["× container"]
        elif i > 0:
            headers += ["vs " + esc(report.series[0].label)]
        groups.append((esc(report.series_title(s)), 4 + (i > 0)))
    rows, classes = [], {}
    for r, b in enumerate(backends):
        name = esc(joint_backend_label(b, [s for s in report.series if (b, s.index) in cells]))
        if report.is_reference(b):
            name += ' <span class="tag">reference</span>'
            classes[r] = "reference"
        row = [name]
        base_cell = cells.get((b, 0))
        for i, s in enumerate(report.series):
            cell = cells.get((b, s.index))
            if cell is None or not cell.samples:
                n_failed = len(cell.errors) if cell else 0
                row += ["0" if cell else "–",
                        "failed (%d)" % n_failed if n_failed else "–", "–", "–"]
                if single:
                    row += ["–"] + (["–"] if base_backend else [])
                elif i > 0:
                    row += ["–"]
                continue
            med, lo, hi = report.median_ci(cell.samples)
            row += [str(len(cell.samples)), "<b>%s</b>" % fmt_time(med), fmt_interval(lo, hi),
                    fmt_interval(min(cell.samples), max(cell.samples))]
            if single:
                row.append(fmt_time(median_of(cell.cpu)) if cell.cpu else "–")
                if base_backend:
                    base = cells.get((base_backend, s.index))
                    if base and base.samples:
                        ratio = med / report.median_ci(base.samples)[0]
                        row.append("%s×" % _fmt_sig(ratio))
                    else:
                        row.append("–")
            elif i > 0:
                row.append(comparison_cell(report.verdict(cell)))
        rows.append(row)
    return table(headers, rows, classes, groups=None if single else groups)


def phase_table(report, cells, backends):
    rows = []
    for b in backends:
        for s in report.series:
            cell = cells.get((b, s.index))
            if not cell:
                continue
            ph = phase_durations(cell)
            if not ph:
                continue
            label = s.backend_label(b) + ("" if len(report.series) == 1 else " — " + s.label)
            total = sum(d for _, d in ph)
            rows.append([esc(label), " → ".join(
                "%s <b>%s</b> <small>(%.0f%%)</small>" % (esc(p), fmt_time(d), 100 * d / total)
                for p, d in ph)])
    return table(["backend", "phases in order: median duration (share)"], rows, numeric_from=99)


def destroy_table(report, cells, backends):
    rows, classes = [], {}
    for b in backends:
        for s in report.series:
            cell = cells.get((b, s.index))
            values = cell.counters.get("destroy_s") if cell else None
            if not values:
                continue
            med, lo, hi = report.median_ci(values)
            label = s.backend_label(b) + ("" if len(report.series) == 1 else " — " + s.label)
            if report.is_reference(b):
                classes[len(rows)] = "reference"
            rows.append([esc(label), str(len(values)), "<b>%s</b>" % fmt_time(med),
                         fmt_interval(lo, hi)])
    return table(["backend", "n", "destroy (median)", "95% CI"], rows, classes)


def family_table(report, family):
    """The table of every case of one family with all its counters (HTML), and the
    summary rows for summary.md."""
    cells = [c for c in report.cells if c.family == family]
    counters = sorted({k for c in cells for k in c.counters})
    cases = sorted({c.params for c in cells})
    backends = backend_order(report, (c.backend for c in cells))
    multi = len(report.series) > 1
    headers = (["case", "backend"] + (["series"] if multi else []) +
               ["n", "time (median)", "95% CI"] +
               (["vs " + esc(report.series[0].label)] if multi else []) +
               ["<code>%s</code>" % esc(k) for k in counters])
    rows, classes, summary = [], {}, []
    for case in cases:
        for b in backends:
            base = next((c for c in cells if c.params == case and c.backend == b
                         and c.series.index == 0), None)
            for s in report.series:
                cell = next((c for c in cells if c.params == case and c.backend == b
                             and c.series is s), None)
                if cell is None:
                    continue
                med, lo, hi = report.median_ci(cell.samples)
                if report.is_reference(b):
                    classes[len(rows)] = "reference"
                row = [esc(case or "–"), esc(s.backend_label(b))]
                if multi:
                    row.append(esc(s.label))
                row += [str(len(cell.samples)), "<b>%s</b>" % fmt_time(med),
                        fmt_interval(lo, hi)]
                if multi:
                    row.append("" if s.index == 0 else comparison_cell(report.verdict(cell)))
                row += [fmt_number(median_of(cell.counters[k]), k)
                        if cell.counters.get(k) else "–" for k in counters]
                rows.append(row)
            found = [next((c for c in cells if c.params == case and c.backend == b
                           and c.series is s), None) for s in report.series]
            if any(found):
                summary.append((family + ("/" + case if case else ""), b, found))
    return table(headers, rows, classes, numeric_from=3 if multi else 2), summary


def section_generic(report, families):
    out, summary = [], []
    for family in families:
        html_, rows = family_table(report, family)
        summary += rows
        out.append('<section><h2 id="%s">%s</h2>' % (esc(family.lower()), esc(family)))
        out.append('<p class="note">Medians of the repetitions; counters are shown as '
                   'written, the unit is in their name.</p>')
        out.append(html_)
        out.append("</section>")
    return "".join(out), summary


# ------------------------------------------------------------------------ density

MIB = float(2 ** 20)
_N_PARAM = re.compile(r"(?:^|/)n:(\d+)(?:/|$)")
_BUDGET_AT = re.compile(r"budget reached at n=(\d+)")


def density_n(cell):
    """The instance count of a Density cell: the `n` counter, else n:<N> in the name."""
    if cell.counters.get("n"):
        value = median_of(cell.counters["n"])
        if math.isfinite(value):
            return int(value)
    m = _N_PARAM.search(cell.params)
    return int(m.group(1)) if m else None


def density_cells(report):
    """{(backend, series index): [(N, cell)] sorted by N} for the Density rows in the
    n:<N> form; None when the family uses another schema (then the generic table)."""
    out = {}
    for c in report.cells:
        if c.family != "Density":
            continue
        n = density_n(c)
        if n is None:
            continue
        out.setdefault((c.backend, c.series.index), []).append((n, c))
    if not any(c.counters.get("pss_per_instance_bytes") or c.errors
               for rows in out.values() for _, c in rows):
        return None
    for rows in out.values():
        rows.sort(key=lambda r: r[0])
    return out


def density_reached(rows):
    """(highest N measured with every instance answering, stop reason text, budget hit)."""
    reached, reason, budget = 0, "", False
    for n, cell in rows:
        if cell.samples:
            answering = median_of(cell.counters.get("answering_fraction", [1.0]))
            if math.isfinite(answering) and answering < 1:
                reason = "at n=%d only %.0f%% of the instances answered" % (n, answering * 100)
                break
            reached = max(reached, n)
            if median_of(cell.counters.get("budget_reached", [0])) >= 1:
                budget = True
                reason = "memory budget reached at n=%d" % n
                break
        elif cell.errors:
            m = _BUDGET_AT.search(cell.errors[0])
            budget = m is not None
            reason = cell.errors[0] if not m else "memory budget reached at n=%s" % m.group(1)
            break
    if not reason:
        reason = "the ramp ended before the budget" if reached else "no step succeeded"
    return reached, reason, budget


def _density_label(report, backend, si):
    s = report.series[si]
    label = s.backend_label(backend)
    return label if len(report.series) == 1 else "%s — %s" % (label, s.label)


def _density_color(report, backend, backends, si):
    if len(report.series) == 1:
        return backend_color(backend, backends)
    return SERIES_COLORS[(backends.index(backend) * len(report.series) + si)
                         % len(SERIES_COLORS)]


def plot_density(report, groups):
    """Per-instance memory (PSS solid, MemAvailable delta dashed) and the N-th
    instance's startup latency against N, one line per backend."""
    backends = backend_order(report, (b for b, _ in groups))
    fig, (mem, lat) = plt.subplots(1, 2, figsize=(13, 5.2), layout="constrained")
    all_n, dropped, drawn = set(), 0, 0
    for (b, si), rows in sorted(groups.items(), key=lambda kv: (backends.index(kv[0][0]),
                                                                kv[0][1])):
        ok = [(n, c) for n, c in rows if c.samples]
        if not ok:
            continue
        color = _density_color(report, b, backends, si)
        label = _density_label(report, b, si)
        style = {"color": color, "marker": "o", "markersize": 5}
        if report.is_reference(b):
            style["alpha"] = 0.6
        for key, ls, what in (("pss_per_instance_bytes", "-", "PSS"),
                              ("mem_available_delta_per_instance_bytes", "--",
                               "MemAvailable Δ / N")):
            style["marker"] = "o" if ls == "-" else "s"
            style["fillstyle"] = "full" if ls == "-" else "none"
            pts = [(n, median_of(c.counters.get(key, [math.nan])) / MIB) for n, c in ok]
            good = [(n, v) for n, v in pts if math.isfinite(v) and v > 0]
            dropped += len(pts) - len(good)
            if good:
                drawn += 1
                mem.plot([n for n, _ in good], [v for _, v in good], linestyle=ls,
                         label="%s, %s" % (label, what), **style)
        style["marker"], style["fillstyle"] = "o", "full"
        pts = [(n, median_of(c.samples) * 1e3) for n, c in ok]
        pts = [(n, v) for n, v in pts if math.isfinite(v) and v > 0]
        if pts:
            drawn += 1
            lat.plot([n for n, _ in pts], [v for _, v in pts], label=label, **style)
        all_n.update(n for n, _ in ok)
    for ax in (mem, lat):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%g" % v))
        if all_n:
            ax.set_xticks(sorted(all_n))
            ax.set_xlim(min(all_n) / 1.3, max(all_n) * 1.3)
        ax.set_yscale("log")
        ax.set_xlabel("N = instances running")
        ax.grid(which="major", alpha=0.35)
        ax.grid(axis="y", which="minor", alpha=0.1)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8.5, loc="best")
    mem.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%g" % v))
    mem.set_ylabel("memory per instance (MiB, log scale)")
    mem.set_title("Per-instance memory vs N (solid: PSS, dashed: MemAvailable Δ / N)"
                  + ("\n%d zero or missing value(s) not drawn" % dropped if dropped else ""),
                  fontsize=10.5)
    lat.yaxis.set_major_formatter(_ms_formatter())
    lat.set_ylabel("create request → ready of the N-th instance (ms, log scale)")
    lat.set_title("Startup latency of the N-th instance vs N", fontsize=10.5)
    if not drawn:
        plt.close(fig)
        return None  # nothing positive to put on a log axis; the table says it all
    return fig


def section_density(report):
    groups = density_cells(report)
    if not groups:
        return "", []
    backends = backend_order(report, (b for b, _ in groups))
    keys = sorted(groups, key=lambda k: (backends.index(k[0]), k[1]))
    out = ['<section><h2 id="density">Density</h2>',
           '<p class="note">Instances are added one by one up to each N and kept running; '
           'every step reports per-instance memory (PSS of everything the instance brought, '
           'from smaps_rollup; the host\'s MemAvailable drop divided by N; guest RAM for VMs) '
           'and the create → ready time of the N-th instance. The ramp stops at the memory '
           'budget. One sample per step: no intervals.</p>']
    fig = (plot_density(report, groups)
           if any(c.samples for rows in groups.values() for _, c in rows) else None)
    if fig is not None:
        out.append(report.add_figure(fig, "density"))
    budget_mib = next((s.context.get("density.memory_budget_mib") for s in report.series
                       if s.context.get("density.memory_budget_mib")), None)
    out.append("<h3>Density reached under the budget</h3>")
    if budget_mib:
        out.append('<p class="note">Memory budget: %s MiB of MemAvailable.</p>'
                   % esc(budget_mib))
    rows, classes = [], {}
    for b, si in keys:
        reached, reason, budget = density_reached(groups[(b, si)])
        last = next((c for n, c in reversed(groups[(b, si)]) if n == reached and c.samples),
                    None)

        def mib(key, cell=last):
            v = median_of(cell.counters.get(key, [math.nan])) / MIB if cell else math.nan
            return "%s MiB" % _fmt_sig(v) if math.isfinite(v) else "–"
        if report.is_reference(b):
            classes[len(rows)] = "reference"
        rows.append([esc(_density_label(report, b, si)),
                     "<b>%d</b>" % reached if reached else "0",
                     ('<span class="v-regressed">%s</span>' if budget else "%s") % esc(reason),
                     mib("pss_per_instance_bytes"),
                     mib("mem_available_delta_per_instance_bytes"),
                     mib("guest_memory_per_instance_bytes"),
                     mib("harness_pss_delta_per_instance_bytes"),
                     fmt_time(median_of(last.samples)) if last else "–"])
    out.append(table(["backend", "instances reached", "why the ramp stopped",
                      "PSS / instance at that N", "MemAvailable Δ / instance",
                      "guest RAM / instance", "harness PSS Δ / instance", "N-th startup"],
                     rows, classes, numeric_from=3))
    out.append('<p class="note">Harness PSS Δ: what the benchmark process itself holds per '
               'live instance. The native runtime keeps no process per instance, so for '
               '<code>container</code> this and the instance\'s own PSS are all it costs; '
               'runc and Docker keep their share in shims and daemons, outside it.</p>')
    html_, summary = family_table(report, "Density")
    out.append("<details><summary>every step with all counters</summary>%s</details>" % html_)
    out.append("</section>")
    return "".join(out), summary


# ---------------------------------------------------------------------------- I/O

_IO_PARAMS = re.compile(r"^(?P<target>[A-Za-z0-9_.-]+):(?P<rw>[a-z]+):(?P<bs>\d+[kKmMgG]?):"
                        r"qd(?P<qd>\d+)$")
_IO_RW_ORDER = ("read", "write", "randread", "randwrite", "rw", "randrw")


def io_jobs(report):
    """[(cell, target, rw, bs, qd)] for Io cells named <target>:<rw>:<bs>:qd<N>."""
    out = []
    for c in report.cells:
        if c.family != "Io":
            continue
        m = _IO_PARAMS.match(c.params)
        if m:
            out.append((c, m.group("target"), m.group("rw"), m.group("bs").upper(),
                        int(m.group("qd"))))
    return out


def _job_key(rw, bs, qd):
    rank = _IO_RW_ORDER.index(rw) if rw in _IO_RW_ORDER else len(_IO_RW_ORDER)
    return (bs, rank, rw, qd)


class Ratio:
    """A median (with 95% CI when there are ≥2 samples) and its ratio to a reference.

    The ratio's interval is the C++ core's (isobench_py.change_interval: the interval
    of the Hodges–Lehmann ratio that inverts the Mann–Whitney test at 5%); a ratio
    whose interval includes 1 is `no_difference` and drawn so."""

    def __init__(self, report, values, ref_values):
        values = [v for v in values if math.isfinite(v)]
        ref_values = [v for v in ref_values if math.isfinite(v)]
        self.n = len(values)
        self.median, self.lo, self.hi = report.median_ci(values) if values else (math.nan,) * 3
        self.has_ci = len(values) > 1
        self.ratio = self.rlo = self.rhi = math.nan
        self.no_difference = False
        if ref_values and values:
            ref = report.median_ci(ref_values)[0]
            if ref > 0:
                self.ratio = self.median / ref
                try:
                    _, low, high = report.stats.change_interval(ref_values, values, 0.05)
                except ValueError:
                    low = high = math.nan
                if math.isfinite(low) and math.isfinite(high):
                    self.rlo, self.rhi = 1 + low, 1 + high
                    self.no_difference = self.rlo <= 1 <= self.rhi
                else:
                    # Too few samples for any 95% interval: the ratio alone, no claim.
                    self.has_ci = False
        if not self.has_ci:
            self.lo = self.hi = math.nan


def _ratio_text(r):
    if not math.isfinite(r.ratio):
        return "–"
    text = "%s×" % _fmt_sig(r.ratio)
    if r.no_difference:
        text = "no difference <small>(%s×)</small>" % _fmt_sig(r.ratio)
    if math.isfinite(r.rlo):
        text += " <small>(95%% CI %s – %s)</small>" % (_fmt_sig(r.rlo), _fmt_sig(r.rhi))
    return text


def _bw_text(value):
    if not math.isfinite(value):
        return "–"
    for unit, scale in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if value >= scale:
            return "%s %s" % (_fmt_sig(value / scale), unit)
    return "%s B/s" % _fmt_sig(value)


def _rate_text(value):
    if not math.isfinite(value):
        return "–"
    if value >= 1e6:
        return "%sM" % _fmt_sig(value / 1e6)
    if value >= 1e4:
        return "%sk" % _fmt_sig(value / 1e3)
    return _fmt_sig(value)


def plot_io(panels):
    """panels: [(title, ylabel, [(job label, {target key: Ratio})], is_ratio,
    [(target key, label, color, hatch)])]; ratios on a log axis around 1×."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(13, 4.1 * len(panels)),
                             layout="constrained", squeeze=False)
    for ax, (title, ylabel, jobs, is_ratio, targets) in zip(axes[:, 0], panels):
        width = 0.8 / max(len(targets), 1)
        for ti, (key, label, color, hatch) in enumerate(targets):
            xs, ys, errs_lo, errs_hi, texts, nodiff = [], [], [], [], [], []
            for ji, (_, values) in enumerate(jobs):
                r = values.get(key)
                v = (r.ratio if is_ratio else r.median) if r else math.nan
                if not (math.isfinite(v) and v > 0):
                    continue
                x = ji + (ti - (len(targets) - 1) / 2) * width
                lo, hi = (r.rlo, r.rhi) if is_ratio else (r.lo, r.hi)
                xs.append(x)
                ys.append(v)
                errs_lo.append(v - lo if math.isfinite(lo) else 0)
                errs_hi.append(hi - v if math.isfinite(hi) else 0)
                nodiff.append(bool(is_ratio and r.no_difference))
                texts.append(("= host" if nodiff[-1] else "%s×" % _fmt_sig(v)) if is_ratio
                             else fmt_time(v))
            if not xs:
                continue
            # A ratio whose interval includes 1 is no difference from the host: drawn
            # faded and labelled "= host", not as a speed-up or a slowdown.
            bars = ax.bar(xs, ys, width=width * 0.92, color=color, hatch=hatch,
                          edgecolor="white", label=label)
            for bar, same in zip(bars, nodiff):
                if same:
                    bar.set_alpha(0.3)
            if any(errs_lo) or any(errs_hi):
                ax.errorbar(xs, ys, yerr=[errs_lo, errs_hi], fmt="none", ecolor="black",
                            capsize=3, linewidth=1)
            for x, y, t in zip(xs, ys, texts):
                ax.annotate(t, (x, y), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_yscale("log")
        if is_ratio:
            ax.axhline(1, color="black", linewidth=1, linestyle="--", label="host = 1×")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%g×" % v))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_time(v)))
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * 4)  # room for the rotated value labels
        ax.set_xticks(range(len(jobs)))
        ax.set_xticklabels([j for j, _ in jobs], fontsize=9)
        ax.set_xlim(-0.6, len(jobs) - 0.4)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10.5, loc="left")
        ax.grid(axis="y", which="major", alpha=0.35)
        ax.set_axisbelow(True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8.5, loc="center left", bbox_to_anchor=(1.01, 0.5),
                      frameon=False)
    return fig


def section_io(report):
    jobs = io_jobs(report)
    if not jobs:
        return "", []
    multi = len(report.series) > 1
    # The host's own run of the same job in the same input is the reference.
    host = {(c.series.index, rw, bs, qd): c for c, _, rw, bs, qd in jobs
            if c.backend == "host" and c.samples}
    target_keys = []
    backends = backend_order(report, (c.backend for c, *_ in jobs))
    for c, target, *_ in sorted(jobs, key=lambda j: (backends.index(j[0].backend), j[1],
                                                     j[0].series.index)):
        key = (c.series.index, c.backend, target)
        if key not in target_keys:
            target_keys.append(key)

    def tlabel(key):
        si, b, target = key
        s = report.series[si]
        return "%s %s%s" % (s.backend_label(b), target, (" — " + s.label) if multi else "")

    job_keys = sorted({(rw, bs, qd) for _, _, rw, bs, qd in jobs},
                      key=lambda j: _job_key(*j))
    by_key = {(c.series.index, c.backend, t, rw, bs, qd): c for c, t, rw, bs, qd in jobs}
    ratios = {}  # (target key, job) -> {metric: Ratio}
    for tk in target_keys:
        for job in job_keys:
            cell = by_key.get(tk + job)
            if cell is None:
                continue
            ref = host.get((tk[0],) + job)
            ratios[(tk, job)] = {
                m: Ratio(report, cell.counters.get(m, []),
                         ref.counters.get(m, []) if ref else [])
                for m in ("bw_bytes_per_s", "iops", "lat_p50_s", "lat_p99_s")}
    palette = plt.get_cmap("tab10")
    targets_all = [(tk, tlabel(tk), palette(i % 10),
                    "//" if report.is_reference(tk[1]) else None)
                   for i, tk in enumerate(target_keys)]
    targets_vs = [t for t in targets_all if t[0][1] != "host"]

    def panel(bs_pred, metric):
        out = []
        for job in job_keys:
            if not bs_pred(job[1]):
                continue
            vals = {tk: ratios[(tk, job)][metric] for tk in target_keys if (tk, job) in ratios}
            out.append(("%s %s qd%d" % (job[0], job[1], job[2]), vals))
        return out
    big = lambda bs: bs.endswith("M") or bs.endswith("G")  # noqa: E731
    small = lambda bs: not big(bs)  # noqa: E731
    panels = []
    bw = panel(big, "bw_bytes_per_s")
    if bw and host:
        panels.append(("Bandwidth of the large-block jobs, relative to the host's same job",
                       "bandwidth ÷ host (log scale)", bw, True))
    iops = panel(small, "iops")
    if iops and host:
        panels.append(("IOPS of the small-block jobs, relative to the host's same job",
                       "IOPS ÷ host (log scale)", iops, True))
    p99 = panel(lambda bs: True, "lat_p99_s")
    if p99:
        panels.append(("p99 completion latency (absolute, lower is better)",
                       "p99 latency (log scale)", p99, False))

    def drawable(panel_):
        _, _, panel_jobs, is_ratio = panel_
        return any(math.isfinite(v) and v > 0 for _, values in panel_jobs
                   for r in values.values() for v in [r.ratio if is_ratio else r.median])
    panels = [p for p in panels if drawable(p)]
    n_max = max((len(c.samples) for c, *_ in jobs), default=0)
    ci_note = ("Bars carry the 95% interval of the ratio (the Mann–Whitney test's "
               "distribution-free interval of the ratio to the host, from the C++ core); a "
               "ratio whose interval includes 1× is drawn faded as <b>no difference</b> "
               "(\u201c= host\u201d)." if n_max > 1 else
               "<b>One sample per job</b>: the values are shown without confidence intervals; "
               "run with repetitions for intervals.")
    out = ['<section><h2 id="io">I/O</h2>',
           '<p class="note">fio inside each instance against its targets (<code>fs</code>: the '
           'host\'s own file system, <code>overlay</code>: the container\'s root, '
           '<code>volume</code>: a bind-mounted host directory, <code>disk</code>: the VM\'s '
           'virtio disk). Ratios are to the host running the same job: for bandwidth and IOPS '
           'above 1× is faster than the host (often the page cache answering), for p99 '
           'latency above 1× is slower. %s%s</p>'
           % (ci_note, "" if host else " <b>No host row</b>: no ratios can be drawn.")]
    if panels:
        fig = plot_io([p + ((targets_vs if p[3] else targets_all),) for p in panels])
        out.append(report.add_figure(fig, "io"))
    headers = (["job", "backend / target"] + ["n", "bandwidth", "IOPS", "p50", "p99",
               "bandwidth ÷ host", "IOPS ÷ host", "p99 ÷ host"])
    rows, classes = [], {}
    for job in job_keys:
        for tk in target_keys:
            cell = by_key.get(tk + job)
            if cell is None:
                continue
            if report.is_reference(tk[1]):
                classes[len(rows)] = "reference"
            row = ["%s\u00a0%s\u00a0qd%d" % job, esc(tlabel(tk)).replace(" ", "\u00a0")]
            if not cell.samples:
                row += ["0", '<span class="v-regressed" title="%s">failed</span>'
                        % esc("; ".join(sorted(set(cell.errors))))] + ["–"] * 6
                rows.append(row)
                continue
            r = ratios[(tk, job)]
            row += [str(len(cell.samples)), _bw_text(r["bw_bytes_per_s"].median),
                    _rate_text(r["iops"].median), fmt_time(r["lat_p50_s"].median),
                    fmt_time(r["lat_p99_s"].median)]
            row += (["–"] * 3 if tk[1] == "host" else
                    [_ratio_text(r[m]) for m in ("bw_bytes_per_s", "iops", "lat_p99_s")])
            rows.append(row)
    out.append(table(headers, rows, classes, numeric_from=2))
    _, summary = family_table(report, "Io")
    out.append("</section>")
    return "".join(out), summary


# ----------------------------------------------------------------------- overhead

# Per test: (counter, higher is better, how the value reads). The first counter a row
# has is used; without any, the benchmark's own time.
OVERHEAD_METRICS = (("bytes_per_s", True, "bandwidth"), ("faults_per_s", True, "faults/s"),
                    ("ns_per_op", False, "time per op"))


def _overhead_metric(cells):
    for key, higher, what in OVERHEAD_METRICS:
        if all(c.counters.get(key) for c in cells if c.samples):
            return key, higher, what
    return None, False, "time"


def _metric_values(cell, key):
    return cell.counters.get(key, []) if key else cell.samples


def _metric_text(value, key):
    if key == "bytes_per_s":
        return _bw_text(value)
    if key == "faults_per_s":
        return _rate_text(value) + "/s"
    if key == "ns_per_op":
        return fmt_time(value * 1e-9)
    return fmt_time(value)


def section_overhead(report):
    cells = [c for c in report.cells if c.family == "Overhead"]
    if not cells:
        return "", []
    multi = len(report.series) > 1
    tests = sorted({c.params for c in cells})
    backends = backend_order(report, (c.backend for c in cells))
    rows, classes, points = [], {}, []  # points: (label, slowdown, lo, hi, backend, si, no difference)
    for test in tests:
        group = [c for c in cells if c.params == test]
        key, higher, what = _overhead_metric(group)
        for b in backends:
            for s in report.series:
                cell = next((c for c in group if c.backend == b and c.series is s), None)
                if cell is None:
                    continue
                host = next((c for c in group if c.backend == "host" and c.series is s), None)
                label = "%s — %s%s" % (test, s.backend_label(b),
                                       (" — " + s.label) if multi else "")
                if report.is_reference(b):
                    classes[len(rows)] = "reference"
                if not cell.samples:
                    rows.append([esc(test), esc(s.backend_label(b))] + ([esc(s.label)] if multi
                                                                         else []) +
                                ["0", "failed: " + esc("; ".join(sorted(set(cell.errors)))),
                                 "–", "–"])
                    continue
                values = _metric_values(cell, key)
                r = Ratio(report, values, _metric_values(host, key) if host and host.samples
                          else [])
                # As a slowdown: > 1 is worse than the host whichever way the metric points.
                slow, slo, shi = r.ratio, r.rlo, r.rhi
                if higher and math.isfinite(slow) and slow > 0:
                    slow, slo, shi = 1 / slow, (1 / shi if shi > 0 else math.nan), \
                        (1 / slo if slo > 0 else math.nan)
                med, lo, hi = report.median_ci(values)
                rows.append([esc(test), esc(s.backend_label(b))] +
                            ([esc(s.label)] if multi else []) +
                            [str(len(values)), "<b>%s</b> <small>(%s)</small>"
                             % (_metric_text(med, key), esc(what)),
                             ("%s – %s" % (_metric_text(lo, key), _metric_text(hi, key))
                              if len(values) > 1 else "one sample"),
                             "–" if b == "host" else (
                                 "%s%s×%s" % ("no difference " if r.no_difference else "",
                                              _fmt_sig(slow), " <small>(%s – %s)</small>"
                                              % (_fmt_sig(slo), _fmt_sig(shi))
                                              if math.isfinite(slo) else "")
                                 if math.isfinite(slow) else "no host row")])
                if b != "host" and math.isfinite(slow) and slow > 0:
                    points.append((label, slow, slo, shi, b, s.index, r.no_difference))
    out = ['<section><h2 id="overhead">Overhead</h2>',
           '<p class="note">The same micro-benchmark inside each instance and on the host. '
           'Slowdown = how many times worse than the host (time per op ÷ host\'s, or host\'s '
           'rate ÷ this rate): 1× is host speed, above is slower. The interval is the 95% '
           'distribution-free interval of the ratio (Mann–Whitney, from the C++ core).</p>']
    if points:
        fig, ax = plt.subplots(figsize=(10, 0.42 * len(points) + 1.3), layout="constrained")
        for y, (label, slow, lo, hi, b, si, same) in enumerate(points):
            color = (backend_color(b, backends) if not multi
                     else SERIES_COLORS[si % len(SERIES_COLORS)])
            err = ([[slow - lo], [hi - slow]] if math.isfinite(lo) and math.isfinite(hi)
                   else None)
            ax.errorbar(slow, y, xerr=err, fmt="o", color=color, ecolor="black",
                        markersize=7, capsize=4, linewidth=1)
            # An interval that includes 1× is no difference from the host: said so.
            ax.annotate("= host" if same else "%s×" % _fmt_sig(slow),
                        (hi if math.isfinite(hi) else slow, y),
                        xytext=(8, 0), textcoords="offset points", va="center", fontsize=8.5)
        ax.axvline(1, color="black", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(points)))
        ax.set_yticklabels([p[0] for p in points], fontsize=9)
        ax.set_ylim(len(points) - 0.5, -0.5)
        ax.set_xscale("log")
        low = min(min(p[1], p[2] if math.isfinite(p[2]) else p[1]) for p in points)
        high = max(max(p[1], p[3] if math.isfinite(p[3]) else p[1]) for p in points)
        ax.set_xlim(min(low, 1) / 1.5, max(high, 1) * 2.5)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%g×" % v))
        ax.set_xlabel("slowdown relative to the host (1× = host; median and 95% CI, log scale)")
        ax.grid(axis="x", which="major", alpha=0.35)
        out.append(report.add_figure(fig, "overhead"))
    out.append(table(["test", "backend"] + (["series"] if multi else []) +
                     ["n", "median", "95% CI", "slowdown vs host"], rows, classes,
                     numeric_from=3 if multi else 2))
    _, summary = family_table(report, "Overhead")
    out.append("</section>")
    return "".join(out), summary


# -------------------------------------------------------------------- conformance

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


def _target_label(backend, profile):
    return "%s/%s" % (backend, profile) if profile else backend


def conformance_model(conf):
    """(probes [(number, name, title)], columns [(backend, profile)], cells
    {(probe, backend, profile): record}, not run [(label, reason)])."""
    records = conf["records"]
    probes = {}
    for p in conf.get("probes") or []:
        if isinstance(p.get("name"), str):
            probes[p["name"]] = (p.get("number", 10 ** 6), p["name"], p.get("title", ""))
    for r in records:
        if r["probe"] not in probes:
            probes[r["probe"]] = (r.get("number", 10 ** 6), r["probe"], r.get("title", ""))
    order = sorted(probes.values(), key=lambda p: (p[0], p[1]))
    cells = {(r["probe"], r["backend"], r.get("profile", "")): r for r in records}
    columns, not_run = [], []
    targets = conf.get("targets")
    if targets:
        listed = [(t.get("backend", "?"), t.get("profile", ""), t) for t in targets]
    else:
        seen = list(dict.fromkeys((r["backend"], r.get("profile", "")) for r in records))
        listed = [(b, p, {"status": "ran"}) for b, p in seen]
    for b, p, t in listed:
        if p.startswith("weak-"):
            continue  # mutants: the mutation table shows them
        has_records = any(k[1] == b and k[2] == p for k in cells)
        if t.get("status") == "unavailable":
            not_run.append((_target_label(b, p), t.get("reason", "unavailable")))
        elif has_records or t.get("status") == "error":
            columns.append((b, p))
    return order, columns, cells, not_run


def _verdict_td(record, key, detail_key):
    if record is None or key not in record:
        return '<td class="v v-none" title="no record">–</td>'
    verdict = record[key]
    detail = record.get(detail_key) or record.get("detail") or ""
    text = verdict
    if record.get("known_deviation") and key == "verdict":
        detail = "known deviation: %s\n%s" % (record["known_deviation"], detail)
        text += "*"
    if record.get("error"):
        detail = "probe error\n" + detail
        text += " (error)"
    return '<td class="v v-%s" title="%s">%s</td>' % (verdict, esc(detail), esc(text))


def section_conformance(report, conf):
    probes, columns, cells, not_run = conformance_model(conf)
    base = conf.get("baseline") or {}
    base_label = _target_label(base.get("backend", "container"), base.get("profile", "default"))
    out = ['<section><h2 id="conformance">Conformance</h2>',
           '<p class="note">From <code>%s</code>%s. Every probe is graded twice on every '
           'target: against the target\'s <b>own</b> promise, and against the <b>hardened '
           'baseline</b> (%s%s). <span class="v v-pass">pass</span> '
           '<span class="v v-fail">fail</span> <span class="v v-skip">skip</span>; hover a '
           'cell for the probe\'s detail or the reason it was skipped; * marks a known '
           'deviation.</p>' % (
               esc(conf["_path"]), (", run " + esc(conf["run_id"])) if conf.get("run_id") else "",
               esc(base_label), (": " + esc(base["description"])) if base.get("description")
               else "")]
    counts = {}
    for (probe, b, p), r in cells.items():
        if (b, p) in columns:
            c = counts.setdefault((b, p), {v: 0 for v in VERDICTS})
            c[r["verdict"]] = c.get(r["verdict"], 0) + 1
    head1 = ['<th rowspan="2">#</th><th rowspan="2">probe</th>']
    head2 = []
    for b, p in columns:
        c = counts.get((b, p), {})
        head1.append('<th colspan="2" class="group">%s<br><small>%s</small></th>' % (
            esc(_target_label(b, p)), " · ".join("%d %s" % (c.get(v, 0), v) for v in VERDICTS)))
        head2.append("<th>own promise</th><th>graded against<br>the hardened baseline</th>")
    rows = []
    for number, name, title in probes:
        tds = ['<td class="num">%s</td><td><code>%s</code> <small>%s</small></td>' % (
            number if number < 10 ** 6 else "", esc(name), esc(title))]
        for b, p in columns:
            r = cells.get((name, b, p))
            tds.append(_verdict_td(r, "verdict", "detail"))
            tds.append(_verdict_td(r, "baseline_verdict", "baseline_detail"))
        rows.append("<tr>%s</tr>" % "".join(tds))
    out.append('<h3>Probe × backend</h3>')
    if columns:
        out.append('<div class="scroll"><table class="matrix"><thead><tr>%s</tr><tr>%s</tr>'
                   '</thead><tbody>%s</tbody></table></div>'
                   % ("".join(head1), "".join(head2), "".join(rows)))
    else:
        out.append('<p class="note">No target ran.</p>')
    if not_run:
        out.append('<p class="note">Not run (every probe skipped): %s</p>' % "; ".join(
            "<b>%s</b> — %s" % (esc(label), esc(why)) for label, why in not_run))
    for u in conf.get("unusable") or []:
        report.warnings.append("conformance: backend %s unusable: %s"
                               % (u.get("backend", "?"), u.get("reason", "")))
    mutation = conf.get("mutation")
    lines = ["", "### Conformance (%s)" % conf["_path"], ""]
    for b, p in columns:
        c = counts.get((b, p), {})
        lines.append("- %s: %s" % (_target_label(b, p),
                                   ", ".join("%d %s" % (c.get(v, 0), v) for v in VERDICTS)))
    if mutation:
        score = mutation.get("score") or {}
        results = mutation.get("results") or []
        tried = score.get("tried", sum(1 for m in results if m.get("status") in
                                       ("caught", "missed")))
        caught = score.get("caught", sum(1 for m in results if m.get("status") == "caught"))
        out.append('<h3>Mutation testing</h3><p class="note">Proof that the probes can fail: '
                   'each row turns off one protection on <b>%s</b> and grades the weakened '
                   'instance against the reference profile\'s promise; a weakening is caught '
                   'when a probe passes on the reference and fails on the mutant. Score: '
                   '<b>%s / %s</b> weakenings caught.</p>'
                   % (esc(mutation.get("backend", "?")), caught, tried))
        mrows, classes = [], {}
        for m in results:
            status = m.get("status", "caught" if m.get("caught") else "missed")
            caught_by = m.get("caught_by") or []
            if status == "caught":
                verdict = '<span class="v v-pass">yes</span>'
            elif status == "missed":
                verdict = '<span class="v v-fail">no</span>'
                classes[len(mrows)] = "missed"
            else:
                verdict = '<span class="v v-skip" title="%s">%s</span>' % (
                    esc(m.get("reason", "")), esc(status))
            probes_html = "<br>".join(
                '<span title="%s">%s</span>' % (esc(c), esc(c.split(":", 1)[0]))
                for c in caught_by) or esc(m.get("reason", "–"))
            mrows.append(["<code>%s</code>" % esc(m["weakening"]),
                          esc(m.get("reference_profile", "")), verdict, probes_html,
                          str(len(caught_by)) if status in ("caught", "missed") else "–"])
        mrows.append(["<b>score</b>", "", "<b>%s / %s</b>" % (caught, tried), "", ""])
        out.append(table(["weakening", "reference profile", "caught", "probes that caught it "
                          "(hover for what they saw)", "probes flipped"], mrows, classes,
                         numeric_from=4))
        lines.append("- mutation score: %s/%s weakenings caught%s" % (
            caught, tried, "".join("; missed: " + m["weakening"] for m in results
                                   if m.get("status") == "missed")))
    report.summary_extra += lines
    out.append("</section>")
    return "".join(out)


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1320px; padding: 16px 28px 40px; color: #1d1d1f; line-height: 1.4; }
h1 { margin-bottom: 4px; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px;
       margin-top: 36px; } h3 { margin-top: 24px; }
.meta { color: #555; font-size: 14px; margin: 0 0 10px; }
.note { color: #555; font-size: 13.5px; max-width: 900px; }
.scroll { overflow-x: auto; margin: 10px 0 18px; }
table { border-collapse: collapse; font-size: 13.5px; }
th, td { border: 1px solid #d5d5d5; padding: 4px 9px; vertical-align: top; }
th { background: #f2f2f4; text-align: left; font-weight: 600; }
th.group { text-align: center; background: #e6e9f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.reference td { color: #666; font-style: italic; }
tr.differs td { background: #fff7dc; }
.tag { font-size: 11px; background: #eee; color: #555; border-radius: 3px; padding: 0 4px;
       font-style: normal; }
.warn { background: #fff3f0; border-left: 4px solid #d9534f; padding: 8px 14px;
        font-size: 13.5px; margin: 10px 0; }
.warn ul { margin: 4px 0; padding-left: 20px; }
img.plot { display: block; max-width: 100%; height: auto; margin: 12px 0; }
td.v, span.v { text-align: center; font-size: 12.5px; white-space: nowrap; }
span.v { padding: 0 6px; border-radius: 3px; }
.v-pass { background: #d7f2dc; color: #0b5a1e; } .v-fail { background: #f8d3d3;
        color: #8a1010; font-weight: 600; } .v-skip, .v-none { background: #e6e6e6;
        color: #555; }
table.matrix th { font-size: 12.5px; } table.matrix td { padding: 2px 7px; }
tr.missed td { background: #fde8e8; }
details summary { cursor: pointer; color: #333; margin: 8px 0; }
.v-regressed { color: #b00020; font-weight: 600; } .v-improved { color: #08752b;
        font-weight: 600; } small { color: #666; font-weight: normal; }
nav a { margin-right: 14px; font-size: 14px; }
code { font-size: 12.5px; }
footer { margin-top: 40px; color: #777; font-size: 12.5px; }
"""


def render_html(report, sections, title):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    inputs = "".join(
        "<li><code>%s</code> — %s%s%s</li>" % (
            esc(s.path), esc(s.host),
            (", VM accelerator <b>%s</b>" % esc(s.accelerator)) if s.accelerator else "",
            (", " + esc(s.context["date"])) if "date" in s.context else "")
        for s in report.series)
    warn = ""
    if report.warnings:
        warn = '<div class="warn"><b>Warnings</b><ul>%s</ul></div>' % "".join(
            "<li>%s</li>" % esc(w) for w in report.warnings)
    nav = "".join('<a href="#%s">%s</a>' % (esc(anchor), esc(name)) for anchor, name in
                  [("environment", "Environment")] + [(a, n) for a, n, _ in sections])
    body = "".join(html_ for _, _, html_ in sections)
    compared = ""
    if len(report.series) > 1:
        first = next(iter(report.verdicts.values()), None)
        method = first["method"] if first else {}
        compared = (" Later inputs are compared with the first (%s) by the regression gate "
                    "(<code>isobench compare --json</code>, thresholds %s): %s, %s at family "
                    "alpha %s; the change is the %s with the %s; %s."
                    % (esc(report.series[0].label), esc(first["thresholds"] if first else "–"),
                       esc(method.get("test", "")), esc(method.get("family", "")),
                       esc(method.get("family_alpha", "")), esc(method.get("estimate", "")),
                       esc(method.get("interval", "")), esc(method.get("verdict", ""))))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{css}</style></head><body>
<h1>{title}</h1>
<p class="meta">Generated {now} from:</p><ul class="meta">{inputs}</ul>
<nav>{nav}</nav>
{warn}
{env}
{body}
<footer>Statistics: median and 95% percentile-bootstrap interval (2000 resamples, fixed
seed).{compared} Computed by the isobench_py module (the C++ core).</footer>
</body></html>
""".format(title=esc(title), css=CSS, now=now, inputs=inputs, nav=nav, warn=warn,
           env=section_environment(report), body=body, compared=compared)


def render_summary(report, summary, title):
    lines = ["## " + title, ""]
    for s in report.series:
        lines.append("- `%s`: %s%s" % (s.path, s.host,
                                       " (VM accelerator: %s)" % s.accelerator
                                       if s.accelerator else ""))
    lines.append("")
    multi = len(report.series) > 1
    header = ["benchmark", "backend"]
    for i, s in enumerate(report.series):
        prefix = (s.label + " ") if multi else ""
        header += [prefix + "n", prefix + "median (95% CI)"]
        if i > 0:
            header.append("vs " + report.series[0].label)
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for bench, backend, cells in summary:
        row = [bench, joint_backend_label(
            backend, [s for s, c in zip(report.series, cells) if c])]
        for i, cell in enumerate(cells):
            if cell is None or not cell.samples:
                row += ["0", "failed" if cell and cell.errors else "–"]
            else:
                med, lo, hi = report.median_ci(cell.samples)
                row += [str(len(cell.samples)), "%s (%s)" % (fmt_time(med), fmt_interval(lo, hi))]
            if i > 0:
                vrow = report.verdict(cell)
                row.append("%s, %s" % (fmt_change(vrow["estimate"]), verdict_text(vrow))
                           if vrow else "–")
        lines.append("| " + " | ".join(row) + " |")
    if not summary:
        lines = lines[:-2]  # no benchmark rows: no table
    lines += report.summary_extra
    if report.warnings:
        lines += [""] + ["> warning: " + w for w in report.warnings]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ main


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


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Render isobench Google Benchmark JSON results as HTML + Markdown.")
    parser.add_argument("results", nargs="*", metavar="RESULT.json",
                        help="Google Benchmark JSON; a conformance verdict file given here "
                        "is recognised and used as --conformance")
    parser.add_argument("--conformance", metavar="VERDICTS.json",
                        help="conformance verdict file (conformance --verdicts_out=)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--module-dir", help="directory holding the isobench_py module")
    parser.add_argument("--title", default="isobench report")
    parser.add_argument("--thresholds", default=None,
                        help="the regression gate's thresholds file (default: "
                        "ci/thresholds.toml of this tree, else the gate's built-in defaults)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="family-wise alpha of the gate (default: the thresholds file's)")
    args = parser.parse_args(argv)

    try:
        stats = load_stats_module(args.module_dir)
    except ModuleError as e:
        print("report.py: error: %s" % e, file=sys.stderr)
        return 2
    thresholds = args.thresholds
    if thresholds is None:
        default = os.path.join(REPO, "ci", "thresholds.toml")
        thresholds = default if os.path.exists(default) else ""

    conf_path = args.conformance
    bench_paths = []
    for path in args.results:
        if sniff_conformance(path):
            if conf_path and conf_path != path:
                print("report.py: error: two conformance files: %s and %s" % (conf_path, path),
                      file=sys.stderr)
                return 2
            conf_path = path
        else:
            bench_paths.append(path)
    if not bench_paths and not conf_path:
        parser.error("give at least one RESULT.json or --conformance FILE")
    conformance = None
    if conf_path:
        try:
            conformance = load_conformance(conf_path)
        except (ValueError, OSError) as e:
            print("report.py: error: cannot load %s: %s" % (conf_path, e), file=sys.stderr)
            return 2

    loaded = []
    for path in bench_paths:
        try:
            loaded.append((path, stats.load_results(path)))
        except (ValueError, OSError) as e:
            print("report.py: error: cannot load %s: %s" % (path, e), file=sys.stderr)
            return 2
    series = [Series(path, results, i) for i, (path, results) in enumerate(merge_parts(loaded))]

    global plt, FuncFormatter  # pylint: disable=global-statement
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot  # pylint: disable=import-outside-toplevel
    from matplotlib import ticker  # pylint: disable=import-outside-toplevel
    plt, FuncFormatter = pyplot, ticker.FuncFormatter

    report = Report(stats, series, thresholds, args.alpha)
    try:
        report.compute_verdicts()
    except (ValueError, OSError) as e:
        print("report.py: error: the regression gate failed: %s" % e, file=sys.stderr)
        return 2
    if not report.cells and conformance is None:
        report.warnings.append("the inputs contain no benchmark records")

    sections = []
    startup_html, summary = section_startup(report)
    if startup_html:
        sections.append(("startup", "Startup", startup_html))
    special = {}
    for family, anchor, title, render in (("Density", "density", "Density", section_density),
                                          ("Io", "io", "I/O", section_io),
                                          ("Overhead", "overhead", "Overhead",
                                           section_overhead)):
        html_, rows = render(report)
        if html_:
            sections.append((anchor, title, html_))
            summary += rows
            special[family] = True
    families = sorted({c.family for c in report.cells
                       if c.family != "Startup" and c.family not in special},
                      key=lambda f: (f == "Other", f))
    generic_html, generic_summary = section_generic(report, families)
    if generic_html:
        sections.append((families[0].lower(), " · ".join(families), generic_html))
    summary += generic_summary
    if conformance is not None:
        sections.append(("conformance", "Conformance", section_conformance(report, conformance)))

    os.makedirs(args.out, exist_ok=True)
    page = render_html(report, sections, args.title)
    with open(os.path.join(args.out, "report.html"), "w", encoding="utf-8") as f:
        f.write(page)
    for name, data in report.images:
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(render_summary(report, summary, args.title))
    print("report.py: wrote %s (%d plots) and %s" % (
        os.path.join(args.out, "report.html"), len(report.images),
        os.path.join(args.out, "summary.md")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
