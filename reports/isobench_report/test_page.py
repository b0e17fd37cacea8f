"""Tests of the page's order: headline first, the sections, the environment folded last."""
import os
import re
import subprocess
import sys
import unittest

from .report_case import (DENSITY, IO, OVERHEAD, REPO, STARTUP, STARTUP_HOST2, VERDICTS,
                          ReportCase)


def positions(page, needles):
    """The offset of each needle in page (a failing assertion names a missing one)."""
    found = {n: page.find(n) for n in needles}
    missing = [n for n, at in found.items() if at < 0]
    assert not missing, "not in the page: %s" % missing
    return [found[n] for n in needles]


class PageOrderTest(ReportCase):
    def test_headline_sections_then_the_environment(self):
        _, page, _ = self.render(STARTUP, DENSITY, IO, OVERHEAD, extra=["--conformance", VERDICTS])
        order = positions(page, ["<h1>", '<section class="headline"><h2 id="headline">',
                                 "<nav>", '<h2 id="startup">', '<h2 id="density">',
                                 '<h2 id="io">', '<h2 id="overhead">', '<h2 id="conformance">',
                                 '<h2 id="environment">', "<footer>"])
        self.assertEqual(order, sorted(order))
        # Nothing but the title and the list of inputs before the headline.
        head = page[page.index("<body>"):order[1]]
        self.assertEqual(re.findall(r"<(h\d|section|table|img|div)\b", head), ["h1"])
        # The environment is folded: its table is inside <details>, after every section.
        env = page[order[-2]:order[-1]]
        self.assertRegex(env, r"^<h2 id=\"environment\">Environment</h2><details><summary>"
                              r"\d+ context keys of the input</summary>.*<table>.*</details>")
        self.assertEqual(page.count("<details>"), 2)  # the environment and Density's steps
        nav = re.findall(r'<a href="#([a-z]+)">', page[order[2]:page.index("</nav>")])
        self.assertEqual(nav, ["startup", "density", "io", "overhead", "conformance",
                               "environment"])

    def test_differing_environments_are_counted_on_the_fold(self):
        _, page, _ = self.render(STARTUP, STARTUP_HOST2)
        self.assertRegex(page, r"<summary>\d+ context keys of 2 inputs, [1-9]\d* differ "
                               r"between them</summary>")
        self.assertIn('class="differs"', page)


class ScreenshotSkipTest(unittest.TestCase):
    def test_without_chromium_the_screenshots_skip_never_pass(self):
        """report_screenshot_test exits 77 (CTest: skipped) and prints why."""
        env = dict(os.environ, ISOBENCH_CHROMIUM=os.path.join(REPO, "no-such-chromium"))
        result = subprocess.run([sys.executable, "-m", "isobench_report.screenshot_test"],
                                cwd=os.path.join(REPO, "reports"), env=env,
                                capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(result.returncode, 77, result.stdout + result.stderr)
        self.assertIn("SKIPPED: ISOBENCH_CHROMIUM=", result.stdout)
        self.assertIn("no-such-chromium is not executable", result.stdout)


if __name__ == "__main__":
    unittest.main()
