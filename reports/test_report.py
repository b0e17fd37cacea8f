"""Tests of report.py and the pure-Python fallback.

  ISOBENCH_PYMODULE_DIR=build/reports /usr/bin/python3 -m unittest discover -s reports

Without ISOBENCH_PYMODULE_DIR (or a <repo>/build*/reports holding isobench_py) the
report tests exercise the fallback, and the tests that compare the fallback with
the C++ module are skipped, saying why.
"""
import base64
import glob
import importlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TESTDATA = os.path.join(REPO, "harness", "testdata")
STARTUP = os.path.join(TESTDATA, "startup_results.json")
STARTUP_HOST2 = os.path.join(TESTDATA, "startup_results_host2.json")
REPORT = os.path.join(HERE, "report.py")

sys.path.insert(0, HERE)
import isobench_fallback  # noqa: E402  pylint: disable=wrong-import-position


def find_module():
    """The compiled isobench_py, or (None, reason)."""
    env = os.environ.get("ISOBENCH_PYMODULE_DIR")
    dirs = [env] if env else sorted(glob.glob(os.path.join(REPO, "build*", "reports")))
    saved = list(sys.path)
    sys.path[:0] = dirs
    try:
        return importlib.import_module("isobench_py"), None
    except ImportError as e:
        return None, "isobench_py not importable from %s: %s" % (dirs or "no build dir", e)
    finally:
        sys.path[:] = saved


MODULE, MODULE_MISSING = find_module()


def run_report(args, env_extra=None):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, REPORT] + args, capture_output=True, text=True,
                          env=env, timeout=300, check=False)


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="isobench_report_test_")
        self.addCleanup(shutil.rmtree, self.tmp)
        self.out = os.path.join(self.tmp, "out")

    def render(self, *inputs, extra=None):
        result = run_report(["--out", self.out] + list(extra or []) + list(inputs))
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(self.out, "report.html"), encoding="utf-8") as f:
            page = f.read()
        with open(os.path.join(self.out, "summary.md"), encoding="utf-8") as f:
            summary = f.read()
        return result, page, summary

    def test_single_file_has_sections_and_embedded_images(self):
        _, page, summary = self.render(STARTUP)
        for needle in ('id="environment"', 'id="startup"', "<h3>Phases", "<h3>Teardown",
                       'id="density"', "vm (tcg)", "qemu-raw (tcg)", "env.cgroup_mode",
                       "hybrid", "reference", "× container", "pss_per_instance_mib"):
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

    def test_phase_durations_from_cumulative_counters(self):
        _, page, _ = self.render(STARTUP)
        # Container phases in the order they end, each a duration, not a timestamp.
        self.assertRegex(page, r"clone <b>[\d.]+ µs</b>.*→ rootfs <b>[\d.]+ ms</b>.*"
                               r"→ exec <b>[\d.]+ µs</b>.*→ ready")
        self.assertRegex(page, r"domain_created <b>[\d.]+ ms</b>.*→ first_console_byte.*"
                               r"→ kernel <b>[\d.]+ s</b>")

    def test_hosts_side_by_side_normalised_to_first(self):
        _, page, summary = self.render(STARTUP, STARTUP_HOST2)
        self.assertIn("host bench-epyc-02", page)
        self.assertIn("vs vm", page)
        self.assertIn("vm (tcg / kvm)", page)
        self.assertIn('class="differs"', page)  # the environments differ
        self.assertIn('class="v-improved"', page)  # 20 vs 20 container starts, -30%
        self.assertIn("too few samples for a verdict", page)  # 3 vs 3 VM boots
        self.assertRegex(summary, r"\| Startup/ready \| container \|.*\| -\d+\.\d%, improved \|")

    def test_same_host_inputs_are_labelled_by_file(self):
        base = os.path.join(self.tmp, "base.json")
        new = os.path.join(self.tmp, "new.json")
        shutil.copy(STARTUP, base)
        shutil.copy(STARTUP, new)
        _, page, summary = self.render(base, new)
        self.assertIn("input base", page)
        self.assertIn("input new", page)
        self.assertIn("+0.0%, same", summary)

    def test_failed_repetitions_are_reported(self):
        with open(STARTUP, encoding="utf-8") as f:
            data = json.load(f)
        data["benchmarks"].append({
            "name": "Startup/oci/ready", "run_name": "Startup/oci/ready",
            "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
            "error_occurred": True, "error_message": "crun: hybrid cgroups unsupported",
            "iterations": 0, "real_time": 0, "cpu_time": 0, "time_unit": "ns"})
        path = os.path.join(self.tmp, "with_error.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f)
        _, page, summary = self.render(path)
        self.assertIn("1 of 1 repetitions failed: crun: hybrid cgroups unsupported", page)
        self.assertIn("failed (1)", page)
        self.assertIn("warning: Startup/oci/ready", summary)

    def test_generic_family_without_startup(self):
        path = os.path.join(self.tmp, "io.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"context": {"host_name": "h"}, "benchmarks": [
                {"name": "Io/container/randread/bs:4096", "iterations": 1, "real_time": 1.5,
                 "cpu_time": 0.2, "time_unit": "s", "iops": 51234.0},
                {"name": "Io/vm/randread/bs:4096", "iterations": 1, "real_time": 1.7,
                 "cpu_time": 0.3, "time_unit": "s", "iops": 40211.0},
                {"name": "BM_Unrelated", "iterations": 10, "real_time": 5, "cpu_time": 5,
                 "time_unit": "us"}]}, f)
        _, page, _ = self.render(path)
        self.assertNotIn('id="startup"', page)
        self.assertIn('id="io"', page)
        self.assertIn("randread/bs:4096", page)
        self.assertIn("51\u2009234", page)
        self.assertIn("BM_Unrelated", page)  # not Family/backend/params: still shown

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

    def test_fallback_is_announced(self):
        result, page, _ = self.render(STARTUP, extra=["--module-dir",
                                                      os.path.join(self.tmp, "nowhere")])
        self.assertIn("pure-Python fallback", result.stderr)
        self.assertIn("pure-Python fallback", page)

    @unittest.skipIf(MODULE is None, MODULE_MISSING)
    def test_module_is_used_when_found(self):
        result, page, _ = self.render(STARTUP, extra=["--module-dir",
                                                      os.path.dirname(MODULE.__file__)])
        self.assertNotIn("fallback", result.stderr)
        self.assertIn("Computed by the isobench_py module", page)


class FallbackTest(unittest.TestCase):
    """The fallback against scipy's values (stored by the C++ tests' generator)."""

    def test_mann_whitney_matches_scipy(self):
        with open(os.path.join(TESTDATA, "mannwhitney_reference.json"), encoding="utf-8") as f:
            ref = json.load(f)
        for case in ref["cases"]:
            u1, p = isobench_fallback.mann_whitney_u(case["x"], case["y"])
            self.assertAlmostEqual(u1, case["u1"], places=9, msg=case["name"])
            self.assertAlmostEqual(p, case["p_asymptotic"], places=12, msg=case["name"])
            _, p_auto = isobench_fallback.mann_whitney_u(case["x"], case["y"], "auto")
            self.assertAlmostEqual(p_auto, case["p_auto"], places=12, msg=case["name"])
            self.assertAlmostEqual(isobench_fallback.median(case["x"]), case["median_x"])

    def test_splitmix_reference_stream(self):
        rng = isobench_fallback.SplitMix64(0)
        self.assertEqual(rng.next(), 0xE220A8397B1DCDAF)
        self.assertEqual(rng.next(), 0x6E789E6AA1B965F4)

    def test_errors(self):
        with self.assertRaises(ValueError):
            isobench_fallback.bootstrap_ci([])
        with self.assertRaisesRegex(ValueError, "base median is 0"):
            isobench_fallback.compare([0, 0], [1, 2])


@unittest.skipIf(MODULE is None, MODULE_MISSING)
class ParityTest(unittest.TestCase):
    """The fallback must give the numbers the C++ core gives."""

    SAMPLES = [3.1e-3, 2.9e-3, 3.05e-3, 3.3e-3, 2.8e-3, 3.0e-3, 3.2e-3, 2.95e-3, 3.4e-3]

    def test_bootstrap_identical(self):
        for seed in (1, 2, MODULE.DEFAULT_SEED):
            self.assertEqual(MODULE.bootstrap_ci(self.SAMPLES, seed=seed),
                             isobench_fallback.bootstrap_ci(self.SAMPLES, seed=seed))
        self.assertEqual(MODULE.bootstrap_ci(self.SAMPLES[:4], confidence=0.9, resamples=333),
                         isobench_fallback.bootstrap_ci(self.SAMPLES[:4], confidence=0.9,
                                                        resamples=333))

    def test_compare_identical(self):
        new = [v * 1.2 for v in self.SAMPLES] + [3.5e-3]
        for kwargs in ({}, {"direction": "higher_is_better"}, {"method": "auto"}):
            a = MODULE.compare(self.SAMPLES, new, **kwargs)
            b = isobench_fallback.compare(self.SAMPLES, new, **kwargs)
            self.assertEqual(a.keys(), b.keys())
            for key in a:
                if isinstance(a[key], float):
                    self.assertAlmostEqual(a[key], b[key], places=12, msg=key)
                else:
                    self.assertEqual(a[key], b[key], msg=key)

    def test_statistics_identical(self):
        for fn in ("median", "mean", "stddev"):
            self.assertAlmostEqual(getattr(MODULE, fn)(self.SAMPLES),
                                   getattr(isobench_fallback, fn)(self.SAMPLES), places=15)
        self.assertEqual(MODULE.percentile(self.SAMPLES, 90),
                         isobench_fallback.percentile(self.SAMPLES, 90))

    def test_load_results_identical(self):
        for path in (STARTUP, STARTUP_HOST2):
            self.assertEqual(normalise(MODULE.load_results(path)),
                             normalise(isobench_fallback.load_results(path)))

    def test_errors_agree(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"benchmarks": [{"name": "a", "iterations": 1, "real_time": 1,
                                       "cpu_time": [], "time_unit": "ns"}]}, f)
            f.flush()
            messages = []
            for impl in (MODULE, isobench_fallback):
                with self.assertRaises(ValueError) as ctx:
                    impl.load_results(f.name)
                messages.append(str(ctx.exception))
            self.assertEqual(messages[0], messages[1])

    def test_split_name_identical(self):
        for name in ("Startup/vm/ready/iterations:1/repeats:3/manual_time", "BM_Foo",
                     "Io/container/randread/bs:4096/threads:2", "Startup/qemu-raw"):
            self.assertEqual(MODULE.split_name(name), isobench_fallback.split_name(name))


def normalise(value):
    """Floats rounded to 12 significant digits, NaN made comparable."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float):
        return "nan" if math.isnan(value) else float("%.12g" % value)
    return value


if __name__ == "__main__":
    unittest.main()
