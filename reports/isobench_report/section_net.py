"""The network section: iperf3 streams and sockperf ping-pongs over every path, with
ratios to the host's loopback (the floor) running the same workload."""
import math
import re

from .fmt import esc, fmt_sig, fmt_time, rate_text
from .markup import failed_cells, ratio_text, table
from .model import Ratio, backend_order, backend_color
from .plotting import log_axis_labels, pyplot
from .section_generic import family_table

_NET_PARAMS = re.compile(r"^(?P<path>[a-z-]+):(?P<workload>[a-z_]+)$")
_WORKLOADS = ("tcp_stream", "tcp_stream_reverse", "tcp_rr", "udp_rr", "tcp_crr")
_WORKLOAD_TEXT = {
    "tcp_stream": "TCP stream, instance → server",
    "tcp_stream_reverse": "TCP stream, server → instance",
    "tcp_rr": "TCP request/response",
    "udp_rr": "UDP request/response",
    "tcp_crr": "TCP connect/request/close",
}


def is_stream(workload):
    return workload.startswith("tcp_stream")


def net_cells(report):
    """[(cell, path, workload)] for Net cells named <path>:<workload>."""
    out = []
    for c in report.cells:
        if c.family != "Net":
            continue
        m = _NET_PARAMS.match(c.params)
        if m:
            out.append((c, m.group("path"), m.group("workload")))
    return out


def _workload_key(w):
    return (_WORKLOADS.index(w) if w in _WORKLOADS else len(_WORKLOADS), w)


def _gbit(bits_per_s):
    return "–" if not math.isfinite(bits_per_s) else "%s Gbit/s" % fmt_sig(bits_per_s / 1e9)


def plot_net(report, rows, workloads):
    """rows: [(key, label, color, hatch, {workload: {"tput": Ratio, "p50": Ratio,
    "p99": [values]}})]: throughput ÷ floor for the streams, round trips (median bar,
    every round's p99 as a dot) for the ping-pongs."""
    streams = [w for w in workloads if is_stream(w)]
    rrs = [w for w in workloads if not is_stream(w)]
    panels = [p for p in (("tput", streams), ("rtt", rrs)) if p[1]]
    fig, axes = pyplot().subplots(len(panels), 1, figsize=(12, 4.0 * len(panels)),
                                  layout="constrained", squeeze=False)
    for ax, (kind, ws) in zip(axes[:, 0], panels):
        width = 0.8 / max(len(rows), 1)
        for ri, (_, label, color, hatch, values) in enumerate(rows):
            for wi, w in enumerate(ws):
                v = values.get(w)
                if not v:
                    continue
                x = wi + (ri - (len(rows) - 1) / 2) * width
                if kind == "tput":
                    r = v["tput"]
                    y = r.ratio if math.isfinite(r.ratio) else math.nan
                    if not (math.isfinite(y) and y > 0):
                        continue
                    bar = ax.bar([x], [y], width=width * 0.92, color=color, hatch=hatch,
                                 edgecolor="white", label=label if wi == 0 else None)
                    if r.no_difference:
                        bar[0].set_alpha(0.3)
                    if math.isfinite(r.rlo) and math.isfinite(r.rhi):
                        ax.errorbar([x], [y], yerr=[[y - r.rlo], [r.rhi - y]], fmt="none",
                                    ecolor="black", capsize=3, linewidth=1)
                    # Above the interval, so that the text does not cross its bar.
                    top = r.rhi if math.isfinite(r.rhi) and r.rhi > y else y
                    ax.annotate("= floor" if r.no_difference else "%s×" % fmt_sig(y), (x, top),
                                xytext=(0, 2), textcoords="offset points", ha="center",
                                va="bottom", fontsize=7, rotation=90)
                else:
                    r = v["p50"]
                    if not (math.isfinite(r.median) and r.median > 0):
                        continue
                    ax.bar([x], [r.median], width=width * 0.92, color=color, hatch=hatch,
                           edgecolor="white", label=label if wi == 0 else None)
                    p99 = [p for p in v["p99"] if math.isfinite(p) and p > 0]
                    if p99:
                        ax.scatter([x] * len(p99), p99, s=9, color="black", zorder=3,
                                   label="p99, one dot per round" if (ri, wi) == (0, 0)
                                   else None)
        ax.set_yscale("log")
        if kind == "tput":
            ax.axhline(1, color="black", linewidth=1, linestyle="--", label="loopback = 1×")
            log_axis_labels(ax.yaxis, lambda v: "%g×" % v)
            ax.set_ylabel("throughput ÷ loopback (log)")
            ax.set_title("Stream throughput, relative to the host's loopback", fontsize=10.5,
                         loc="left")
        else:
            log_axis_labels(ax.yaxis, fmt_time)
            ax.set_ylabel("round trip (log)")
            ax.set_title("Request/response round trip: median (bar) and p99 of each round "
                         "(dots); connect/request/close: time per transaction; lower is "
                         "better", fontsize=10.5, loc="left")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * 3)
        ax.set_xticks(range(len(ws)))
        ax.set_xticklabels([_WORKLOAD_TEXT.get(w, w) for w in ws], fontsize=9)
        ax.set_xlim(-0.6, len(ws) - 0.4)
        ax.grid(axis="y", which="major", alpha=0.35)
        ax.set_axisbelow(True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8.5, loc="center left", bbox_to_anchor=(1.01, 0.5),
                      frameon=False)
    return fig


def section_net(report):
    cells = net_cells(report)
    if not cells:
        return "", []
    multi = len(report.series) > 1
    floor = {(c.series.index, w): c for c, _, w in cells
             if c.series.is_host_floor(c.backend) and c.samples}
    backends = backend_order(report, (c.backend for c, _, _ in cells))
    keys = []
    for c, path, _ in sorted(cells, key=lambda t: (backends.index(t[0].backend), t[1],
                                                   t[0].series.index)):
        key = (c.series.index, c.backend, path)
        if key not in keys:
            keys.append(key)
    workloads = sorted({w for _, _, w in cells}, key=_workload_key)
    by_key = {(c.series.index, c.backend, p, w): c for c, p, w in cells}

    def label(key):
        si, b, path = key
        s = report.series[si]
        return "%s %s%s" % (s.backend_label(b), path, (" — " + s.label) if multi else "")

    stats = {}  # (key, workload) -> {"tput", "p50", "p99", "tps"}
    for key in keys:
        for w in workloads:
            cell = by_key.get(key + (w,))
            if cell is None:
                continue
            ref = floor.get((key[0], w))
            ref_counters = ref.counters if ref else {}
            if w == "tcp_crr":
                # The time per transaction (the cell's value: 1 / wrk's rate); wrk's
                # percentiles leave the connect out, so no p99 is drawn for it.
                none = Ratio(report, [], [])
                stats[(key, w)] = {
                    "tput": none,
                    "p50": Ratio(report, cell.samples, ref.samples if ref else []),
                    "p99r": none, "p99": [],
                    "tps": Ratio(report, cell.counters.get("transactions_per_s", []), []),
                }
                continue
            stats[(key, w)] = {
                "tput": Ratio(report, cell.counters.get("bits_per_s", []),
                              ref_counters.get("bits_per_s", [])),
                "p50": Ratio(report, cell.counters.get("rtt_p50_s", []),
                             ref_counters.get("rtt_p50_s", [])),
                "p99r": Ratio(report, cell.counters.get("rtt_p99_s", []),
                              ref_counters.get("rtt_p99_s", [])),
                "p99": list(cell.counters.get("rtt_p99_s", [])),
                "tps": Ratio(report, cell.counters.get("transactions_per_s", []), []),
            }
    rows_plot = []
    for key in keys:
        values = {w: stats[(key, w)] for w in workloads if (key, w) in stats}
        # Reference rows hatched "//", peer paths cross-hatched; a reference's peer both.
        hatch = (("//" if report.is_reference(key[1]) else "")
                 + ("xx" if key[2] == "peer" else "")) or None
        rows_plot.append((key, label(key), backend_color(report, key[1]), hatch, values))
    out = ['<section><h2 id="net">Network</h2>',
           '<p class="note">iperf3 (one TCP stream) and sockperf (ping-pong) between each '
           'instance and the host over the instance\'s own network (<code>host</code>: a '
           'veth or a VM\'s virtio-net on a tap, through the host\'s guarded bridge), between '
           'that instance and a second one of its backend across the same bridge '
           '(<code>peer</code>, cross-hatched), and the host to itself over loopback '
           '(<code>loopback</code>, the floor). The servers run on the host for '
           '<code>host</code>, in the second instance for <code>peer</code>; the client runs '
           'where the path starts. <code>tcp_crr</code> is wrk against lighttpd, a new TCP '
           'connection per request, one at a time: its p50 column is the time per '
           'transaction (1 / the rate), connect and close included. Throughput ratios are to '
           'the floor '
           '(below 1× is slower); latency ratios too (above 1× is slower). A ratio whose 95%% '
           'interval includes 1× is drawn faded as <b>no difference</b>.%s</p>'
           % ("" if floor else " <b>No loopback row</b>: no ratios can be drawn.")]
    if any(v for *_, v in rows_plot):
        out.append(report.add_figure(plot_net(report, rows_plot, workloads), "net"))
    headers = ["workload", "backend / path", "n", "throughput", "p50 RTT", "p99 RTT",
               "transactions/s", "throughput ÷ floor", "p50 ÷ floor", "p99 ÷ floor"]
    rows, classes = [], {}
    for w in workloads:
        for key in keys:
            cell = by_key.get(key + (w,))
            if cell is None:
                continue
            if report.is_reference(key[1]):
                classes[len(rows)] = "reference"
            row = [esc(_WORKLOAD_TEXT.get(w, w)).replace(" ", "\u00a0"),
                   esc(label(key)).replace(" ", "\u00a0")]
            if not cell.samples:
                row += failed_cells(cell, 6)
                rows.append(row)
                continue
            s = stats[(key, w)]
            is_floor = report.series[key[0]].is_host_floor(key[1])
            if is_stream(w):
                row += [str(len(cell.samples)), _gbit(s["tput"].median), "–", "–", "–"]
                row += ["–"] if is_floor else [ratio_text(s["tput"])]
                row += ["–", "–"]
            else:
                row += [str(len(cell.samples)), "–", fmt_time(s["p50"].median),
                        fmt_time(s["p99r"].median), rate_text(s["tps"].median), "–"]
                row += ["–", "–"] if is_floor else [ratio_text(s["p50"]), ratio_text(s["p99r"])]
            rows.append(row)
    out.append(table(headers, rows, classes, numeric_from=2))
    _, summary = family_table(report, "Net")
    out.append("</section>")
    return "".join(out), summary
