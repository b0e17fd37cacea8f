"""Tests of reports/report.py as a whole (the entry point isobench and CI call), of the
isobench_py module it needs, and of the CI examples. Each section's tests sit beside it
in isobench_report/ (test_<module>.py); all of them run with

  ISOBENCH_PYMODULE_DIR=build/reports /usr/bin/python3 -m unittest discover -s reports
"""
import os
import unittest

from isobench_report.report_case import (CI_EXAMPLES, MODULE, STARTUP, STARTUP_HOST2,
                                         THRESHOLDS, ReportCase, write_json)


class DegenerateInputTest(ReportCase):
    def test_zeros_missing_counters_and_failures_do_not_break_the_sections(self):
        record = {"iterations": 1, "cpu_time": 0, "time_unit": "ms"}
        rows = [
            ("Density/container/n:2/manual_time", dict(real_time=0, n=2,
                                                       pss_per_instance_bytes=0,
                                                       answering_fraction=1,
                                                       budget_reached=1)),
            ("Density/vm/n:1", dict(real_time=1, error_occurred=True,
                                    error_message="vm: cannot boot")),
            ("Io/host/fs:read:1M:qd1", dict(real_time=1, iops=0, bw_bytes_per_s=0)),
            ("Io/container/overlay:read:1M:qd1", dict(real_time=1, iops=5)),
            ("Io/container/overlay:randread:4k:qd1", dict(real_time=1)),
            ("Overhead/container/syscall", dict(real_time=1)),
            ("Overhead/host/syscall", dict(real_time=0, ns_per_op=0)),
        ]
        data = {"context": {"host_name": "h"},
                "benchmarks": [dict(record, name=n, **extra) for n, extra in rows]}
        result, page, _ = self.render(write_json(self.tmp, "weird.json", data))
        self.assertNotIn("Traceback", result.stderr)
        self.assertNotIn("No artists with labels", result.stderr)
        self.assertIn("memory budget reached at n=2", page)
        self.assertIn("vm: cannot boot", page)
        for anchor in ("density", "io", "overhead"):
            self.assertIn('<h2 id="%s">' % anchor, page)
        # Nothing positive to draw on a log axis: no empty figures.
        self.assertFalse(os.path.exists(os.path.join(self.out, "io.png")))
        self.assertFalse(os.path.exists(os.path.join(self.out, "density.png")))


class CiExamplesTest(unittest.TestCase):
    def read(self, name):
        with open(os.path.join(CI_EXAMPLES, name), encoding="utf-8") as f:
            return f.read()

    def test_examples_run_the_gate(self):
        # Same-host A/B: the merge base and the change built on one runner and run
        # alternately, then gated; never a stored artifact from another runner.
        for name in ("github-actions.yml", "gitlab-ci.yml"):
            text = self.read(name)
            self.assertIn("git merge-base", text)
            self.assertIn("isobench ab --a ../isobench-base/build --b build --quick", text)
            self.assertIn("--out results/ab", text)
            self.assertNotIn("isobench compare results/main", text)
            self.assertTrue("-eq 3" in text or "3) echo" in text, name)
            self.assertIn("privileged", text)
            self.assertIn("/dev/kvm", text)

    def test_examples_are_valid_yaml(self):
        try:
            import yaml  # pylint: disable=import-outside-toplevel
        except ImportError:
            self.skipTest("python3-yaml is not installed")
        gha = yaml.safe_load(self.read("github-actions.yml"))
        self.assertIn("pull-request", gha["jobs"])
        self.assertEqual(gha["jobs"]["pull-request"]["container"]["image"], "debian:12")
        gitlab = yaml.safe_load(self.read("gitlab-ci.yml"))
        self.assertEqual(gitlab["isobench:mr"]["artifacts"]["when"], "always")


class ModuleTest(unittest.TestCase):
    """The module's gate entry points."""

    def test_compare_results_on_loaded_dicts_matches_compare_files(self):
        a = MODULE.compare_results(MODULE.load_results(STARTUP), MODULE.load_results(STARTUP),
                                   thresholds=THRESHOLDS)
        b = MODULE.compare_files(STARTUP, STARTUP, thresholds=THRESHOLDS)
        self.assertIn("same", [r["status"] for r in a["rows"]])
        self.assertEqual([r["status"] for r in a["rows"]], [r["status"] for r in b["rows"]])
        self.assertEqual(a["schema"], "isobench-compare/1")

    def test_other_host_is_refused_unless_cross_host(self):
        refused = MODULE.compare_files(STARTUP, STARTUP_HOST2)
        self.assertTrue(refused["environment"]["refused"])
        self.assertEqual(refused["exit_code"], 4)
        host = MODULE.compare_files(STARTUP, STARTUP_HOST2, cross_host=True)
        self.assertEqual(host["kind"], "host comparison")

    def test_change_interval(self):
        base = [1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01]
        est, low, high = MODULE.change_interval(base, [v * 2 for v in base], 0.05)
        self.assertAlmostEqual(est, 1.0)
        self.assertLessEqual(low, 1.0)
        self.assertGreaterEqual(high, 1.0)
        with self.assertRaises(ValueError):
            MODULE.change_interval([], [1.0])


if __name__ == "__main__":
    unittest.main()
