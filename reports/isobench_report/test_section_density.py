"""Tests of the Density section."""
import os
import re
import unittest

from .report_case import DENSITY, STARTUP, ReportCase, load_json, write_json


class DensitySectionTest(ReportCase):
    def test_plots_and_density_reached_table(self):
        _, page, summary = self.render(DENSITY)
        self.assertIn('<h2 id="density">Density</h2>', page)
        self.assertIn("Density reached under the budget", page)
        self.assertTrue(os.path.exists(os.path.join(self.out, "density.png")))
        rows = re.findall(r"<tr[^>]*><td[^>]*>([^<]+)</td><td[^>]*>(?:<b>)?(\d+)", page)
        reached = {label: int(n) for label, n in rows}
        self.assertEqual(reached.get("container"), 8)
        self.assertEqual(reached.get("vm (tcg)"), 1)
        self.assertIn("memory budget reached at n=2", page)
        self.assertIn("the ramp ended before the budget", page)
        # 252 MiB of PSS for the VM at n=1 (263827456 bytes), 0.227 MiB for containers at 8.
        self.assertIn("252 MiB", page)
        self.assertIn("0.227 MiB", page)
        self.assertIn("256 MiB", page)  # guest RAM
        self.assertIn("every step with all counters", page)  # raw counters kept
        self.assertIn("| Density/n:8 | container | 1 |", summary)
        self.assertIn("vm: memory budget reached at n=2", summary)  # as a warning

    def test_instances_that_stop_answering_end_the_ramp(self):
        data = load_json(DENSITY)
        for rec in data["benchmarks"]:
            if rec["name"].startswith("Density/container/n:8"):
                rec["answering_fraction"] = 0.75
        _, page, _ = self.render(write_json(self.tmp, "d.json", data))
        self.assertIn("at n=8 only 75% of the instances answered", page)
        self.assertRegex(page, r"<td>container</td><td[^>]*><b>4</b>")

    def test_cgroup_charge_shown_and_a_missing_figure_says_why(self):
        data = load_json(DENSITY)
        for rec in data["benchmarks"]:
            if rec["name"].startswith("Density/container/n:8"):
                rec["cgroup_memory_per_instance_bytes"] = 3 * 2 ** 20
                rec["kernel_memory_per_instance_bytes"] = 1.5 * 2 ** 20
            if rec["name"].startswith("Density/vm/n:1"):
                rec["label"] = "cgroup memory: libvirt's machine cgroup is not read"
        _, page, _ = self.render(write_json(self.tmp, "d.json", data))
        self.assertIn("cgroup charge / instance", page)
        self.assertRegex(page, r"<td>container</td>.*?<td[^>]*>3\.00 MiB</td><td[^>]*>1\.50 MiB</td>")
        self.assertIn("Not measured:", page)
        self.assertIn("libvirt&#x27;s machine cgroup is not read", page)

    def test_long_ramp_joins_the_line_with_its_p99_and_teardown(self):
        data = load_json(DENSITY)
        template = next(r for r in data["benchmarks"]
                        if r["name"].startswith("Density/container/n:8"))
        for n, ms in ((64, 5.0), (1000, 7.0)):
            rec = dict(template)
            rec["name"] = rec["run_name"] = (
                "Density/container/ramp/n:%d/iterations:1/manual_time" % n)
            rec.update({"n": n, "real_time": ms, "step_ready_p50_s": ms / 1e3,
                        "step_ready_p99_s": 4 * ms / 1e3})
            if n == 1000:
                rec["teardown_s"] = 1.94
            data["benchmarks"].append(rec)
        _, page, _ = self.render(write_json(self.tmp, "ramp.json", data))
        self.assertRegex(page, r"<td>container</td><td[^>]*><b>1000</b>")
        self.assertIn("1.94 s for 1000 (1.94 ms each)", page)
        self.assertIn("<td>ramp/n:1000</td>", page)  # its own row in the full table
        # Without a timed teardown the column says so.
        _, page, _ = self.render(DENSITY)
        self.assertIn("teardown of the largest pool", page)

    def test_vm_ramp_to_the_budget_is_placed_at_the_count_it_reached(self):
        # Density/vm/ramp/budget/n:64: a cap of 64 in the name, 17 VMs measured when the
        # budget stopped it; the row is placed at 17 and says why it stopped there.
        data = load_json(DENSITY)
        # Without the fixture's gated VM step that the budget stopped at n=2.
        data["benchmarks"] = [r for r in data["benchmarks"]
                              if not r["name"].startswith("Density/vm/n:4")]
        template = next(r for r in data["benchmarks"] if r["name"].startswith("Density/vm/n:1"))
        rec = dict(template)
        rec["name"] = rec["run_name"] = "Density/vm/ramp/budget/n:64/iterations:1/manual_time"
        rec.update({"n": 17, "budget_reached": 1, "real_time": 5.6, "teardown_s": 3.91})
        data["benchmarks"].append(rec)
        _, page, _ = self.render(write_json(self.tmp, "vm-budget.json", data))
        self.assertRegex(page, r"<td>vm \(tcg\)</td><td[^>]*><b>17</b>")
        self.assertIn("memory budget reached at n=17", page)
        self.assertIn("3.91 s for 17 (230 ms each)", page)
        self.assertIn("<td>ramp/budget/n:64</td>", page)

    def test_old_density_schema_falls_back_to_the_generic_table(self):
        _, page, _ = self.render(STARTUP)  # instances:16 with *_mib counters
        self.assertIn('id="density"', page)
        self.assertNotIn("Density reached under the budget", page)
        self.assertIn("pss_per_instance_mib", page)


if __name__ == "__main__":
    unittest.main()
