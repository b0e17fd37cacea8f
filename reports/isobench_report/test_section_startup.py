"""Tests of the Startup section."""
import base64
import glob
import os
import re
import unittest

from .report_case import STARTUP, ReportCase, load_json, write_json


class StartupSectionTest(ReportCase):
    def test_single_file_has_sections_and_embedded_images(self):
        _, page, summary = self.render(STARTUP)
        for needle in ('id="environment"', 'id="startup"', "<h3>Phases", "<h3>Teardown",
                       'id="density"', "vm (tcg)", "qemu-raw (tcg)", "env.cgroup_mode",
                       "hybrid", "reference", "× host", "pss_per_instance_mib"):
            self.assertIn(needle, page)
        images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
        self.assertGreaterEqual(len(images), 3)
        for data in images:
            self.assertTrue(base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n"))
        pngs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.out, "*.png")))
        self.assertEqual(pngs, ["startup-ready-destroy.png", "startup-ready-distribution.png",
                                "startup-ready-phases.png"])
        # No external resources: the page must open from a CI artifact alone.
        self.assertNotRegex(page, r'(src|href)="(https?:|file:|[^"#d])')
        self.assertIn("| benchmark | backend | n | median (95% CI) |", summary)
        self.assertRegex(summary, r"\| Startup/ready \| container \| 20 \| 3\.\d\d ms")
        self.assertRegex(summary, r"\| Startup/ready \| vm \(tcg\) \| 3 \| 9\.\d\d s")

    def test_summary_prints_ratio_rows_as_ratios(self):
        data = load_json(STARTUP)
        for i, value in enumerate((1.04, 1.09, 1.01)):
            name = "Ratio/vm/Startup:ready/vs:qemu-raw/iterations:1/manual_time"
            data["benchmarks"].append({
                "name": name, "run_name": name, "run_type": "iteration", "repetitions": 1,
                "repetition_index": i, "threads": 1, "iterations": 1, "real_time": value,
                "cpu_time": 0.0, "time_unit": "s"})
        _, page, summary = self.render(write_json(self.tmp, "ratio.json", data))
        self.assertRegex(summary, r"\| Ratio/Startup:ready/vs:qemu-raw \| vm \(tcg\) \| 3 \| "
                                  r"1\.04× \(1\.0\d – 1\.0\d\) \|")
        self.assertNotRegex(summary, r"\| Ratio/[^|]*\|[^|]*\|[^|]*\| [\d.]+ m?s")
        # The page's Ratio table too: a ratio, not a time.
        section = page[page.index('<h2 id="ratio">'):]
        section = section[:section.index("</section>")]
        self.assertRegex(section, r"<b>1\.04×</b></td><td[^>]*>1\.0\d× – 1\.0\d×</td>")
        self.assertNotRegex(section, r"<b>[\d.]+ m?s</b>")

    def test_phase_durations_from_cumulative_counters(self):
        _, page, _ = self.render(STARTUP)
        # Container phases in the order they end, each a duration, not a timestamp.
        self.assertRegex(page, r"clone <b>[\d.]+ µs</b>.*→ rootfs <b>[\d.]+ ms</b>.*"
                               r"→ exec <b>[\d.]+ µs</b>.*→ ready")
        self.assertRegex(page, r"domain_created <b>[\d.]+ ms</b>.*→ first_console_byte.*"
                               r"→ kernel <b>[\d.]+ s</b>")


class StartupReferenceLineTest(ReportCase):
    def test_reference_line_only_with_a_vm_row(self):
        _, page, _ = self.render(STARTUP)
        self.assertIn("design target for a VM under KVM: <b>≤ 250 ms</b>", page)
        self.assertIn("NSDI'20", page)
        data = load_json(STARTUP)
        data["benchmarks"] = [r for r in data["benchmarks"] if "/vm/" not in r["name"]
                              and "/qemu-raw/" not in r["name"]]
        _, page, _ = self.render(write_json(self.tmp, "novm.json", data))
        self.assertNotIn("design target for a VM", page)
        self.assertIn('id="startup"', page)

    def test_kinds_and_references_come_from_the_context(self):
        _, page, _ = self.render(STARTUP)
        self.assertIn('host <span class="tag">reference</span>', page)
        self.assertIn("vm (tcg)", page)
        data = load_json(STARTUP)
        data["context"] = {k: v for k, v in data["context"].items()
                           if not k.startswith("backend.")}
        _, page, _ = self.render(write_json(self.tmp, "untyped.json", data))
        # Without the keys every row is a product of unknown kind.
        self.assertNotIn('<span class="tag">reference</span>', page)
        self.assertNotIn("design target for a VM", page)
        self.assertNotIn("vm (tcg)", page)
        self.assertIn('id="startup"', page)


class StartupOrderTest(ReportCase):
    def test_serial_starts_open_the_section_parallel_ones_follow(self):
        data = load_json(STARTUP)
        parallel = []
        for k in (16, 4):
            for rep, ms in enumerate((20.0, 22.0, 21.0)):
                name = "Startup/container/parallel:%d/iterations:1/manual_time" % k
                parallel.append({"name": name, "run_name": name, "run_type": "iteration",
                                 "repetitions": 3, "repetition_index": rep, "threads": 1,
                                 "iterations": 1, "real_time": ms * k / 4, "cpu_time": 1,
                                 "time_unit": "ms"})
        # Written before the serial rows: the order must not come from the file.
        data["benchmarks"] = parallel + data["benchmarks"]
        _, page, _ = self.render(write_json(self.tmp, "parallel.json", data))
        section = page[page.index('<h2 id="startup">'):page.index('<h2 id="density">')]
        plots = re.findall(r'<img class="plot" alt="(startup-[^"]+-distribution)"', section)
        self.assertEqual(plots, ["startup-ready-distribution",
                                 "startup-parallel-4-distribution",
                                 "startup-parallel-16-distribution"])
        # The first thing drawn in the section is the serial chart.
        first_img = re.search(r'<img class="plot" alt="([^"]+)"', section).group(1)
        self.assertEqual(first_img, "startup-ready-distribution")
        self.assertIn("<small>Startup/ready</small>", page)  # the headline's case

    def test_parallel_batches_are_set_against_the_serial_median(self):
        data = load_json(STARTUP)
        serial = [r["real_time"] for r in data["benchmarks"]
                  if r["name"].startswith("Startup/container/ready")]
        one = sorted(serial)[len(serial) // 2]  # ms, an odd count in the fixture
        rows = []
        for k, factor in ((2, 1.0), (8, 0.5)):
            for rep in range(3):
                name = "Startup/container/parallel:%d/iterations:1/manual_time" % k
                rows.append({"name": name, "run_name": name, "run_type": "iteration",
                             "repetitions": 3, "repetition_index": rep, "threads": 1,
                             "iterations": 1, "real_time": k * one * factor, "cpu_time": 1,
                             "time_unit": "ms"})
                if k == 8:  # K=2 carries no busy counter: its cells say so
                    rows[-1]["host_busy_cpus"] = 1.5 + 0.1 * rep
        # The host floor's own batches: a reference row of the same table.
        host = sorted(r["real_time"] for r in data["benchmarks"]
                      if r["name"].startswith("Startup/host/ready"))[0]
        for rep in range(3):
            name = "Startup/host/parallel:4/iterations:1/manual_time"
            rows.append({"name": name, "run_name": name, "run_type": "iteration",
                         "repetitions": 3, "repetition_index": rep, "threads": 1,
                         "iterations": 1, "real_time": 4 * host * 10, "cpu_time": 1,
                         "time_unit": "ms"})
        data["benchmarks"] += rows
        _, page, _ = self.render(write_json(self.tmp, "scaling.json", data))
        self.assertIn('id="startup-scaling"', page)
        self.assertIn('alt="startup-parallel-scaling"', page)
        # K=2 did not overlap at all (1.00, speed-up 1.00×); K=8 took half of 8 serial.
        cell = r"<td[^>]*>%s</td>"
        # The host's busy CPUs: the median over K=8's batches; none recorded for K=2.
        self.assertRegex(page, "".join(cell % v for v in (
            "container", "2", "[^<]+", "[^<]+", r"1\.00", r"1\.00×", "–")))
        self.assertRegex(page, "".join(cell % v for v in (
            "container", "8", "[^<]+", "[^<]+", r"0\.50", r"2\.00×", r"1\.60")))
        self.assertRegex(page, r'<td[^>]*>host <span class="tag">reference</span></td>'
                               r'<td[^>]*>4</td>')
        # Without parallel rows there is no such part.
        _, page, _ = self.render(STARTUP)
        self.assertNotIn('id="startup-scaling"', page)


if __name__ == "__main__":
    unittest.main()
