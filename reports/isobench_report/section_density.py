"""The Density section: per-instance memory and the N-th startup against N, and the
density reached under the memory budget."""
import math
import re

from .fmt import esc, fmt_sig, fmt_time
from .markup import table
from .model import SERIES_COLORS, backend_color, backend_order, median_of
from .plotting import formatter, ms_formatter, pyplot
from .section_generic import family_table

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


def _teardown(rows):
    """'1.94 s for 1000 (1.94 ms each)' from the largest step that timed its teardown."""
    for n, cell in sorted(rows, key=lambda r: -r[0]):
        total = median_of(cell.counters.get("teardown_s", [math.nan]))
        if cell.samples and math.isfinite(total):
            return "%s for %d (%s each)" % (fmt_time(total), n, fmt_time(total / n))
    return "–"


def _density_label(report, backend, si):
    s = report.series[si]
    label = s.backend_label(backend)
    return label if len(report.series) == 1 else "%s — %s" % (label, s.label)


def _density_color(report, backend, backends, si):
    if len(report.series) == 1:
        return backend_color(report, backend)
    return SERIES_COLORS[(backends.index(backend) * len(report.series) + si)
                         % len(SERIES_COLORS)]


def plot_density(report, groups):
    """Per-instance memory (PSS solid, MemAvailable delta dashed) and the N-th
    instance's startup latency against N, one line per backend."""
    backends = backend_order(report, (b for b, _ in groups))
    fig, (mem, lat) = pyplot().subplots(1, 2, figsize=(13, 5.2), layout="constrained")
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
        # The slowest of each step's starts (p99 of the starts from the previous N).
        p99 = [(n, median_of(c.counters.get("step_ready_p99_s", [math.nan])) * 1e3)
               for n, c in ok]
        p99 = [(n, v) for n, v in p99 if math.isfinite(v) and v > 0]
        if p99:
            lat.plot([n for n, _ in p99], [v for _, v in p99], linestyle=":",
                     label="%s, p99 of the step's starts" % label,
                     **dict(style, marker="v", fillstyle="none"))
        all_n.update(n for n, _ in ok)
    for ax in (mem, lat):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(formatter(lambda v, _pos: "%g" % v))
        if all_n:
            ax.set_xticks(sorted(all_n))
            ax.set_xlim(min(all_n) / 1.3, max(all_n) * 1.3)
        ax.set_yscale("log")
        ax.set_xlabel("N = instances running")
        ax.grid(which="major", alpha=0.35)
        ax.grid(axis="y", which="minor", alpha=0.1)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8.5, loc="best")
    mem.yaxis.set_major_formatter(formatter(lambda v, _pos: "%g" % v))
    mem.set_ylabel("memory per instance (MiB, log scale)")
    mem.set_title("Per-instance memory vs N (solid: PSS, dashed: MemAvailable Δ / N)"
                  + ("\n%d zero or missing value(s) not drawn" % dropped if dropped else ""),
                  fontsize=10.5)
    lat.yaxis.set_major_formatter(ms_formatter())
    lat.set_ylabel("create request → ready of the N-th instance (ms, log scale)")
    lat.set_title("Startup latency of the N-th instance vs N (dotted: p99 of the step)",
                  fontsize=10.5)
    if not drawn:
        pyplot().close(fig)
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
           'from smaps_rollup; the charge of its own memory cgroup, user and kernel, and the '
           'kernel part of it; the host\'s MemAvailable drop divided by N, signed, with the '
           'kernel\'s per-CPU counters folded and the per-CPU free page lists added back, '
           'which MemAvailable does not count and which otherwise hide a small ramp; guest '
           'RAM for VMs) and the create → ready time of the N-th '
           'instance. The ramp stops at the memory budget. A figure a backend cannot give is '
           'shown as – with the reason below the table, never as 0.</p>']
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
    rows, classes, missing = [], {}, []
    for b, si in keys:
        reached, reason, budget = density_reached(groups[(b, si)])
        last = next((c for n, c in reversed(groups[(b, si)]) if n == reached and c.samples),
                    None)

        def mib(key, cell=last):
            v = median_of(cell.counters.get(key, [math.nan])) / MIB if cell else math.nan
            return "%s MiB" % fmt_sig(v) if math.isfinite(v) else "–"
        if report.is_reference(b):
            classes[len(rows)] = "reference"
        rows.append([esc(_density_label(report, b, si)),
                     "<b>%d</b>" % reached if reached else "0",
                     ('<span class="v-regressed">%s</span>' if budget else "%s") % esc(reason),
                     mib("pss_per_instance_bytes"),
                     mib("cgroup_memory_per_instance_bytes"),
                     mib("kernel_memory_per_instance_bytes"),
                     mib("mem_available_delta_per_instance_bytes"),
                     mib("guest_memory_per_instance_bytes"),
                     mib("harness_pss_delta_per_instance_bytes"),
                     fmt_time(median_of(last.samples)) if last else "–",
                     _teardown(groups[(b, si)])])
        for label in (last.labels if last else []):
            missing.append("<li><b>%s</b>: %s</li>" % (esc(_density_label(report, b, si)),
                                                       esc(label)))
    out.append(table(["backend", "instances reached", "why the ramp stopped",
                      "PSS / instance at that N", "cgroup charge / instance",
                      "kernel / instance", "MemAvailable Δ / instance",
                      "guest RAM / instance", "harness PSS Δ / instance", "N-th startup",
                      "teardown of the largest pool"],
                     rows, classes, numeric_from=3))
    if missing:
        out.append('<p class="note">Not measured:</p><ul class="note">%s</ul>'
                   % "".join(missing))
    out.append('<p class="note">Harness PSS Δ: what the benchmark process itself holds per '
               'live instance. The native runtime keeps no process per instance, so for '
               '<code>container</code> this and the instance\'s own PSS are all it costs; '
               'runc and Docker keep their share in shims and daemons, outside it.</p>')
    html_, summary = family_table(report, "Density")
    out.append("<details><summary>every step with all counters</summary>%s</details>" % html_)
    out.append("</section>")
    return "".join(out), summary
