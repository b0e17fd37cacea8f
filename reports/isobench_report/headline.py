"""The headline that opens the report: per backend, the figures a reader comes for,
each column linked to the section that shows how it was measured.

  start           the serial Startup case: median, 95% bootstrap interval, n
  × host floor    ratio to the host floor (kind host, role floor in the results'
                  context): the run's paired per-round Ratio rows when it wrote them,
                  else the ratio of the medians with the C++ core's interval
  × its yardstick the same against each yardstick of the backend's own kind (role
                  reference or floor: runc for containers, qemu without libvirt for VMs)
  memory          PSS per instance at the highest N the Density ramp reached
  I/O ÷ host      the lowest and highest of the backend's job ratios to the host's job
  conformance     pass / fail / skip / error per profile of the verdict file
  gate            the regression gate's statuses for the backend's rows (later inputs)

A figure the inputs do not hold says so ("not measured", "no host floor row"); a
column that no input holds is left out and named below the table. Nothing here is
computed that a section does not show.
"""
import collections
import math

from .fmt import esc, fmt_interval, fmt_sig, fmt_time
from .model import Ratio, backend_order, joint_backend_label, median_of
from .section_conformance import target_counts
from .section_density import MIB, density_cells, density_reached
from .section_io import io_jobs, ratios_to_host
from .section_startup import startup_cases


def _missing(text):
    return '<span class="missing">%s</span>' % esc(text)


def _startup_case(report):
    """(case, {(backend, series index): cell}) of the serial Startup case, or (None, {})."""
    cells = [c for c in report.cells if c.family == "Startup"]
    if not cells:
        return None, {}
    case = startup_cases(cells)[0]
    return case, {(c.backend, c.series.index): c for c in cells if c.params == case}


def _start_text(report, cell):
    if cell is None:
        return _missing("not measured")
    if not cell.samples:
        return _missing("failed (%d)" % len(cell.errors))
    med, lo, hi = report.median_ci(cell.samples)
    interval = ("95%% CI %s" % fmt_interval(lo, hi) if math.isfinite(lo) and math.isfinite(hi)
                and len(cell.samples) > 1 else "no interval")
    return "<b>%s</b><br><small>%s · n=%d</small>" % (fmt_time(med), interval,
                                                      len(cell.samples))


def _ratio_to(report, case, cells, s, backend, ref):
    """The start ratio of backend to ref in series s: the paired per-round rows
    Ratio/<backend>/Startup:<case>/vs:<ref> when the run wrote them, else the ratio of
    the medians with the Mann–Whitney interval of the C++ core."""
    paired = next((c for c in report.cells if c.family == "Ratio" and c.series is s
                   and c.backend == backend and c.params == "Startup:%s/vs:%s" % (case, ref)
                   and c.samples), None)
    if paired is not None:
        med, lo, hi = report.median_ci(paired.samples)
        n = len(paired.samples)
        return _ratio_cell("%s×" % fmt_sig(med), ref, "95%% CI %s–%s · %d paired rounds"
                           % (fmt_sig(lo), fmt_sig(hi), n)
                           if n > 1 and math.isfinite(lo) else "one paired round")
    cell, base = cells.get((backend, s.index)), cells.get((ref, s.index))
    if cell is None or not cell.samples:
        return _missing("no start of its own")
    if base is None or not base.samples:
        return _missing("no %s start" % ref)
    r = Ratio(report, cell.samples, base.samples)
    if not math.isfinite(r.ratio):
        return _missing("no ratio")
    main = ("no difference (%s×)" if r.no_difference else "%s×") % fmt_sig(r.ratio)
    return _ratio_cell(main, ref, "95%% CI %s–%s" % (fmt_sig(r.rlo), fmt_sig(r.rhi))
                       if math.isfinite(r.rlo) else "no interval: n=%d vs %d"
                       % (len(cell.samples), len(base.samples)))


def _ratio_cell(main, ref, interval):
    return "<b>%s</b><br><small>vs %s · %s</small>" % (esc(main), esc(ref), esc(interval))


def _floor_text(report, case, cells, s, backend):
    floors = s.host_floor()
    if backend in floors:
        return _missing("the floor")
    if not floors:
        return _missing("no host floor in the results")
    return "<br>".join(_ratio_to(report, case, cells, s, backend, f) for f in floors)


def _yardstick_text(report, case, cells, s, backend):
    kind = s.kind(backend)
    if not kind:
        return _missing("kind not in the results")
    if s.is_reference(backend):
        return _missing("a yardstick itself")
    yardsticks = backend_order(report, [y for y, si in cells if si == s.index and y != backend
                                        and s.kind(y) == kind and kind != "host"
                                        and s.is_reference(y)])
    # A backend that names its yardsticks (a VM: the plain qemu of its own kernel) is set
    # beside those only.
    named = s.context.get("backend.%s.yardstick" % backend)
    if named is not None:
        yardsticks = [y for y in yardsticks if y in named.split(",")]
    if not yardsticks:
        return _missing("none of its kind measured")
    return "<br>".join(_ratio_to(report, case, cells, s, backend, y) for y in yardsticks)


def _memory_text(groups, backend, si):
    rows = (groups or {}).get((backend, si))
    if not rows:
        return _missing("not measured")
    reached, reason, _ = density_reached(rows)
    if not reached:
        return _missing(reason)
    last = next((c for n, c in reversed(rows) if n == reached and c.samples), None)
    if last is None:
        return _missing(reason)
    pss = median_of(last.counters.get("pss_per_instance_bytes", [math.nan])) / MIB
    if not math.isfinite(pss):
        return _missing("no PSS at N=%d" % reached)
    return "<b>%s MiB</b><br><small>PSS at N=%d</small>" % (fmt_sig(pss), reached)


def _io_text(report, s, backend):
    if s.is_host_floor(backend):
        return _missing("the reference")
    ratios = ratios_to_host(report, s, backend)
    if not ratios:
        return _missing("not measured")
    finite = [r for _, r in ratios if math.isfinite(r)]
    title = esc("; ".join("%s: %s" % (job, "%s×" % fmt_sig(r) if math.isfinite(r) else "–")
                          for job, r in ratios))
    if not finite:
        return '<span class="missing" title="%s">no ratio (failed, or no host job)</span>' % title
    text = ("%s×" % fmt_sig(finite[0]) if len(finite) == 1 else
            "%s× – %s×" % (fmt_sig(min(finite)), fmt_sig(max(finite))))
    rest = len(ratios) - len(finite)
    return '<span title="%s"><b>%s</b><br><small>%d job%s%s</small></span>' % (
        title, text, len(ratios), "" if len(ratios) == 1 else "s",
        ", %d without a ratio" % rest if rest else "")


def _conformance_text(counts, not_run, backend):
    lines = []
    for (b, profile), c in counts.items():
        if b != backend:
            continue
        lines.append('<small>%s</small><br>%s' % (
            esc(profile or "–"), " · ".join(
                ('<span class="v v-fail">%d fail</span>' if v == "fail" and c[v] else "%d " + v)
                % c[v] for v in ("pass", "fail", "skip", "error"))))
    for b, profile, reason in not_run:
        if b == backend:
            lines.append('<small>%s</small><br><span class="missing" title="%s">not run</span>'
                         % (esc(profile or "–"), esc(reason)))
    return "<br>".join(lines) or _missing("not graded")


def _gate_text(report, s, backend):
    if s.index == 0:
        return _missing("the base")
    verdict = report.verdicts.get(s.index)
    if not verdict:
        return _missing("no verdict")
    runs = {c.run["run_name"] for c in report.cells if c.series is s and c.backend == backend}
    statuses = collections.Counter(row["status"] for row in verdict["rows"]
                                   if row["key"].rsplit(":", 1)[0] in runs)
    if not statuses:
        return _missing("no row of its own")
    return ", ".join('<span class="v-%s">%d %s</span>' % (esc(k.replace(" ", "-")), n, esc(k))
                     for k, n in sorted(statuses.items()))


def _gate_lines(report):
    out = []
    for s in report.series[1:]:
        v = report.verdicts.get(s.index)
        if not v:
            continue
        code = v.get("exit_code")
        css = {0: "v-improved", 3: "v-regressed"}.get(code, "v-cannot-judge")
        out.append('<p class="gate"><b>Regression gate</b>, %s against %s (%s): '
                   '<span class="%s">%s</span></p>' % (
                       esc(s.label), esc(report.series[0].label), esc(v.get("kind", "")),
                       css, esc(v.get("exit_meaning", "exit %s" % code))))
    return "".join(out)


def section_headline(report, conformance=None):
    """The headline's HTML ("" when the inputs hold none of its figures)."""
    case, cells = _startup_case(report)
    groups = density_cells(report)
    has_io = bool(io_jobs(report))
    counts, not_run = target_counts(conformance) if conformance is not None else ({}, [])
    multi = len(report.series) > 1
    present = {(c.backend, c.series.index) for c in report.cells
               if c.family != "Ratio" and c.backend != "–"}
    graded = {b for b, _ in counts} | {b for b, _, _ in not_run}
    # A backend with no figure and no graded profile (absent here, its conformance
    # targets not run) is named under the table, not given a row of blanks.
    unused = sorted(graded - {b for b, _ in present} - {b for b, _ in counts})
    backends = backend_order(report, ({b for b, _ in present} | graded) - set(unused))
    if not backends:
        return ""
    columns = [("backend", None)] + ([("input", None)] if multi else [])
    if cells:
        columns += [("start: create → ready<br><small>Startup/%s</small>" % esc(case),
                     "startup"), ("× host floor", "startup"), ("× its yardstick", "startup")]
    if groups:
        columns.append(("memory / instance", "density"))
    if has_io:
        columns.append(("I/O ÷ host<br><small>bandwidth or IOPS</small>", "io"))
    if conformance is not None:
        columns.append(("conformance", "conformance"))
    if multi:
        columns.append(("gate vs %s" % esc(report.series[0].label), None))
    head = "".join("<th>%s</th>" % ('<a href="#%s">%s</a>' % (a, h) if a else h)
                   for h, a in columns)
    rows = []
    for b in backends:
        in_series = [s for s in report.series if (b, s.index) in present] or [None]
        for i, s in enumerate(in_series):
            label = joint_backend_label(b, [x for x in in_series if x]) if s else b
            tds = []
            if i == 0:
                tag = ' <span class="tag">reference</span>' if report.is_reference(b) else ""
                tds.append('<td rowspan="%d"><b>%s</b>%s</td>' % (len(in_series), esc(label),
                                                                  tag))
            if multi:
                tds.append("<td>%s</td>" % (esc(s.label) if s else "–"))
            figures = []
            if cells:
                figures += ([_start_text(report, cells.get((b, s.index))),
                             _floor_text(report, case, cells, s, b),
                             _yardstick_text(report, case, cells, s, b)] if s else
                            [_missing("not measured")] * 3)
            if groups:
                figures.append(_memory_text(groups, b, s.index) if s else
                               _missing("not measured"))
            if has_io:
                figures.append(_io_text(report, s, b) if s else _missing("not measured"))
            tds += ['<td class="num">%s</td>' % f for f in figures]
            if conformance is not None and i == 0:
                tds.append('<td rowspan="%d">%s</td>' % (len(in_series),
                                                         _conformance_text(counts, not_run, b)))
            if multi:
                tds.append("<td>%s</td>" % (_gate_text(report, s, b) if s else "–"))
            cls = ' class="reference"' if report.is_reference(b) else ""
            rows.append("<tr%s>%s</tr>" % (cls, "".join(tds)))
    absent = [name for name, there in (
        ("startup", cells), ("per-instance memory (a Density n:&lt;N&gt; ramp)", groups),
        ("I/O jobs", has_io), ("a conformance verdict file", conformance is not None))
        if not there]
    notes = []
    if cells:
        notes.append("Start: the serial case's median with its 95% percentile-bootstrap "
                     "interval. Ratios: the run's paired per-round ratio rows when it wrote "
                     "them, else the ratio of the medians with the Mann–Whitney interval of "
                     "the C++ core; a yardstick is a reference or floor of the same kind.")
    if groups:
        notes.append("Memory: PSS per instance at the highest N the ramp reached.")
    if has_io:
        notes.append("I/O: the lowest and highest ratio over the backend's jobs (hover for "
                     "each job).")
    if absent:
        notes.append("Not in these inputs: %s." % ", ".join(absent))
    if unused:
        notes.append("Not run: %s (why: the Conformance section)." % ", ".join(
            esc(b) for b in unused))
    return ('<section class="headline"><h2 id="headline">Headline</h2>%s'
            '<div class="scroll"><table><thead><tr>%s</tr></thead><tbody>%s</tbody></table></div>'
            '<p class="note">%s</p></section>'
            % (_gate_lines(report), head, "".join(rows), " ".join(notes)))
