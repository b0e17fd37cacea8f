"""Tests of the command line: bad inputs and a missing module fail cleanly (exit 2)."""
import json
import os
import unittest

from .report_case import MODULE, STARTUP, ReportCase, run_report


class CliTest(ReportCase):
    def test_malformed_json_fails_cleanly(self):
        with open(STARTUP, encoding="utf-8") as f:
            text = f.read()
        path = os.path.join(self.tmp, "truncated.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text[: len(text) // 2])
        result = run_report(["--out", self.out, path])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("report.py: error: cannot load", result.stderr)
        self.assertIn("truncated.json", result.stderr)
        self.assertIn("not valid JSON", result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out, "report.html")))

    def test_wrong_type_names_the_field(self):
        path = os.path.join(self.tmp, "wrong.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"benchmarks": [{"name": "Startup/vm/ready", "iterations": 1,
                                       "real_time": "slow", "cpu_time": 1,
                                       "time_unit": "s"}]}, f)
        result = run_report(["--out", self.out, path])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("benchmarks[0].real_time: expected a number, got string", result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_missing_input_fails_cleanly(self):
        result = run_report(["--out", self.out, os.path.join(self.tmp, "absent.json")])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("absent.json", result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_bad_thresholds_file_is_an_error(self):
        result = run_report(["--out", self.out, "--thresholds", os.path.join(self.tmp, "no.toml"),
                             STARTUP, STARTUP])
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("no.toml", result.stderr)

    def test_missing_module_is_an_error(self):
        nowhere = os.path.join(self.tmp, "nowhere")
        result = run_report(["--out", self.out, "--module-dir", nowhere, STARTUP])
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot import the isobench_py module", result.stderr)
        self.assertIn(nowhere, result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out, "report.html")))

    def test_module_is_used_when_found(self):
        result, page, _ = self.render(STARTUP, extra=["--module-dir",
                                                      os.path.dirname(MODULE.__file__)])
        self.assertNotIn("fallback", result.stderr)
        self.assertIn("Computed by the isobench_py module", page)

    def test_no_inputs_at_all(self):
        result = run_report(["--out", self.out])
        self.assertEqual(result.returncode, 2)
        self.assertIn("give at least one RESULT.json or --conformance FILE", result.stderr)


if __name__ == "__main__":
    unittest.main()
