"""The command line: reports/report.py --out DIR RESULT.json ... [--conformance FILE]."""
import argparse
import os
import sys

from .conformance_file import load_conformance
from .core import REPO, ModuleError, load_stats_module
from .headline import section_headline
from .inputs import merge_parts, sniff_conformance
from .model import Report, Series
from .page import render_html, render_summary
from .section_conformance import section_conformance
from .section_density import section_density
from .section_generic import section_generic
from .section_image import section_image
from .section_io import section_io
from .section_isolation import section_isolation
from .section_net import section_net
from .section_overhead import section_overhead
from .section_startup import section_startup


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Render isobench Google Benchmark JSON results as HTML + Markdown.")
    parser.add_argument("results", nargs="*", metavar="RESULT.json",
                        help="Google Benchmark JSON; a conformance verdict file given here "
                        "is recognised and used as --conformance")
    parser.add_argument("--conformance", metavar="VERDICTS.json",
                        help="conformance verdict file (conformance --verdicts_out=)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--module-dir", help="directory holding the isobench_py module")
    parser.add_argument("--title", default="isobench report")
    parser.add_argument("--thresholds", default=None,
                        help="the regression gate's thresholds file (default: "
                        "ci/thresholds.toml of this tree, else the gate's built-in defaults)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="family-wise alpha of the gate (default: the thresholds file's)")
    args = parser.parse_args(argv)

    try:
        stats = load_stats_module(args.module_dir)
    except ModuleError as e:
        print("report.py: error: %s" % e, file=sys.stderr)
        return 2
    thresholds = args.thresholds
    if thresholds is None:
        default = os.path.join(REPO, "ci", "thresholds.toml")
        thresholds = default if os.path.exists(default) else ""

    conf_path = args.conformance
    bench_paths = []
    for path in args.results:
        if sniff_conformance(path):
            if conf_path and conf_path != path:
                print("report.py: error: two conformance files: %s and %s" % (conf_path, path),
                      file=sys.stderr)
                return 2
            conf_path = path
        else:
            bench_paths.append(path)
    if not bench_paths and not conf_path:
        parser.error("give at least one RESULT.json or --conformance FILE")
    conformance = None
    if conf_path:
        try:
            conformance = load_conformance(conf_path)
        except (ValueError, OSError) as e:
            print("report.py: error: cannot load %s: %s" % (conf_path, e), file=sys.stderr)
            return 2

    loaded = []
    for path in bench_paths:
        try:
            loaded.append((path, stats.load_results(path)))
        except (ValueError, OSError) as e:
            print("report.py: error: cannot load %s: %s" % (path, e), file=sys.stderr)
            return 2
    series = [Series(path, results, i) for i, (path, results) in enumerate(merge_parts(loaded))]

    report = Report(stats, series, thresholds, args.alpha)
    try:
        report.compute_verdicts()
    except (ValueError, OSError) as e:
        print("report.py: error: the regression gate failed: %s" % e, file=sys.stderr)
        return 2
    if not report.cells and conformance is None:
        report.warnings.append("the inputs contain no benchmark records")

    sections = []
    startup_html, summary = section_startup(report)
    if startup_html:
        sections.append(("startup", "Startup", startup_html))
    special = {}
    for family, anchor, title, render in (("Density", "density", "Density", section_density),
                                          ("Io", "io", "I/O", section_io),
                                          ("Net", "net", "Network", section_net),
                                          ("Image", "image", "Images", section_image),
                                          ("Isolation", "isolation", "Performance isolation",
                                           section_isolation),
                                          ("Overhead", "overhead", "Overhead",
                                           section_overhead)):
        html_, rows = render(report)
        if html_:
            sections.append((anchor, title, html_))
            summary += rows
            special[family] = True
    families = sorted({c.family for c in report.cells
                       if c.family != "Startup" and c.family not in special},
                      key=lambda f: (f == "Other", f))
    generic_html, generic_summary = section_generic(report, families)
    if generic_html:
        sections.append((families[0].lower(), " · ".join(families), generic_html))
    summary += generic_summary
    if conformance is not None:
        sections.append(("conformance", "Conformance", section_conformance(report, conformance)))

    os.makedirs(args.out, exist_ok=True)
    page = render_html(report, sections, args.title,
                       section_headline(report, conformance))
    with open(os.path.join(args.out, "report.html"), "w", encoding="utf-8") as f:
        f.write(page)
    for name, data in report.images:
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(render_summary(report, summary, args.title))
    print("report.py: wrote %s (%d plots) and %s" % (
        os.path.join(args.out, "report.html"), len(report.images),
        os.path.join(args.out, "summary.md")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
