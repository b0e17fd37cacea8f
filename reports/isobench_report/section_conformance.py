"""The Conformance section: the probe x backend matrix and the mutation table."""
from .conformance_file import VERDICTS
from .fmt import esc
from .markup import table


def _target_label(backend, profile):
    return "%s/%s" % (backend, profile) if profile else backend


def conformance_model(conf):
    """(probes [(number, name, title)], columns [(backend, profile)], cells
    {(probe, backend, profile): record}, not run [(label, reason)])."""
    records = conf["records"]
    probes = {}
    for p in conf.get("probes") or []:
        if isinstance(p.get("name"), str):
            probes[p["name"]] = (p.get("number", 10 ** 6), p["name"], p.get("title", ""))
    for r in records:
        if r["probe"] not in probes:
            probes[r["probe"]] = (r.get("number", 10 ** 6), r["probe"], r.get("title", ""))
    order = sorted(probes.values(), key=lambda p: (p[0], p[1]))
    cells = {(r["probe"], r["backend"], r.get("profile", "")): r for r in records}
    columns, not_run = [], []
    targets = conf.get("targets")
    if targets:
        listed = [(t.get("backend", "?"), t.get("profile", ""), t) for t in targets]
    else:
        seen = list(dict.fromkeys((r["backend"], r.get("profile", "")) for r in records))
        listed = [(b, p, {"status": "ran"}) for b, p in seen]
    for b, p, t in listed:
        if p.startswith("weak-"):
            continue  # mutants: the mutation table shows them
        has_records = any(k[1] == b and k[2] == p for k in cells)
        if t.get("status") == "unavailable":
            not_run.append((_target_label(b, p), t.get("reason", "unavailable")))
        elif has_records or t.get("status") == "error":
            columns.append((b, p))
    return order, columns, cells, not_run


def target_counts(conf):
    """{(backend, profile): {"pass", "fail", "skip", "error": count}} of every target
    that ran (the matrix's columns; a probe error is also counted under its verdict),
    and the targets that did not run [(backend, profile, reason)]."""
    _, columns, cells, _ = conformance_model(conf)
    counts = {col: dict({v: 0 for v in VERDICTS}, error=0) for col in columns}
    for (_, b, p), r in cells.items():
        if (b, p) in counts:
            counts[(b, p)][r["verdict"]] += 1
            counts[(b, p)]["error"] += 1 if r.get("error") else 0
    not_run = [(t.get("backend", "?"), t.get("profile", ""), t.get("reason", "unavailable"))
               for t in conf.get("targets") or [] if t.get("status") == "unavailable"
               and not t.get("profile", "").startswith("weak-")]
    return counts, not_run


def _verdict_td(record, key, detail_key):
    if record is None or key not in record:
        return '<td class="v v-none" title="no record">–</td>'
    verdict = record[key]
    detail = record.get(detail_key) or record.get("detail") or ""
    text = verdict
    if record.get("known_deviation") and key == "verdict":
        detail = "known deviation: %s\n%s" % (record["known_deviation"], detail)
        text += "*"
    if record.get("error"):
        detail = "probe error\n" + detail
        text += " (error)"
    return '<td class="v v-%s" title="%s">%s</td>' % (verdict, esc(detail), esc(text))


def section_conformance(report, conf):
    probes, columns, cells, not_run = conformance_model(conf)
    base = conf.get("baseline") or {}
    base_label = _target_label(base.get("backend", "container"), base.get("profile", "default"))
    out = ['<section><h2 id="conformance">Conformance</h2>',
           '<p class="note">From <code>%s</code>%s. Every probe is graded twice on every '
           'target: against the target\'s <b>own</b> promise, and against the <b>hardened '
           'baseline</b> (%s%s). <span class="v v-pass">pass</span> '
           '<span class="v v-fail">fail</span> <span class="v v-skip">skip</span>; hover a '
           'cell for the probe\'s detail or the reason it was skipped; * marks a known '
           'deviation.</p>' % (
               esc(conf["_path"]), (", run " + esc(conf["run_id"])) if conf.get("run_id") else "",
               esc(base_label), (": " + esc(base["description"])) if base.get("description")
               else "")]
    counts = {}
    for (probe, b, p), r in cells.items():
        if (b, p) in columns:
            c = counts.setdefault((b, p), {v: 0 for v in VERDICTS})
            c[r["verdict"]] = c.get(r["verdict"], 0) + 1
    head1 = ['<th rowspan="2">#</th><th rowspan="2">probe</th>']
    head2 = []
    for b, p in columns:
        c = counts.get((b, p), {})
        head1.append('<th colspan="2" class="group">%s<br><small>%s</small></th>' % (
            esc(_target_label(b, p)), " · ".join("%d %s" % (c.get(v, 0), v) for v in VERDICTS)))
        head2.append("<th>own promise</th><th>graded against<br>the hardened baseline</th>")
    rows = []
    for number, name, title in probes:
        tds = ['<td class="num">%s</td><td><code>%s</code> <small>%s</small></td>' % (
            number if number < 10 ** 6 else "", esc(name), esc(title))]
        for b, p in columns:
            r = cells.get((name, b, p))
            tds.append(_verdict_td(r, "verdict", "detail"))
            tds.append(_verdict_td(r, "baseline_verdict", "baseline_detail"))
        rows.append("<tr>%s</tr>" % "".join(tds))
    out.append('<h3>Probe × backend</h3>')
    if columns:
        out.append('<div class="scroll"><table class="matrix"><thead><tr>%s</tr><tr>%s</tr>'
                   '</thead><tbody>%s</tbody></table></div>'
                   % ("".join(head1), "".join(head2), "".join(rows)))
    else:
        out.append('<p class="note">No target ran.</p>')
    if not_run:
        out.append('<p class="note">Not run (every probe skipped): %s</p>' % "; ".join(
            "<b>%s</b> — %s" % (esc(label), esc(why)) for label, why in not_run))
    for u in conf.get("unusable") or []:
        report.warnings.append("conformance: backend %s unusable: %s"
                               % (u.get("backend", "?"), u.get("reason", "")))
    mutation = conf.get("mutation")
    lines = ["", "### Conformance (%s)" % conf["_path"], ""]
    for b, p in columns:
        c = counts.get((b, p), {})
        lines.append("- %s: %s" % (_target_label(b, p),
                                   ", ".join("%d %s" % (c.get(v, 0), v) for v in VERDICTS)))
    if mutation:
        score = mutation.get("score") or {}
        results = mutation.get("results") or []
        tried = score.get("tried", sum(1 for m in results if m.get("status") in
                                       ("caught", "missed")))
        caught = score.get("caught", sum(1 for m in results if m.get("status") == "caught"))
        out.append('<h3>Mutation testing</h3><p class="note">Proof that the probes can fail: '
                   'each row turns off one protection on <b>%s</b> and grades the weakened '
                   'instance against the reference profile\'s promise; a weakening is caught '
                   'when a probe passes on the reference and fails on the mutant. Score: '
                   '<b>%s / %s</b> weakenings caught.</p>'
                   % (esc(mutation.get("backend", "?")), caught, tried))
        mrows, classes = [], {}
        for m in results:
            status = m.get("status", "caught" if m.get("caught") else "missed")
            caught_by = m.get("caught_by") or []
            if status == "caught":
                verdict = '<span class="v v-pass">yes</span>'
            elif status == "missed":
                verdict = '<span class="v v-fail">no</span>'
                classes[len(mrows)] = "missed"
            else:
                verdict = '<span class="v v-skip" title="%s">%s</span>' % (
                    esc(m.get("reason", "")), esc(status))
            probes_html = "<br>".join(
                '<span title="%s">%s</span>' % (esc(c), esc(c.split(":", 1)[0]))
                for c in caught_by) or esc(m.get("reason", "–"))
            mrows.append(["<code>%s</code>" % esc(m["weakening"]),
                          esc(m.get("reference_profile", "")), verdict, probes_html,
                          str(len(caught_by)) if status in ("caught", "missed") else "–"])
        mrows.append(["<b>score</b>", "", "<b>%s / %s</b>" % (caught, tried), "", ""])
        out.append(table(["weakening", "reference profile", "caught", "probes that caught it "
                          "(hover for what they saw)", "probes flipped"], mrows, classes,
                         numeric_from=4))
        lines.append("- mutation score: %s/%s weakenings caught%s" % (
            caught, tried, "".join("; missed: " + m["weakening"] for m in results
                                   if m.get("status") == "missed")))
    report.summary_extra += lines
    out.append("</section>")
    return "".join(out)
