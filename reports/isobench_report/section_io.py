"""The I/O section: fio jobs inside each instance as ratios to the host's same job."""
import math
import re

from .fmt import bw_text, esc, fmt_sig, fmt_time, rate_text
from .markup import failed_cells, ratio_text, table
from .model import Ratio, backend_order
from .plotting import formatter, pyplot
from .section_generic import family_table

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


def is_large_block(bs):
    """A large-block job is judged by its bandwidth, a small-block one by its IOPS."""
    return bs.endswith("M") or bs.endswith("G")


def ratios_to_host(report, series, backend):
    """[(job, ratio)] for one backend's jobs in one input: bandwidth (large blocks) or
    IOPS (small blocks) ÷ the host's same job, as the ratio of the medians; NaN when the
    job failed or the host has no such job. Empty when the backend ran no job."""
    jobs = io_jobs(report)
    host = {(rw, bs, qd): c for c, _, rw, bs, qd in jobs
            if c.series is series and series.is_host_floor(c.backend) and c.samples}
    out = []
    for c, target, rw, bs, qd in sorted(
            (j for j in jobs if j[0].series is series and j[0].backend == backend),
            key=lambda j: (j[1],) + _job_key(*j[2:])):
        metric = "bw_bytes_per_s" if is_large_block(bs) else "iops"
        ref = host.get((rw, bs, qd))
        ratio = math.nan
        if c.samples and ref is not None:
            value = report.median_ci(c.counters.get(metric, []))[0]
            base = report.median_ci(ref.counters.get(metric, []))[0]
            if math.isfinite(value) and math.isfinite(base) and base > 0:
                ratio = value / base
        out.append(("%s %s %s qd%d" % (target, rw, bs, qd), ratio))
    return out


def _job_key(rw, bs, qd):
    rank = _IO_RW_ORDER.index(rw) if rw in _IO_RW_ORDER else len(_IO_RW_ORDER)
    return (bs, rank, rw, qd)


def plot_io(panels):
    """panels: [(title, ylabel, [(job label, {target key: Ratio})], is_ratio,
    [(target key, label, color, hatch)])]; ratios on a log axis around 1×."""
    fig, axes = pyplot().subplots(len(panels), 1, figsize=(13, 4.1 * len(panels)),
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
                texts.append(("= host" if nodiff[-1] else "%s×" % fmt_sig(v)) if is_ratio
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
            ax.yaxis.set_major_formatter(formatter(lambda v, _pos: "%g×" % v))
        else:
            ax.yaxis.set_major_formatter(formatter(lambda v, _pos: fmt_time(v)))
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
            if c.series.is_host_floor(c.backend) and c.samples}
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
    palette = pyplot().get_cmap("tab10")
    targets_all = [(tk, tlabel(tk), palette(i % 10),
                    "//" if report.is_reference(tk[1]) else None)
                   for i, tk in enumerate(target_keys)]
    targets_vs = [t for t in targets_all if not report.series[t[0][0]].is_host_floor(t[0][1])]

    def panel(bs_pred, metric):
        out = []
        for job in job_keys:
            if not bs_pred(job[1]):
                continue
            vals = {tk: ratios[(tk, job)][metric] for tk in target_keys if (tk, job) in ratios}
            out.append(("%s %s qd%d" % (job[0], job[1], job[2]), vals))
        return out
    panels = []
    bw = panel(is_large_block, "bw_bytes_per_s")
    if bw and host:
        panels.append(("Bandwidth of the large-block jobs, relative to the host's same job",
                       "bandwidth ÷ host (log scale)", bw, True))
    iops = panel(lambda bs: not is_large_block(bs), "iops")
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
                row += failed_cells(cell, 6)
                rows.append(row)
                continue
            r = ratios[(tk, job)]
            row += [str(len(cell.samples)), bw_text(r["bw_bytes_per_s"].median),
                    rate_text(r["iops"].median), fmt_time(r["lat_p50_s"].median),
                    fmt_time(r["lat_p99_s"].median)]
            row += (["–"] * 3 if report.series[tk[0]].is_host_floor(tk[1]) else
                    [ratio_text(r[m]) for m in ("bw_bytes_per_s", "iops", "lat_p99_s")])
            rows.append(row)
    out.append(table(headers, rows, classes, numeric_from=2))
    _, summary = family_table(report, "Io")
    out.append("</section>")
    return "".join(out), summary
