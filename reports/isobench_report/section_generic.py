"""Families without a section of their own: one table of every case and counter."""
from .fmt import esc, fmt_interval, fmt_number, fmt_sig, fmt_time
from .markup import comparison_cell, table
from .model import backend_order, median_of


def family_table(report, family):
    """The table of every case of one family with all its counters (HTML), and the
    summary rows for summary.md."""
    cells = [c for c in report.cells if c.family == family]
    counters = sorted({k for c in cells for k in c.counters})
    cases = sorted({c.params for c in cells})
    backends = backend_order(report, (c.backend for c in cells))
    multi = len(report.series) > 1
    # Ratio/...: one time over another, without a unit.
    ratio = family == "Ratio"
    headers = (["case", "backend"] + (["series"] if multi else []) +
               ["n", "ratio (median)" if ratio else "time (median)", "95% CI"] +
               (["vs " + esc(report.series[0].label)] if multi else []) +
               ["<code>%s</code>" % esc(k) for k in counters])
    rows, classes, summary = [], {}, []
    for case in cases:
        for b in backends:
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
                if ratio:
                    row += [str(len(cell.samples)), "<b>%s×</b>" % fmt_sig(med),
                            "%s× – %s×" % (fmt_sig(lo), fmt_sig(hi))]
                else:
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
        out.append('<p class="note">Medians of the repetitions%s; counters are shown as '
                   'written, the unit is in their name.</p>'
                   % (" (each one time over another, measured in the same round)"
                      if family == "Ratio" else ""))
        out.append(html_)
        out.append("</section>")
    return "".join(out), summary
