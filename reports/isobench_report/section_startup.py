"""The Startup section: create request -> ready per backend (distribution, medians
with intervals, the phases as stacked bars, teardown)."""
import math
import random
import re

from .fmt import esc, fmt_interval, fmt_sig, fmt_time
from .markup import comparison_cell, table
from .model import SERIES_COLORS, backend_color, backend_order, joint_backend_label, median_of
from .plotting import formatter, ms_formatter, pyplot

# The VM boot time this project aims for under KVM: QEMU's boot-to-userspace figure in
# Agache et al., "Firecracker: Lightweight Virtualization for Serverless Applications",
# NSDI'20. Drawn as a reference line on the startup plot; TCG is far slower.
VM_BOOT_TARGET_S = 0.250


def plot_distribution(report, cells, backends, title):
    """Start times per backend: box + points on a log axis in ms (left), and each
    backend's spread around its own median in % (right), which the log axis hides
    when containers take milliseconds and VMs seconds."""
    series = report.series
    nser = len(series)
    fig, (ax, spread) = pyplot().subplots(
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
            color = (backend_color(report, backend) if nser == 1
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
    ax.yaxis.set_major_formatter(ms_formatter())
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
    spread.yaxis.set_major_formatter(formatter(lambda v, _pos: "%+g%%" % v if v else "0"))
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
    fig, axes = pyplot().subplots(len(rows), 1, figsize=(12, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, layout="constrained",
                             squeeze=False)
    cmap = pyplot().get_cmap("tab20")
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
    fig, ax = pyplot().subplots(figsize=(8.5, 0.42 * len(rows) + 1.2), layout="constrained")
    for y, (label, med, lo, hi, b, si) in enumerate(rows):
        color = (backend_color(report, b) if len(report.series) == 1
                 else SERIES_COLORS[si % len(SERIES_COLORS)])
        ax.errorbar(med * 1e3, y, xerr=[[(med - lo) * 1e3], [(hi - med) * 1e3]], fmt="o",
                    color=color, ecolor="black", markersize=7, capsize=4, linewidth=1)
        ax.annotate(fmt_time(med), (hi * 1e3, y), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize=8.5)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ms_formatter())
    low = min(r[2] for r in rows) * 1e3
    high = max(r[3] for r in rows) * 1e3
    ax.set_xlim(low / 2.5, high * 6)  # room for the value labels
    ax.set_xlabel("destroy time: median and 95% CI (ms, log scale)")
    ax.grid(axis="x", which="major", alpha=0.35)
    return fig


_PARALLEL = re.compile(r"(?:^|/)parallel:(\d+)(?:/|$)")


def startup_cases(cells):
    """The Startup cases in reading order: serial starts (create -> ready, one at a time)
    first, then the parallel:<K> cases by K."""
    def key(params):
        m = _PARALLEL.search(params)
        return (1, int(m.group(1)), params) if m else (0, 0, params)
    return sorted({c.params for c in cells}, key=key)


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
    cases = startup_cases(cells_all)
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
    scaling = parallel_scaling(report, cells_all)
    if scaling:
        out.append('<h3 id="startup-scaling">Parallel starts against serial</h3>')
        out.append('<p class="note">K instances started at once from K threads: the batch\'s '
                   'wall time to the last ready line over K times the same backend\'s serial '
                   'median. 1.0 means the starts did not overlap at all; with C cores and '
                   'starts that only use CPU the floor is 1/C. The phase bars of each '
                   '<code>parallel:K</code> case above show which phase stretches. '
                   '"CPUs busy" is the median over the batches of the host\'s CPU time '
                   'over a batch, every task and kernel thread counted, over its wall '
                   'time: a batch below the host\'s CPU count waited on something other '
                   'than CPU (the kernel charges a running task at its CPU\'s tick, so '
                   'one batch\'s figure is within CPUs × tick ÷ its wall time). The host '
                   'floor\'s own batches (K fork + exec of the agent at once) show how far '
                   'this host lets any process creation overlap.</p>')
        out.append(report.add_figure(plot_parallel_scaling(report, scaling),
                                     "startup-parallel-scaling"))
        out.append(scaling_table(report, scaling))
    out.append("</section>")
    return "".join(out), summary


def busy_cpus(cell):
    """The median of the cell's host_busy_cpus counter (how many of the host's CPUs were
    busy over each batch, every task and kernel thread counted), or None."""
    m = median_of(cell.counters.get("host_busy_cpus") or [])
    return m if math.isfinite(m) else None


def parallel_scaling(report, cells_all):
    """{(backend, series index): [(K, batch median s, serial median s, CPUs busy in a
    batch)]} for every backend with both a serial case and parallel:K cases; a busy
    figure the file does not carry is None."""
    serial = {(c.backend, c.series.index): report.median_ci(c.samples)[0]
              for c in cells_all if c.params == "ready" and c.samples}
    out = {}
    for c in cells_all:
        m = _PARALLEL.search(c.params)
        key = (c.backend, c.series.index)
        if not m or not c.samples or not serial.get(key):
            continue
        out.setdefault(key, []).append(
            (int(m.group(1)), report.median_ci(c.samples)[0], serial[key], busy_cpus(c)))
    return {k: sorted(v, key=lambda p: p[0]) for k, v in out.items()}


def plot_parallel_scaling(report, scaling):
    fig, ax = pyplot().subplots(figsize=(9, 4.6), layout="constrained")
    nser = len(report.series)
    for (backend, si), points in sorted(scaling.items()):
        ks = [p[0] for p in points]
        ratios = [batch / (k * one) for k, batch, one, _ in points]
        label = report.series[si].backend_label(backend) + (
            " — " + report.series[si].label if nser > 1 else "")
        ax.plot(ks, ratios, marker="o", color=backend_color(report, backend),
                linestyle="--" if report.is_reference(backend) else "-", label=label)
        ax.annotate("%.2f" % ratios[-1], (ks[-1], ratios[-1]), xytext=(5, 0),
                    textcoords="offset points", va="center", fontsize=8.5)
    ax.axhline(1.0, color="grey", linewidth=1, linestyle=":")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(formatter(lambda v, _: "%d" % v))
    ax.set_ylim(0, None)
    ax.set_xlabel("K (simultaneous starts)")
    ax.set_ylabel("batch time ÷ (K × serial median)")
    ax.set_title("Parallel starts — how much K starts overlap (lower is better)", loc="left",
                 fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


def scaling_table(report, scaling):
    rows = []
    for (backend, si), points in sorted(scaling.items()):
        name = esc(report.series[si].backend_label(backend)) + (
            " — " + esc(report.series[si].label) if len(report.series) > 1 else "")
        if report.is_reference(backend):
            name += ' <span class="tag">reference</span>'
        for k, batch, one, busy in points:
            rows.append([name, str(k), fmt_time(batch), fmt_time(k * one),
                         "%.2f" % (batch / (k * one)), "%.2f×" % (k * one / batch),
                         "–" if busy is None else "%.2f" % busy])
    return table(["backend", "K", "batch (median)", "K × serial median",
                  "batch ÷ (K × serial)", "speed-up", "CPUs busy"], rows)


def startup_table(report, cells, backends):
    single = len(report.series) == 1
    # The host floor (by its traits, not its name): every start as a multiple of it.
    floors = [b for b, si in cells if report.series[si].is_host_floor(b)]
    base_backend = floors[0] if floors else None
    headers = ["backend"]
    groups = [("", 1)]
    for i, s in enumerate(report.series):
        headers += ["n", "median", "95% CI", "min – max"]
        if single:
            headers += ["CPU time (median)"]
            if base_backend:
                headers += ["× " + esc(base_backend)]
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
                        row.append("%s×" % fmt_sig(ratio))
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
