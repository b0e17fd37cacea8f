"""The page around the sections (report.html) and the Markdown summary (summary.md)."""
import datetime

from .fmt import esc, fmt_change, fmt_interval, fmt_sig, fmt_time
from .markup import verdict_text
from .model import joint_backend_label
from .section_environment import section_environment


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
td.v, span.v { text-align: center; font-size: 12.5px; white-space: nowrap; }
span.v { padding: 0 6px; border-radius: 3px; }
.v-pass { background: #d7f2dc; color: #0b5a1e; } .v-fail { background: #f8d3d3;
        color: #8a1010; font-weight: 600; } .v-skip, .v-none { background: #e6e6e6;
        color: #555; }
table.matrix th { font-size: 12.5px; } table.matrix td { padding: 2px 7px; }
tr.missed td { background: #fde8e8; }
details summary { cursor: pointer; color: #333; margin: 8px 0; }
.v-regressed { color: #b00020; font-weight: 600; } .v-improved { color: #08752b;
        font-weight: 600; } small { color: #666; font-weight: normal; }
nav a { margin-right: 14px; font-size: 14px; }
code { font-size: 12.5px; }
footer { margin-top: 40px; color: #777; font-size: 12.5px; }
section.headline { background: #eef4fb; border: 1px solid #c6d6ea; border-radius: 6px;
        padding: 2px 18px 4px; margin: 14px 0 18px; }
section.headline h2 { margin-top: 12px; border-bottom-color: #c6d6ea; }
section.headline table { background: #fff; } section.headline td { vertical-align: middle; }
section.headline td.num small { white-space: normal; display: inline-block; max-width: 190px; }
section.headline td:last-child { min-width: 190px; }
.gate { font-size: 14px; margin: 8px 0; } .missing { color: #888; font-style: italic; }
.nowrap { white-space: nowrap; }
"""


def render_html(report, sections, title, headline=""):
    """The page, top-down: the headline, the sections (each opening with its main
    chart), then the environment, folded."""
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
                  [(a, n) for a, n, _ in sections] + [("environment", "Environment")])
    body = "".join(html_ for _, _, html_ in sections)
    compared = ""
    if len(report.series) > 1:
        first = next(iter(report.verdicts.values()), None)
        method = first["method"] if first else {}
        compared = (" Later inputs are compared with the first (%s) by the regression gate "
                    "(<code>isobench compare --json</code>, thresholds %s): %s, %s at family "
                    "alpha %s; the change is the %s with the %s; %s."
                    % (esc(report.series[0].label), esc(first["thresholds"] if first else "–"),
                       esc(method.get("test", "")), esc(method.get("family", "")),
                       esc(method.get("family_alpha", "")), esc(method.get("estimate", "")),
                       esc(method.get("interval", "")), esc(method.get("verdict", ""))))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{css}</style></head><body>
<h1>{title}</h1>
<p class="meta">Generated {now} from:</p><ul class="meta">{inputs}</ul>
{headline}
<nav>{nav}</nav>
{warn}
{body}
{env}
<footer>Statistics: median and 95% percentile-bootstrap interval (2000 resamples, fixed
seed).{compared} Computed by the isobench_py module (the C++ core).</footer>
</body></html>
""".format(title=esc(title), css=CSS, now=now, inputs=inputs, nav=nav, warn=warn,
           env=section_environment(report), body=body, compared=compared,
           headline=headline)


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
                if bench.startswith("Ratio/"):  # unitless: one time over another
                    text = "%s× (%s – %s)" % (fmt_sig(med), fmt_sig(lo), fmt_sig(hi))
                else:
                    text = "%s (%s)" % (fmt_time(med), fmt_interval(lo, hi))
                row += [str(len(cell.samples)), text]
            if i > 0:
                vrow = report.verdict(cell)
                row.append("%s, %s" % (fmt_change(vrow["estimate"]), verdict_text(vrow))
                           if vrow else "–")
        lines.append("| " + " | ".join(row) + " |")
    if not summary:
        lines = lines[:-2]  # no benchmark rows: no table
    lines += report.summary_extra
    if report.warnings:
        lines += [""] + ["> warning: " + w for w in report.warnings]
    return "\n".join(lines) + "\n"
