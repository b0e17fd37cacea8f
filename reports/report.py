#!/usr/bin/python3
"""Renders isobench benchmark results (Google Benchmark JSON) as HTML and Markdown.

  /usr/bin/python3 reports/report.py --out DIR RESULT.json [RESULT2.json ...]

writes DIR/report.html (self-contained: the plots are embedded as base64 PNG),
the same PNGs beside it, and DIR/summary.md, a short table for CI logs.

Benchmarks are named Family/backend/params. The Startup family gets its own
section (distribution per backend on a log axis, medians with 95% bootstrap
intervals, the phases as stacked bars, teardown times); every other family gets a
table. Several files are shown side by side and compared with the first one: one
column per host when they come from different hosts (hardware comparison), one
per file when they come from the same host (A/B of a change).

Statistics come from the C++ core through the isobench_py module, found in
--module-dir, $ISOBENCH_PYMODULE_DIR or <repo>/build*/reports; without it a
pure-Python copy (isobench_fallback.py) is used and a warning says so.
Run with Debian's /usr/bin/python3, which has matplotlib.
"""
import argparse
import base64
import datetime
import glob
import html
import importlib
import io
import math
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# Backends that the harness does not drive through its Backend interface but
# measures as yardsticks: a bare fork+exec, runc itself, qemu without libvirt.
REFERENCE_BACKENDS = ("host", "runc", "crun", "qemu-raw")
PRIMARY_ORDER = ("container", "vm", "oci", "docker")
VM_BACKENDS = ("vm", "qemu-raw")
BACKEND_COLORS = {"container": "#1f77b4", "vm": "#ff7f0e", "oci": "#2ca02c",
                  "docker": "#9467bd", "host": "#7f7f7f", "runc": "#8c564b",
                  "crun": "#bcbd22", "qemu-raw": "#d62728"}
EXTRA_COLORS = ["#17becf", "#e377c2", "#393b79", "#637939", "#8c6d31"]
SERIES_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]

# Context keys first in the environment table, in this order; the rest follow
# sorted. Arrays and objects (caches, load_avg) are left out.
ENV_ORDER = ("host_name", "env.hostname", "env.cpu_model", "num_cpus", "mhz_per_cpu",
             "env.memory_total_bytes", "env.kernel", "env.cgroup_mode", "vm.accelerator",
             "env.libvirt_version", "env.qemu_version", "env.ksm", "env.thp",
             "env.cpu_governor", "env.git_revision", "date", "executable",
             "library_build_type", "cpu_scaling_enabled")


# --------------------------------------------------------------------------- stats


def load_stats_module(module_dir):
    """Returns (module, warning or None)."""
    if module_dir:
        dirs = [module_dir]
    elif os.environ.get("ISOBENCH_PYMODULE_DIR"):
        dirs = [os.environ["ISOBENCH_PYMODULE_DIR"]]
    else:
        dirs = sorted(glob.glob(os.path.join(REPO, "build*", "reports")))
    saved = list(sys.path)
    sys.path[:0] = dirs
    try:
        return importlib.import_module("isobench_py"), None
    except ImportError as e:
        sys.path[:] = saved
        sys.path.insert(0, HERE)
        import isobench_fallback  # pylint: disable=import-outside-toplevel
        where = ", ".join(dirs) if dirs else "no build directory found"
        return isobench_fallback, (
            "isobench_py module not found (searched: %s; %s): using the pure-Python "
            "fallback for loading and statistics" % (where, e))


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
        self.label = self.host

    def backend_label(self, backend):
        if backend in VM_BACKENDS and self.accelerator:
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


def backend_order(backends):
    def key(b):
        if b in PRIMARY_ORDER:
            return (0, PRIMARY_ORDER.index(b), b)
        if b in REFERENCE_BACKENDS:
            return (2, REFERENCE_BACKENDS.index(b), b)
        return (1, 0, b)
    return sorted(set(backends), key=key)


def backend_color(backend, backends):
    if backend in BACKEND_COLORS:
        return BACKEND_COLORS[backend]
    others = [b for b in backends if b not in BACKEND_COLORS]
    return EXTRA_COLORS[others.index(backend) % len(EXTRA_COLORS)]


class Report:
    def __init__(self, stats, series, threshold, alpha):
        self.stats = stats
        self.series = series
        self.threshold = threshold
        self.alpha = alpha
        self.cells = []
        self.warnings = []
        self.images = []  # (filename, png bytes)
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

    def series_title(self, s):
        return ("host " if self.multi_host else "input ") + s.label

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

    def compare(self, base, new, direction="lower_is_better"):
        base = [v for v in base if math.isfinite(v)]
        new = [v for v in new if math.isfinite(v)]
        if not base or not new:
            return None
        try:
            return self.stats.compare(base, new, threshold=self.threshold, alpha=self.alpha,
                                      direction=direction)
        except ValueError:
            return None  # e.g. a base median of 0: no relative change to show

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
            hatch = "//" if backend in REFERENCE_BACKENDS else None
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
        if b in REFERENCE_BACKENDS:
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


def verdict_text(cmp, alpha):
    """'regressed', 'improved', 'same', or why there can be no verdict."""
    if cmp["verdict"] == "same" and cmp["min_p_value"] >= alpha:
        return "too few samples for a verdict"
    return cmp["verdict"]


def comparison_cell(cmp, alpha):
    if cmp is None:
        return "–"
    return '<span class="v-%s">%s<br><small>CI %s … %s, p=%.2g<br>%s</small></span>' % (
        cmp["verdict"], fmt_change(cmp["change"]), fmt_change(cmp["ci_low"]),
        fmt_change(cmp["ci_high"]), cmp["p_value"], esc(verdict_text(cmp, alpha)))


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
    cases = sorted({c.params for c in cells_all})
    for case in cases:
        cells = {(c.backend, c.series.index): c for c in cells_all if c.params == case}
        backends = backend_order(b for b, _ in cells)
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
        if b in REFERENCE_BACKENDS:
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
                row.append(comparison_cell(report.compare(base_cell.samples if base_cell else [],
                                                          cell.samples), report.alpha))
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
            if b in REFERENCE_BACKENDS:
                classes[len(rows)] = "reference"
            rows.append([esc(label), str(len(values)), "<b>%s</b>" % fmt_time(med),
                         fmt_interval(lo, hi)])
    return table(["backend", "n", "destroy (median)", "95% CI"], rows, classes)


def section_generic(report):
    families = sorted({c.family for c in report.cells if c.family != "Startup"},
                      key=lambda f: (f == "Other", f))
    out, summary = [], []
    for family in families:
        cells = [c for c in report.cells if c.family == family]
        counters = sorted({k for c in cells for k in c.counters})
        cases = sorted({c.params for c in cells})
        backends = backend_order(c.backend for c in cells)
        multi = len(report.series) > 1
        headers = (["case", "backend"] + (["series"] if multi else []) +
                   ["n", "time (median)", "95% CI"] +
                   (["vs " + esc(report.series[0].label)] if multi else []) +
                   ["<code>%s</code>" % esc(k) for k in counters])
        rows, classes = [], {}
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
                    if b in REFERENCE_BACKENDS:
                        classes[len(rows)] = "reference"
                    row = [esc(case or "–"), esc(s.backend_label(b))]
                    if multi:
                        row.append(esc(s.label))
                    row += [str(len(cell.samples)), "<b>%s</b>" % fmt_time(med),
                            fmt_interval(lo, hi)]
                    if multi:
                        row.append("" if s.index == 0 else comparison_cell(
                            report.compare(base.samples if base else [], cell.samples),
                            report.alpha))
                    row += [fmt_number(median_of(cell.counters[k]), k)
                            if cell.counters.get(k) else "–" for k in counters]
                    rows.append(row)
                summary.append((family + ("/" + case if case else ""), b, [
                    next((c for c in cells if c.params == case and c.backend == b
                          and c.series is s), None) for s in report.series]))
        out.append('<section><h2 id="%s">%s</h2>' % (esc(family.lower()), esc(family)))
        out.append('<p class="note">Medians of the repetitions; counters are shown as '
                   'written, the unit is in their name.</p>')
        out.append(table(headers, rows, classes, numeric_from=3 if multi else 2))
        out.append("</section>")
    return "".join(out), summary


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
        compared = (" Later inputs are compared with the first (%s): relative change of the "
                    "median with its bootstrap interval and a two-sided Mann–Whitney U test; "
                    "a change counts when p &lt; %g and it exceeds %g%%."
                    % (esc(report.series[0].label), report.alpha, report.threshold * 100))
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
seed).{compared} Computed by {engine}.</footer>
</body></html>
""".format(title=esc(title), css=CSS, now=now, inputs=inputs, nav=nav, warn=warn,
           env=section_environment(report), body=body, compared=compared,
           engine="the isobench_py module" if report.stats.__name__ == "isobench_py"
           else "the pure-Python fallback (isobench_py not found)")


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
                base = cells[0]
                cmp = report.compare(base.samples if base else [],
                                     cell.samples if cell else [])
                row.append("%s, %s" % (fmt_change(cmp["change"]), verdict_text(cmp, report.alpha))
                           if cmp else "–")
        lines.append("| " + " | ".join(row) + " |")
    if report.warnings:
        lines += [""] + ["> warning: " + w for w in report.warnings]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ main


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Render isobench Google Benchmark JSON results as HTML + Markdown.")
    parser.add_argument("results", nargs="+", metavar="RESULT.json")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--module-dir", help="directory holding the isobench_py module")
    parser.add_argument("--title", default="isobench report")
    parser.add_argument("--threshold", type=float, default=0.05,
                        help="relative change that matters when comparing inputs (0.05)")
    parser.add_argument("--alpha", type=float, default=0.01,
                        help="significance level of the Mann-Whitney test (0.01)")
    args = parser.parse_args(argv)

    stats, warning = load_stats_module(args.module_dir)
    if warning:
        print("report.py: warning: " + warning, file=sys.stderr)

    series = []
    for i, path in enumerate(args.results):
        try:
            results = stats.load_results(path)
        except (ValueError, OSError) as e:
            print("report.py: error: cannot load %s: %s" % (path, e), file=sys.stderr)
            return 2
        series.append(Series(path, results, i))

    global plt, FuncFormatter  # pylint: disable=global-statement
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot  # pylint: disable=import-outside-toplevel
    from matplotlib import ticker  # pylint: disable=import-outside-toplevel
    plt, FuncFormatter = pyplot, ticker.FuncFormatter

    report = Report(stats, series, args.threshold, args.alpha)
    if warning:
        report.warnings.insert(0, warning)
    if not report.cells:
        report.warnings.append("the inputs contain no benchmark records")

    sections = []
    startup_html, summary = section_startup(report)
    if startup_html:
        sections.append(("startup", "Startup", startup_html))
    generic_html, generic_summary = section_generic(report)
    if generic_html:
        families = sorted({c.family for c in report.cells if c.family != "Startup"},
                          key=lambda f: (f == "Other", f))
        sections.append((families[0].lower(), " · ".join(families), generic_html))
    summary += generic_summary

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
