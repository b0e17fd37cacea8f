"""The performance-isolation section (the noisy neighbour): on each backend, a victim's
figures beside a neighbour running one stressor at a time, as degradation against the
same round's figure alone; the isolation matrix, the bars behind it, the raw figures and
what the limits did, with the Isolation Benchmark Suite's published finding beside it."""
import math
import re

from .fmt import esc, fmt_sig, fmt_time
from .markup import failed_cells, table
from .model import backend_order, backend_color, median_of
from .plotting import pyplot
from .section_generic import family_table

_PARAMS = re.compile(r"^(?P<stressor>[a-z_]+):(?P<metric>[a-z_]+)$")
_RATIO = re.compile(r"^Isolation:(?P<stressor>[a-z_]+):(?P<metric>[a-z_]+)/vs:alone$")
STRESSORS = ("cpu", "memory", "fork", "disk", "net_send", "net_recv")
METRICS = ("cpu", "memory", "latency", "randread", "tcp_rr")
_METRIC_TEXT = {
    "cpu": "CPU (stress-ng bogo ops/s)",
    "memory": "memory bandwidth (memcpy)",
    "latency": "agent request round trip",
    "randread": "4 KiB random reads (fio qd1)",
    "tcp_rr": "TCP round trip to the host",
}
MIN_ROUNDS_FOR_CI = 5
# A cell whose interval includes 0: not told apart from alone.
NO_DIFFERENCE_COLOR = "#ececec"
# Degradation bands of the matrix, in percent: (upper bound, class, colour).
BANDS = ((5.0, "iso-ok", "#d7f2dc"), (25.0, "iso-mild", "#fff1b8"),
         (100.0, "iso-bad", "#ffd3a8"), (math.inf, "iso-severe", "#f8b8b8"))


def band(percent):
    """The (class, colour) of a degradation in percent: the first band it is below."""
    for upper, cls, color in BANDS:
        if percent < upper:
            return cls, color
    return BANDS[-1][1], BANDS[-1][2]


_STRAY = '<b class="iso-stray" style="color:#b00020">%d %s</b>'
_NOT_APPLIED = re.compile(r"io_weight NOT applied[^;]*")
_DISK_NOTE = re.compile(r"host disk \S+ schedules with [^;]+")


def _disk_note(label):
    """'host disk vda schedules with mq-deadline, which ...' from a disk row's label."""
    m = _DISK_NOTE.search(label or "")
    return m.group(0) if m else ""


def _most(values):
    """Sort key of a row's counter samples: the largest total, then the most rounds (a
    row where every round counted 0 beats a row without the counter)."""
    return (sum(values), len(values))


def _order(items, known):
    return sorted(items, key=lambda x: (known.index(x) if x in known else len(known), x))


class Degradation:
    """The victim's degradation in percent under one stressor: the median of the
    same-round ratio rows (stressed ÷ alone) minus 1, with its 95 % interval."""

    def __init__(self, report, ratio_cell, stressed_cell):
        self.errors = []
        if stressed_cell is not None and stressed_cell.errors:
            self.errors += stressed_cell.errors
        if ratio_cell is not None and ratio_cell.errors:
            self.errors += ratio_cell.errors
        values = [v for v in (ratio_cell.samples if ratio_cell else []) if math.isfinite(v)]
        self.n = len(values)
        self.percent = self.lo = self.hi = math.nan
        if values:
            median, lo, hi = report.median_ci(values)
            self.percent = (median - 1) * 100
            # Below 5 rounds an interval of the median means little: the figure alone.
            if len(values) >= MIN_ROUNDS_FOR_CI and math.isfinite(lo):
                self.lo, self.hi = (lo - 1) * 100, (hi - 1) * 100

    @property
    def measured(self):
        return math.isfinite(self.percent)

    @property
    def no_difference(self):
        return math.isfinite(self.lo) and self.lo <= 0 <= self.hi

    def text(self):
        if not self.measured:
            return "–"
        out = "%+.0f %%" % self.percent
        if math.isfinite(self.lo):
            out += " <small>(95%% CI %+.0f – %+.0f)</small>" % (self.lo, self.hi)
        else:
            out += " <small>(n = %d, no interval)</small>" % self.n
        return out


def _worst(here):
    """(metric, Degradation, hidden) for a matrix cell from [(metric, Degradation)], all
    measured: the largest degradation told apart from alone (its interval excludes 0, or
    too few rounds for one), else the largest of all, which then says no difference.
    hidden: the larger ones not told apart, named in the cell so that no possible harm is
    dropped from it."""
    told = [t for t in here if not t[1].no_difference]
    m, worst = max(told or here, key=lambda t: t[1].percent)
    hidden = [t for t in here if t[1].no_difference and t[1].percent > worst.percent]
    return m, worst, sorted(hidden, key=lambda t: -t[1].percent)


def _figure(cell, metric):
    """The cell's median figure in its natural unit, for the raw table: from the counter
    the benchmark wrote, else from its time (seconds per op, per MiB, per read, or the
    round trip itself)."""
    def med(name, from_time):
        v = median_of(cell.counters.get(name, []))
        if not math.isfinite(v):
            t = median_of(cell.samples)
            v = from_time(t) if math.isfinite(t) and t > 0 else math.nan
        return v
    if metric == "cpu":
        v = med("bogo_ops_per_s", lambda t: 1 / t)
        return "%s ops/s" % fmt_sig(v) if math.isfinite(v) else "–"
    if metric == "memory":
        v = med("bytes_per_s", lambda t: 2 ** 20 / t)
        if not math.isfinite(v):
            return "–"
        return ("%s GiB/s" % fmt_sig(v / 2 ** 30) if v >= 2 ** 30 else
                "%s MiB/s" % fmt_sig(v / 2 ** 20))
    if metric == "randread":
        v = med("iops", lambda t: 1 / t)
        return "%s IOPS" % fmt_sig(v) if math.isfinite(v) else "–"
    return fmt_time(med("p50_s", lambda t: t))


def _p99(cell):
    return fmt_time(median_of(cell.counters.get("p99_s", [])))


def plot_isolation(report, rows, metrics, stressors):
    """rows: [(label, color, hatch, {(stressor, metric): Degradation})]: a panel per
    victim metric, grouped by stressor, a bar per backend."""
    fig, axes = pyplot().subplots(len(metrics), 1, figsize=(12, 3.2 * len(metrics)),
                                  layout="constrained", squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics):
        here = [s for s in stressors if any((s, metric) in r[3] for r in rows)]
        width = 0.8 / max(len(rows), 1)
        for ri, (label, color, hatch, values) in enumerate(rows):
            for si, s in enumerate(here):
                d = values.get((s, metric))
                if d is None or not d.measured:
                    continue
                x = si + (ri - (len(rows) - 1) / 2) * width
                bar = ax.bar([x], [d.percent], width=width * 0.92, color=color, hatch=hatch,
                             edgecolor="white", label=label if si == 0 else None)
                if d.no_difference:
                    bar[0].set_alpha(0.35)
                if math.isfinite(d.lo):
                    ax.errorbar([x], [d.percent], yerr=[[d.percent - d.lo], [d.hi - d.percent]],
                                fmt="none", ecolor="black", capsize=3, linewidth=1)
        ax.axhline(0, color="black", linewidth=1)
        ax.set_xticks(range(len(here)))
        ax.set_xticklabels(["beside " + s for s in here], fontsize=9)
        ax.set_xlim(-0.6, max(len(here), 1) - 0.4)
        ax.set_ylabel("victim slower by (%)")
        ax.set_title("Victim figure: %s — degradation against alone, same round (95%% CI)"
                     % _METRIC_TEXT.get(metric, metric), fontsize=10.5, loc="left")
        ax.grid(axis="y", alpha=0.35)
        ax.set_axisbelow(True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8.5, loc="center left", bbox_to_anchor=(1.01, 0.5),
                      frameon=False)
    return fig


def section_isolation(report):
    cells = {}
    for c in report.cells:
        if c.family != "Isolation":
            continue
        m = _PARAMS.match(c.params)
        if m:
            cells[(c.series.index, c.backend, m.group("stressor"), m.group("metric"))] = c
    if not cells:
        return "", []
    ratios = {}
    for c in report.cells:
        if c.family != "Ratio":
            continue
        m = _RATIO.match(c.params)
        if m:
            ratios[(c.series.index, c.backend, m.group("stressor"), m.group("metric"))] = c
    multi = len(report.series) > 1
    backends = backend_order(report, {k[1] for k in cells})
    keys = sorted({(k[0], k[1]) for k in cells}, key=lambda k: (backends.index(k[1]), k[0]))
    stressors = _order({k[2] for k in cells if k[2] != "alone"}, STRESSORS)
    metrics = _order({k[3] for k in cells}, METRICS)

    def label(key):
        s = report.series[key[0]]
        return s.backend_label(key[1]) + ((" — " + s.label) if multi else "")

    deg = {}  # (key, stressor, metric) -> Degradation
    for (si, b, s, m), c in cells.items():
        if s != "alone":
            deg[((si, b), s, m)] = Degradation(report, ratios.get((si, b, s, m)), c)

    first = report.series[0]
    policy = first.results.get("context", {}).get("bench.isolation.policy", "")
    not_measured = first.results.get("context", {}).get("bench.isolation.not_measured", "")
    out = ['<section><h2 id="isolation">Performance isolation</h2>',
           '<p class="note">On each backend a victim instance measures a figure alone (its '
           'neighbour idle), then beside a neighbour of the same spec running one stressor at '
           'a time: <code>cpu</code> (stress-ng, a spinning worker per CPU), <code>memory</code> '
           '(stress-ng, 1.5× the memory limit), <code>fork</code> (stress-ng, forking into the '
           'pids limit), <code>disk</code> (fio, 1 MiB writes with an fsync each), '
           '<code>net_send</code> / <code>net_recv</code> (an iperf3 stream to / from the '
           'host). Degradation is the median of the same round\'s stressed ÷ alone ratios, '
           'minus 1: above 0 the victim got slower. Matrix colours: below 5 %% green, below '
           '25 %% yellow, below 100 %% orange, 100 %% and above red. A cell shows the '
           'largest degradation whose 95 %% interval excludes 0 and names the larger ones '
           'whose interval does not; when every interval includes 0 it is grey and says '
           '<b>no difference</b>. One of fewer than '
           '%d rounds (the TCG guest\'s) has no interval; a case that failed is red and '
           'says so, never green.%s%s</p>'
           % (MIN_ROUNDS_FOR_CI, (" Policy: " + esc(policy) + ".") if policy else "",
              (" Not measured: " + esc(not_measured) + ".") if not_measured else "")]

    # The matrix: the worst (largest) median degradation over the metrics measured beside
    # each stressor.
    head = ["backend"] + ["beside <code>%s</code>" % esc(s) for s in stressors]
    rows, classes = [], {}
    for key in keys:
        if report.is_reference(key[1]):
            classes[len(rows)] = "reference"
        row = [esc(label(key)).replace(" ", "\u00a0")]
        for s in stressors:
            here = [(m, deg[(key, s, m)]) for m in metrics if (key, s, m) in deg]
            if not here:
                row.append("–")
                continue
            failed = [(m, d) for m, d in here if d.errors or not d.measured]
            if failed:
                why = "; ".join(sorted({e for _, d in failed for e in d.errors})) or "no sample"
                row.append('<span class="iso-failed v-regressed" style="background:%s;'
                           'display:block;padding:2px 4px" title="%s">failed (%s)</span>'
                           % (BANDS[-1][2], esc(why), esc(", ".join(m for m, _ in failed))))
                continue
            m, worst, hidden = _worst(here)
            cls, color = band(worst.percent)
            text = worst.text()
            if worst.no_difference:
                cls, color = "iso-same", NO_DIFFERENCE_COLOR
                text = "no difference <small>(%+.0f %%, 95%% CI %+.0f – %+.0f)</small>" % (
                    worst.percent, worst.lo, worst.hi)
            more = "".join("<br><small>%s: %+.0f %%, not told apart</small>"
                           % (esc(_METRIC_TEXT.get(hm, hm)), hd.percent) for hm, hd in hidden)
            row.append('<span class="%s" style="background:%s;display:block;padding:2px 4px">'
                       '%s<br><small>%s</small>%s</span>'
                       % (cls, color, text, esc(_METRIC_TEXT.get(m, m)), more))
        rows.append(row)
    out.append("<h3>Isolation matrix: the victim's worst degradation beside each "
               "stressor</h3>")
    out.append(table(head, rows, classes, numeric_from=1))
    out.append(
        '<p class="note"><b>The historic reference.</b> Matthews, Hu, Hapuarachchi, Deshane '
        'et al., "Quantifying the Performance Isolation Properties of Virtualization Systems" '
        '(ExpCS 2007), the Isolation Benchmark Suite: six stress tests (CPU, memory, fork '
        'bomb, disk-intensive, network sender, network receiver) run in one of several guests '
        'serving web requests, and the drop in the others\' good responses measured, on '
        'VMware Workstation, Xen, OpenVZ and Solaris Containers. The paper found full '
        'virtualization (VMware) isolating the well-behaved guests completely in every test; '
        'paravirtualized Xen nearly as well, no degradation in many tests and at most 1.7 % '
        'in the disk-intensive one; and the OS-level systems varied from resource to '
        'resource. In the authors\' published results table, OpenVZ\'s limits held against '
        'the memory and fork-bomb tests while the network tests reached its well-behaved '
        'guests. Its figures are web response rates on 2007 hardware, not comparable with '
        'the degradations above; this matrix asks the same question of today\'s runtimes on '
        'one host.</p>')

    plot_rows = []
    for key in keys:
        values = {(s, m): d for (k, s, m), d in deg.items() if k == key}
        hatch = "//" if report.is_reference(key[1]) else None
        plot_rows.append((label(key), backend_color(report, key[1]), hatch, values))
    if any(d.measured for d in deg.values()):
        out.append(report.add_figure(plot_isolation(report, plot_rows, metrics, stressors),
                                     "isolation"))

    headers = ["backend", "neighbour", "victim figure", "n", "median", "p99",
               "degradation"]
    rows, classes = [], {}
    for key in keys:
        for s in ("alone",) + tuple(stressors):
            for m in metrics:
                cell = cells.get(key + (s, m))
                if cell is None:
                    continue
                if report.is_reference(key[1]):
                    classes[len(rows)] = "reference"
                row = [esc(label(key)).replace(" ", "\u00a0"),
                       "idle" if s == "alone" else esc(s), esc(_METRIC_TEXT.get(m, m))]
                if not cell.samples:
                    row += failed_cells(cell, 2)
                    rows.append(row)
                    continue
                row += [str(len(cell.samples)), _figure(cell, m),
                        _p99(cell) if m in ("latency", "tcp_rr", "randread") else "–",
                        "–" if s == "alone" else deg[(key, s, m)].text()]
                rows.append(row)
    out.append("<h3>The figures behind it</h3>")
    out.append(table(headers, rows, classes, numeric_from=3))

    # What the limits did.
    limit_rows = []
    for key in keys:
        def counter(s, m, name):
            c = cells.get(key + (s, m))
            vals = sorted(v for v in (c.counters.get(name, []) if c else [])
                          if math.isfinite(v))
            return vals
        cpu = [v for m in metrics for v in counter("cpu", m, "neighbour_cpu_vs_quota")]
        # A row's oom_kills counts from the memory hog's start, so with several victim
        # figures beside one hog the last one measured holds the earlier ones' kills: the
        # figure whose rounds add up to the most.
        ooms = max((counter("memory", m, "oom_kills") for m in metrics), key=_most,
                   default=[])
        # Kills in the victim's limit or on the host outside both: each is a limit that
        # failed to keep the hog to itself.
        strays = []
        for name, where in (("oom_kills_victim", "in the victim"),
                            ("oom_kills_elsewhere", "elsewhere on the host")):
            vals = max((counter("memory", m, name) for m in metrics), key=_most, default=[])
            if vals:
                strays.append((sum(vals), where))
        pids = [v for m in metrics for v in counter("fork", m, "neighbour_pids")]
        limit = [v for m in metrics for v in counter("fork", m, "pids_limit")]
        weights = sorted({int(v) for m in metrics for v in counter("disk", m, "io_weight")})
        disk_labels = [lbl for m in metrics for lbl in (cells[key + ("disk", m)].labels
                                                        if key + ("disk", m) in cells else [])]
        sched = sorted({_disk_note(lbl) for lbl in disk_labels} - {""})
        dropped = sorted({_NOT_APPLIED.search(lbl).group(0) for lbl in disk_labels
                          if _NOT_APPLIED.search(lbl)})
        if weights:
            weight_text = ", ".join(str(w) for w in weights)
        elif dropped:
            weight_text = "not applied<br><small>%s</small>" % esc("; ".join(dropped))
        else:
            weight_text = "–"
        if sched and weight_text != "–":
            weight_text += "<br><small>%s</small>" % esc("; ".join(sched))
        if not (cpu or ooms or pids or weights):
            continue
        cpu.sort()
        oom_text = ("%d in %d rounds" % (sum(ooms), len(ooms))) if ooms else "–"
        for n, where in strays:
            oom_text += ("; " + _STRAY % (n, where)) if n else "; 0 %s" % where
        limit_rows.append([
            esc(label(key)).replace(" ", "\u00a0"),
            ("%s× <small>(%s – %s)</small>" % (fmt_sig(cpu[len(cpu) // 2]), fmt_sig(cpu[0]),
                                               fmt_sig(cpu[-1]))) if cpu else "–",
            oom_text,
            ("up to %d of %d" % (max(pids), max(limit))) if pids and limit else "–",
            weight_text])
    if limit_rows:
        out.append("<h3>What the limits did to the neighbour</h3>")
        out.append(table(["backend", "neighbour CPU ÷ quota (median, range)",
                          "OOM kills while the memory hog ran (the neighbour's own)",
                          "neighbour pids (fork)", "I/O weight held by the kernel (disk)"],
                         limit_rows, {}, numeric_from=1))
    _, summary = family_table(report, "Isolation")
    out.append("</section>")
    return "".join(out), summary
