"""HTML pieces shared by the sections: tables and the gate's verdict cells."""
import math

from .fmt import esc, fmt_change, fmt_sig


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


def ratio_text(r):
    """A model.Ratio as "2.1× (95% CI 1.9 – 2.3)", or "no difference" when its interval
    includes 1."""
    if not math.isfinite(r.ratio):
        return "–"
    text = "%s×" % fmt_sig(r.ratio)
    if r.no_difference:
        text = "no difference <small>(%s×)</small>" % fmt_sig(r.ratio)
    if math.isfinite(r.rlo):
        text += " <small>(95%% CI %s – %s)</small>" % (fmt_sig(r.rlo), fmt_sig(r.rhi))
    return text


def failed_cells(cell, blanks):
    """The cells of a table row whose benchmark gave no sample: n = 0, "failed" with its
    errors as the tooltip, then `blanks` dashes."""
    return ["0", '<span class="v-regressed" title="%s">failed</span>'
            % esc("; ".join(sorted(set(cell.errors))))] + ["–"] * blanks
