"""Screenshots of the rendered report in headless Chromium (Debian's `chromium`): the
page must draw, and the headline must be on the first screen.

  cd reports && ISOBENCH_PYMODULE_DIR=../build/reports /usr/bin/python3 -m isobench_report.screenshot_test

CTest runs it as report_screenshot_test. Without Chromium (or with ISOBENCH_CHROMIUM
naming one that is absent) every case skips with the reason and the run exits 77,
which CTest reports as skipped, never as passed. ISOBENCH_SCREENSHOT_DIR keeps the
PNGs. It is not named test_*.py so that report_test does not run it a second time.
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

from .report_case import DENSITY, IO, OVERHEAD, STARTUP, VERDICTS, ReportCase

# What a reader sees first: a laptop's browser window at the page's full width.
FIRST_SCREEN = (1320, 900)
# The headline's background (page.CSS, section.headline): the mark that it was drawn.
HEADLINE_RGB = (0xee, 0xf4, 0xfb)


def chromium():
    """(path, None) or (None, why not)."""
    wanted = os.environ.get("ISOBENCH_CHROMIUM")
    if wanted:
        path = shutil.which(wanted)
        return (path, None) if path else (None, "ISOBENCH_CHROMIUM=%s is not executable" % wanted)
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path, None
    return None, "chromium is not installed (Debian package `chromium`): no screenshots taken"


def read_png(path):
    """The PNG as a height x width x 3 array of 0..255 (numpy, through Pillow: both come
    with python3-matplotlib)."""
    import numpy  # pylint: disable=import-outside-toplevel
    from PIL import Image  # pylint: disable=import-outside-toplevel
    with Image.open(path) as image:
        return numpy.asarray(image.convert("RGB"), dtype=numpy.int16)


def mask_of(pixels, rgb, tolerance=2):
    """Where pixels are rgb (within tolerance per channel: colour management)."""
    return (abs(pixels - rgb) <= tolerance).all(axis=2)


def headline_rows(pixels):
    """The rows that cross the headline's box: at least 30 pixels of its background (a
    plot or anti-aliased text has a few pixels of any colour, never such a run)."""
    return (mask_of(pixels, HEADLINE_RGB).sum(axis=1) >= 30).nonzero()[0]


class ScreenshotTest(ReportCase):
    def setUp(self):
        super().setUp()
        self.browser, why = chromium()
        if self.browser is None:
            self.skipTest(why)

    def screenshot(self, html_path, size, name):
        png = os.path.join(self.tmp, name + ".png")
        # Chromium as root needs --no-sandbox; a profile of its own keeps runs apart.
        cmd = [self.browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--force-device-scale-factor=1", "--user-data-dir=" + os.path.join(self.tmp, "profile"),
               "--screenshot=" + png, "--window-size=%d,%d" % size, "file://" + html_path]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertTrue(os.path.exists(png), "no screenshot: " + result.stderr[-2000:])
        keep = os.environ.get("ISOBENCH_SCREENSHOT_DIR")
        if keep:
            os.makedirs(keep, exist_ok=True)
            shutil.copy(png, keep)
            print("screenshot: %s" % os.path.join(keep, name + ".png"))
        return read_png(png)

    def check_first_screen(self, page, name):
        html_path = os.path.join(self.out, "report.html")
        pixels = self.screenshot(html_path, FIRST_SCREEN, name)
        self.assertEqual(pixels.shape, (FIRST_SCREEN[1], FIRST_SCREEN[0], 3))
        # Drawn, not blank: text, tables and colour cover a good part of the screen.
        not_white = (pixels < 250).any(axis=2).mean()
        self.assertGreater(not_white, 0.05, "the first screen is almost blank")
        colours = len({tuple(p) for p in pixels[::7, ::7].reshape(-1, 3)})
        self.assertGreater(colours, 20, "the first screen has %d colours" % colours)
        # The headline is on the first screen: its background covers a large block,
        # starting in the top third.
        self.assertGreater(mask_of(pixels, HEADLINE_RGB).sum(), 0.1 * pixels.shape[0] * pixels.shape[1],
                           "the headline is not on the first screen")
        self.assertLess(headline_rows(pixels).min(), FIRST_SCREEN[1] / 3)
        # And in the page: right after the title and the list of inputs.
        before = page[:page.index('<section class="headline">')]
        self.assertNotRegex(before, r"<(section|table|img|h2)\b")

    def test_fixtures_of_reports_testdata(self):
        _, page, _ = self.render(DENSITY, IO, OVERHEAD, VERDICTS)
        self.check_first_screen(page, "reports-testdata")

    def test_with_startup_results(self):
        _, page, _ = self.render(STARTUP, DENSITY, IO, OVERHEAD, extra=["--conformance", VERDICTS])
        self.check_first_screen(page, "with-startup")
        # The whole page: the headline is drawn once, at the top; the environment at the
        # end is folded, so the page ends a little below its summary line.
        full = self.screenshot(os.path.join(self.out, "report.html"), (FIRST_SCREEN[0], 9000),
                               "with-startup-full")
        self.assertLess(headline_rows(full).max(), FIRST_SCREEN[1])
        drawn = (full < 250).any(axis=2).any(axis=1).nonzero()[0]
        self.assertLess(drawn.max(), full.shape[0] - 200, "the page is taller than the shot")

    def test_without_a_headline_the_check_fails(self):
        """The colour check can fail: the same page without its headline has none."""
        _, page, _ = self.render(DENSITY, IO, OVERHEAD, VERDICTS)
        stripped = re.sub(r'<section class="headline">.*?</section>', "", page, flags=re.S)
        html_path = os.path.join(self.tmp, "no-headline.html")
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(stripped)
        pixels = self.screenshot(html_path, FIRST_SCREEN, "no-headline")
        self.assertEqual(len(headline_rows(pixels)), 0)
        self.assertGreater((pixels < 250).any(axis=2).mean(), 0.05)


def main():
    result = unittest.main(module=__name__, exit=False, verbosity=2).result
    if not result.wasSuccessful():
        return 1
    if result.testsRun and len(result.skipped) == result.testsRun:
        print("SKIPPED: %s" % result.skipped[0][1])
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
