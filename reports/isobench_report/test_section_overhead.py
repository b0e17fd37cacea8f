"""Tests of the Overhead section."""
import html
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

    def test_an_instance_faster_than_its_host_is_a_finding(self):
        _, page, summary = self.render(OVERHEAD)
        self.assertNotIn("Faster than the host", page)  # the fixture's VM is slower
        data = load_json(OVERHEAD)
        data["context"]["env.hypervisor"] = "bhyve"
        for r in data["benchmarks"]:
            if r["name"].startswith("Overhead/vm/syscall/"):
                r["ns_per_op"] = r["real_time"] = 50.0  # host: 152-162 ns
        _, page, summary = self.render(write_json(self.tmp, "faster.json", data))
        self.assertIn("<b>Faster than the host</b>", page)
        finding = ("vm (tcg), syscall: slowdown 0.315× (50.0 ns against the host's 159 ns). "
                   "This host is itself a virtual machine (hypervisor: bhyve)")
        self.assertIn(finding, html.unescape(page))
        self.assertIn("> warning: overhead: faster than the host: " + finding, summary)
        self.assertIn("a guest under TCG emulates them", summary)
        # The container's figures are the host's: not flagged.
        self.assertNotIn("container, syscall: slowdown", summary)
        # Without a hypervisor under the host, the guest's clock is the first suspect.
        data["context"]["env.hypervisor"] = "none"
        _, page, summary = self.render(write_json(self.tmp, "faster_bare.json", data))
        self.assertIn("vm (tcg), syscall: slowdown 0.315×", summary)
        self.assertIn("The guest times itself: check its clock source first.", summary)
        # A container beating the host it shares a kernel with: look at the rows.
        for r in data["benchmarks"]:
            if r["name"].startswith("Overhead/container/syscall/"):
                r["ns_per_op"] = r["real_time"] = 60.0
        _, page, summary = self.render(write_json(self.tmp, "faster_container.json", data))
        self.assertIn("container, syscall: slowdown 0.378×", summary)
        self.assertIn("The instance and the host share one kernel", summary)


if __name__ == "__main__":
    unittest.main()
