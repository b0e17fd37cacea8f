"""Tests of the Overhead section."""
import os
import unittest

from .report_case import OVERHEAD, ReportCase, load_json, write_json


class OverheadSectionTest(ReportCase):
    def test_slowdown_against_the_host_with_intervals(self):
        _, page, _ = self.render(OVERHEAD)
        self.assertIn('<h2 id="overhead">Overhead</h2>', page)
        self.assertTrue(os.path.exists(os.path.join(self.out, "overhead.png")))
        # syscall: vm 466 ns vs host 159 ns = 2.93×; bandwidth is higher-is-better, so
        # its slowdown is host ÷ vm = 8.93×.
        self.assertIn("2.93×", page)
        # Three repetitions per side cannot give a 95% interval (the smallest p of the
        # test is 0.1): none is claimed.
        self.assertNotRegex(page, r"2\.93× <small>\([\d.]+ – [\d.]+\)</small>")
        self.assertIn("8.93×", page)
        self.assertIn("(bandwidth)", page)
        self.assertIn("(time per op)", page)

    def test_missing_host_row(self):
        data = load_json(OVERHEAD)
        data["benchmarks"] = [r for r in data["benchmarks"] if "/host/" not in r["name"]]
        _, page, _ = self.render(write_json(self.tmp, "nohost.json", data))
        self.assertIn("no host row", page)
        self.assertFalse(os.path.exists(os.path.join(self.out, "overhead.png")))


if __name__ == "__main__":
    unittest.main()
