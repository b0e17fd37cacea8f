"""Tests of the performance-isolation section."""
import os
import unittest

from .report_case import ReportCase, write_json
from .section_isolation import band


def _record(name, time_us, counters, label="", error=None):
    rec = {"name": name + "/iterations:1/manual_time", "run_name": name, "run_type": "iteration",
           "repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": 1,
           "real_time": time_us, "cpu_time": 1.0, "time_unit": "us", "label": label}
    rec.update(counters)
    if error:
        rec = {"name": rec["name"], "run_name": name, "run_type": "iteration",
               "error_occurred": True, "error_message": error, "iterations": 0,
               "real_time": 0, "cpu_time": 0, "time_unit": "us"}
    return rec


def isolation_results(rounds=9, slowdown=None, runc_error=None):
    """A run of the Isolation family on the container and runc: `slowdown` maps a
    stressor to the factor its case's time is multiplied by (1: unharmed)."""
    slowdown = slowdown or {}
    cases = (("cpu", "cpu"), ("disk", "randread"), ("fork", "latency"))
    benchmarks = []
    for k in range(rounds):
        noise = 1.0 + 0.01 * ((k * 7) % 5 - 2)
        for backend in ("container", "runc"):
            for stressor, metric in (("alone", "cpu"), ("alone", "randread"),
                                     ("alone", "latency")) + cases:
                base = {"cpu": 400.0, "randread": 80.0, "latency": 20.0}[metric]
                factor = 1.0 if stressor == "alone" else slowdown.get(stressor, 1.0)
                t = base * factor * noise
                counters = {"cpu": {"bogo_ops_per_s": 1e6 / t},
                            "randread": {"iops": 1e6 / t, "p99_s": 3 * t * 1e-6},
                            "latency": {"p50_s": t * 1e-6, "p99_s": 4 * t * 1e-6}}[metric]
                if stressor == "cpu":
                    counters["neighbour_cpu_vs_quota"] = 1.01
                if stressor == "fork":
                    counters.update({"neighbour_pids": 500.0, "pids_limit": 512.0})
                name = "Isolation/%s/%s:%s" % (backend, stressor, metric)
                if backend == "runc" and stressor == "disk" and runc_error:
                    benchmarks.append(_record(name, 1.0, {}, error=runc_error))
                    continue
                benchmarks.append(_record(name, t, counters, label="neighbour: " + stressor))
            for stressor, metric in cases:
                ratio = slowdown.get(stressor, 1.0) * (1.0 + 0.005 * ((k * 3) % 5 - 2))
                name = "Ratio/%s/Isolation:%s:%s/vs:alone" % (backend, stressor, metric)
                if backend == "runc" and stressor == "disk" and runc_error:
                    benchmarks.append(_record(name, 1.0, {}, error="no value of the row"))
                    continue
                rec = _record(name, ratio, {})
                rec["real_time"], rec["time_unit"] = ratio, "s"
                benchmarks.append(rec)
    return {"context": {"run.id": "r1", "env.kernel": "6.1", "suite.profile": "default",
                        "bench.isolation.policy": "victim and neighbour of one spec",
                        "backend.container.kind": "container",
                        "backend.container.role": "product",
                        "backend.runc.kind": "container", "backend.runc.role": "reference"},
            "benchmarks": benchmarks}


class IsolationSectionTest(ReportCase):
    def test_matrix_colours_each_stressor_by_its_degradation(self):
        data = isolation_results(slowdown={"cpu": 1.5, "disk": 2.5, "fork": 1.1})
        _, page, summary = self.render(write_json(self.tmp, "iso.json", data))
        self.assertIn('<h2 id="isolation">Performance isolation</h2>', page)
        self.assertTrue(os.path.exists(os.path.join(self.out, "isolation.png")))
        # 1.5x: +50 % (orange); 2.5x: +150 % (red); 1.1x: +10 % (yellow).
        self.assertIn('class="iso-bad" style="background:#ffd3a8', page)
        self.assertIn("+50 %", page)
        self.assertIn('class="iso-severe"', page)
        self.assertIn("+150 %", page)
        self.assertIn('class="iso-mild"', page)
        self.assertNotIn('class="iso-ok"', page)
        # The limits and the historic reference are beside it.
        self.assertIn("up to 500 of 512", page)
        self.assertIn("ExpCS 2007", page)
        self.assertIn("Policy: victim and neighbour of one spec", page)
        self.assertTrue("Isolation" in summary, summary)

    def test_a_failed_case_is_red_and_never_green(self):
        data = isolation_results(runc_error="runc: disk: fio exited 1")
        _, page, _ = self.render(write_json(self.tmp, "fail.json", data))
        self.assertIn('title="no value of the row; runc: disk: fio exited 1">failed (randread)',
                      page)
        # The container's unharmed disk case is green; runc's is not.
        self.assertEqual(page.count("iso-failed"), 1)

    def test_unharmed_is_green_or_no_difference(self):
        _, page, _ = self.render(write_json(self.tmp, "same.json", isolation_results()))
        self.assertNotIn("iso-bad", page)
        self.assertNotIn("iso-severe", page)
        self.assertTrue("iso-ok" in page or "no difference" in page)

    def test_few_rounds_have_no_interval(self):
        data = isolation_results(rounds=2, slowdown={"cpu": 1.3})
        _, page, _ = self.render(write_json(self.tmp, "few.json", data))
        self.assertIn("(n = 2, no interval)", page)

    def test_no_family_no_section(self):
        data = isolation_results()
        data["benchmarks"] = [b for b in data["benchmarks"]
                              if not b["run_name"].startswith(("Isolation/", "Ratio/"))]
        data["benchmarks"].append(_record("Overhead/container/syscall", 0.1, {}))
        _, page, _ = self.render(write_json(self.tmp, "none.json", data))
        self.assertNotIn('id="isolation"', page)

    def test_bands(self):
        self.assertEqual(band(0.0)[0], "iso-ok")
        self.assertEqual(band(-30.0)[0], "iso-ok")
        self.assertEqual(band(5.0)[0], "iso-mild")
        self.assertEqual(band(99.9)[0], "iso-bad")
        self.assertEqual(band(100.0)[0], "iso-severe")


if __name__ == "__main__":
    unittest.main()
