"""The Overhead section: the same micro-benchmark inside each instance and on the
host, as a slowdown."""
import math

from .fmt import bw_text, esc, fmt_sig, fmt_time, rate_text
from .markup import table
from .model import SERIES_COLORS, Ratio, backend_color, backend_order
from .plotting import formatter, pyplot
from .section_generic import family_table

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
        return bw_text(value)
    if key == "faults_per_s":
        return rate_text(value) + "/s"
    if key == "ns_per_op":
        return fmt_time(value * 1e-9)
    return fmt_time(value)


def _faster_than_host(slow, shi):
    """An instance measured faster than the host it runs on: the interval's upper end
    below 1×, or, without an interval, a median below 0.8×."""
    if not math.isfinite(slow) or slow <= 0:
        return False
    return shi < 1 if math.isfinite(shi) else slow < 0.8


def _why_faster(series, backend):
    """What to look at first when an instance beats its own host."""
    if series.kind(backend) != "vm":
        return ("The instance and the host share one kernel: look for what differs between "
                "the two rows (CPU placement, the page cache, one noisy round) before reading "
                "it as a speed-up.")
    hypervisor = series.context.get("env.hypervisor", "")
    host_is_vm = hypervisor not in ("", "none")
    if host_is_vm and series.accelerator.startswith("tcg"):
        return ("This host is itself a virtual machine (hypervisor: %s), so its own system "
                "calls and page faults can exit to that hypervisor, while a guest under TCG "
                "emulates them inside qemu's process without an exit. The slowdown compares "
                "this guest with this host, not with hardware." % hypervisor)
    return ("The guest times itself: check its clock source first%s." % (
        ", and that this host is itself a virtual machine (hypervisor: %s)" % hypervisor
        if host_is_vm else ""))


def section_overhead(report):
    cells = [c for c in report.cells if c.family == "Overhead"]
    if not cells:
        return "", []
    multi = len(report.series) > 1
    tests = sorted({c.params for c in cells})
    backends = backend_order(report, (c.backend for c in cells))
    rows, classes, points = [], {}, []  # points: (label, slowdown, lo, hi, backend, si, no difference)
    faster = []  # instances measured faster than their host: a finding, not a speed-up
    for test in tests:
        group = [c for c in cells if c.params == test]
        key, higher, what = _overhead_metric(group)
        for b in backends:
            for s in report.series:
                cell = next((c for c in group if c.backend == b and c.series is s), None)
                if cell is None:
                    continue
                host = next((c for c in group if s.is_host_floor(c.backend) and c.series is s),
                            None)
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
                             "–" if s.is_host_floor(b) else (
                                 "%s%s×%s" % ("no difference " if r.no_difference else "",
                                              fmt_sig(slow), " <small>(%s – %s)</small>"
                                              % (fmt_sig(slo), fmt_sig(shi))
                                              if math.isfinite(slo) else "")
                                 if math.isfinite(slow) else "no host row")])
                if not s.is_host_floor(b) and math.isfinite(slow) and slow > 0:
                    points.append((label, slow, slo, shi, b, s.index, r.no_difference))
                if not s.is_host_floor(b) and _faster_than_host(slow, shi):
                    host_med, _, _ = report.median_ci(_metric_values(host, key))
                    faster.append("%s%s, %s: slowdown %s× (%s against the host's %s). %s" % (
                        s.backend_label(b), (" — " + s.label) if multi else "", test,
                        fmt_sig(slow), _metric_text(med, key), _metric_text(host_med, key),
                        _why_faster(s, b)))
    out = ['<section><h2 id="overhead">Overhead</h2>',
           '<p class="note">The same micro-benchmark inside each instance and on the host. '
           'Slowdown = how many times worse than the host (time per op ÷ host\'s, or host\'s '
           'rate ÷ this rate): 1× is host speed, above is slower. The interval is the 95% '
           'distribution-free interval of the ratio (Mann–Whitney, from the C++ core).</p>']
    if points:
        fig, ax = pyplot().subplots(figsize=(10, 0.42 * len(points) + 1.3), layout="constrained")
        for y, (label, slow, lo, hi, b, si, same) in enumerate(points):
            color = (backend_color(report, b) if not multi
                     else SERIES_COLORS[si % len(SERIES_COLORS)])
            err = ([[slow - lo], [hi - slow]] if math.isfinite(lo) and math.isfinite(hi)
                   else None)
            ax.errorbar(slow, y, xerr=err, fmt="o", color=color, ecolor="black",
                        markersize=7, capsize=4, linewidth=1)
            # An interval that includes 1× is no difference from the host: said so.
            ax.annotate("= host" if same else "%s×" % fmt_sig(slow),
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
        ax.xaxis.set_major_formatter(formatter(lambda v, _pos: "%g×" % v))
        ax.set_xlabel("slowdown relative to the host (1× = host; median and 95% CI, log scale)")
        ax.grid(axis="x", which="major", alpha=0.35)
        out.append(report.add_figure(fig, "overhead"))
    out.append(table(["test", "backend"] + (["series"] if multi else []) +
                     ["n", "median", "95% CI", "slowdown vs host"], rows, classes,
                     numeric_from=3 if multi else 2))
    if faster:
        out.append('<p class="note"><b>Faster than the host</b>, a finding to explain rather than '
                   'a speed-up:</p><ul class="note">%s</ul>'
                   % "".join("<li>%s</li>" % esc(f) for f in faster))
        report.warnings += ["overhead: faster than the host: " + f for f in faster]
    _, summary = family_table(report, "Overhead")
    out.append("</section>")
    return "".join(out), summary
