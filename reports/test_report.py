"""Tests of report.py.

  ISOBENCH_PYMODULE_DIR=build/reports /usr/bin/python3 -m unittest discover -s reports

The isobench_py module (the C++ statistics and regression gate) is required, by the
report and by these tests: without it (ISOBENCH_PYMODULE_DIR or a
<repo>/build*/reports holding it) they fail, saying where they looked.
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
# Trimmed from real runs on the development host (quick suite, an I/O run, a conformance
# run); density_results.json adds a VM step skipped at the memory budget, and
# conformance_verdicts.json a failing cell, a missed and a skipped weakening.
FIXTURES = os.path.join(HERE, "testdata")
DENSITY = os.path.join(FIXTURES, "density_results.json")
IO = os.path.join(FIXTURES, "io_results.json")
OVERHEAD = os.path.join(FIXTURES, "overhead_results.json")
VERDICTS = os.path.join(FIXTURES, "conformance_verdicts.json")
# The gate's settings for these tests: ci/thresholds.toml less its stored-file rules.
THRESHOLDS = os.path.join(FIXTURES, "thresholds.toml")
CI_EXAMPLES = os.path.join(REPO, "ci", "examples")

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
if MODULE is None:
    raise ImportError("the isobench_py module is required: " + MODULE_MISSING)


def isobench_cli():
    """The isobench binary beside the module (<build>/harness/cli/isobench), or None."""
    path = os.path.join(os.path.dirname(MODULE.__file__), "..", "harness", "cli", "isobench")
    return path if os.access(path, os.X_OK) else None


def run_report(args, env_extra=None):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, REPORT] + args, capture_output=True, text=True,
                          env=env, timeout=300, check=False)


class ReportCase(unittest.TestCase):
    """Renders reports into a temporary directory (no tests of its own)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="isobench_report_test_")
        self.addCleanup(shutil.rmtree, self.tmp)
        self.out = os.path.join(self.tmp, "out")

    def render(self, *inputs, extra=None):
        result = run_report(["--out", self.out, "--thresholds", THRESHOLDS] + list(extra or []) +
                            list(inputs))
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(self.out, "report.html"), encoding="utf-8") as f:
            page = f.read()
        with open(os.path.join(self.out, "summary.md"), encoding="utf-8") as f:
            summary = f.read()
        return result, page, summary



class ReportTest(ReportCase):
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
        self.assertIn("cannot judge: too few samples: n=3 vs 3", page)  # 3 vs 3 VM boots
        self.assertIn("host comparison", page)  # another host: labelled so
        self.assertRegex(summary, r"\| Startup/ready \| container \|.*\| -\d+\.\d%, improved \|")

    def test_nested_kvm_is_never_labelled_plain_kvm(self):
        with open(STARTUP_HOST2, encoding="utf-8") as f:
            doc = json.load(f)
        doc["context"].update({"vm.accelerator": "kvm", "vm.nested": "tcg",
                               "env.hypervisor": "tcg"})
        nested = os.path.join(self.tmp, "nested.json")
        with open(nested, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        _, page, _ = self.render(STARTUP, nested)
        self.assertIn("vm (tcg / kvm nested in tcg)", page)
        self.assertIn("vm.nested", page)
        self.assertNotIn("vm (tcg / kvm)", page)

    def test_same_host_inputs_are_labelled_by_file(self):
        base = os.path.join(self.tmp, "base.json")
        new = os.path.join(self.tmp, "new.json")
        shutil.copy(STARTUP, base)
        shutil.copy(STARTUP, new)
        _, page, summary = self.render(base, new)
        self.assertIn("input base", page)
        self.assertIn("input new", page)
        self.assertIn("+0.0%, same", summary)

    def test_verdicts_are_the_gates_own(self):
        """What the report says for each row is what `isobench compare --json` says."""
        new = os.path.join(self.tmp, "new.json")
        data = load_json(STARTUP)
        for rec in data["benchmarks"]:
            if rec.get("run_name", "").startswith("Startup/container/ready") and "real_time" in rec:
                rec["real_time"] *= 1.5
        write_json(self.tmp, "new.json", data)
        _, page, summary = self.render(STARTUP, new)
        verdict = MODULE.compare_files(STARTUP, new, thresholds=THRESHOLDS)
        rows = {r["key"]: r for r in verdict["rows"]}
        container = next(r for k, r in rows.items()
                         if k.startswith("Startup/container/ready") and k.endswith(":time"))
        self.assertEqual(container["status"], "regressed")
        self.assertIn("%+.1f%%, regressed" % (100 * container["estimate"]), summary)
        for row in verdict["rows"]:
            if row["metric"] == "time" and row["status"] == "cannot judge":
                self.assertIn(html_escape(row["reason"]), page)
        cli = isobench_cli()
        if cli:
            out = subprocess.run([cli, "compare", "--json", "--thresholds", THRESHOLDS, STARTUP,
                                  new], capture_output=True, text=True, check=False)
            self.assertEqual(out.returncode, verdict["exit_code"], out.stderr)
            cli_rows = {r["key"]: r["status"] for r in json.loads(out.stdout)["rows"]}
            self.assertEqual(cli_rows, {k: r["status"] for k, r in rows.items()})

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



def write_json(directory, name, data):
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return path


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def td_cells(page, css_class):
    """The (title, text) of every <td class="v v-css_class">."""
    return re.findall(r'<td class="v v-%s" title="([^"]*)">([^<]*)</td>' % css_class, page)


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

    def test_old_density_schema_falls_back_to_the_generic_table(self):
        _, page, _ = self.render(STARTUP)  # instances:16 with *_mib counters
        self.assertIn('id="density"', page)
        self.assertNotIn("Density reached under the budget", page)
        self.assertIn("pss_per_instance_mib", page)


class IoSectionTest(ReportCase):
    def test_ratios_to_the_host_without_intervals(self):
        _, page, summary = self.render(IO)
        self.assertIn('<h2 id="io">I/O</h2>', page)
        self.assertTrue(os.path.exists(os.path.join(self.out, "io.png")))
        self.assertIn("<b>One sample per job</b>", page)
        # vm disk read 1M qd1: 597250544 / host 1266... B/s; container overlay 4k randread
        # 154518 IOPS / host 14408 = 10.7×.
        self.assertIn("10.7×", page)
        self.assertRegex(page, r"vm\u00a0\(tcg\)\u00a0disk</td><td class=\"num\">1</td>"
                               r"<td class=\"num\">597 MB/s")
        self.assertIn("0.469×", page)
        # The host row has no ratio, runc's failed jobs say so.
        self.assertRegex(page, r"host\u00a0fs</td>(<td class=\"num\">[^<]*</td>){5}"
                               r"<td class=\"num\">–</td>")
        self.assertIn('title="runc: agent `exec`: agent closed its control channel">failed', page)
        self.assertIn("Io/overlay:read:1M:qd1", summary)

    def test_repetitions_give_intervals(self):
        data = load_json(IO)
        extra = []
        for rec in data["benchmarks"]:
            if rec.get("error_occurred"):
                continue
            # Eight rounds per job: 3 per side cannot give any 95% interval
            # (2 / C(6, 3) = 0.1 is the smallest p), 8 can.
            for k, scale in enumerate((0.9, 1.1, 0.95, 1.05, 0.97, 1.03, 0.99), start=1):
                r = dict(rec, repetition_index=k)
                for key in ("iops", "bw_bytes_per_s", "lat_p50_s", "lat_p99_s"):
                    r[key] = rec[key] * scale
                extra.append(r)
        data["benchmarks"] += extra
        _, page, _ = self.render(write_json(self.tmp, "io8.json", data))
        self.assertIn("95% interval of the ratio", page)
        self.assertNotIn("One sample per job", page)
        self.assertRegex(page, r"\d× <small>\(95% CI [\d.]+ – [\d.]+\)</small>")

    def test_ratio_whose_interval_includes_one_is_no_difference(self):
        data = load_json(IO)
        extra, recs = [], [r for r in data["benchmarks"] if not r.get("error_occurred")]
        # Every target exactly as fast as the host, with noise: no difference.
        host = {r["run_name"].split("/", 2)[2].split(":", 1)[1]: r for r in recs
                if r["run_name"].startswith("Io/host/")}
        for rec in recs:
            job = rec["run_name"].split("/", 2)[2].split(":", 1)[1]
            ref = host.get(job)
            for k, scale in enumerate((0.9, 1.1, 0.95, 1.05, 1.0, 0.97, 1.03, 0.92)):
                r = dict(rec, repetition_index=k)
                for key in ("iops", "bw_bytes_per_s", "lat_p50_s", "lat_p99_s"):
                    r[key] = (ref or rec)[key] * scale * (1.0 + 0.01 * (k % 3))
                extra.append(r)
        data["benchmarks"] = extra
        _, page, _ = self.render(write_json(self.tmp, "io8.json", data))
        self.assertIn("no difference <small>", page)

    def test_without_a_host_row_there_are_no_ratios(self):
        data = load_json(IO)
        data["benchmarks"] = [r for r in data["benchmarks"] if "/host/" not in r["name"]]
        _, page, _ = self.render(write_json(self.tmp, "nohost.json", data))
        self.assertIn("<b>No host row</b>", page)
        self.assertTrue(os.path.exists(os.path.join(self.out, "io.png")))  # p99 still drawn

    def test_unrecognised_io_names_stay_generic(self):
        data = {"context": {"host_name": "h"}, "benchmarks": [
            {"name": "Io/container/randread/bs:4096", "iterations": 1, "real_time": 1.5,
             "cpu_time": 0.2, "time_unit": "s", "iops": 51234.0}]}
        _, page, _ = self.render(write_json(self.tmp, "old.json", data))
        self.assertIn('id="io"', page)
        self.assertNotIn("One sample per job", page)
        self.assertIn("randread/bs:4096", page)


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


class ConformanceSectionTest(ReportCase):
    def test_matrix_and_mutation_table(self):
        _, page, summary = self.render(DENSITY, extra=["--conformance", VERDICTS])
        self.assertIn('<h2 id="conformance">Conformance</h2>', page)
        self.assertIn("graded against<br>the hardened baseline", page)
        self.assertIn("container/hardened", page)
        passes, fails = td_cells(page, "pass"), td_cells(page, "fail")
        skips = td_cells(page, "skip")
        self.assertTrue(passes and fails and skips)
        # The failing cell carries the detail and the known deviation as its tooltip.
        self.assertIn(("known deviation: fixture: a deliberately failing cell\n"
                       "Seccomp: 0 (disabled)", "fail*"), fails)
        # A skipped probe says why in its title.
        self.assertTrue(any("user namespace" in t or "read-only" in t or "promise" in t
                            for t, _ in skips), skips)
        # Unavailable targets are listed, not drawn as grey columns.
        self.assertIn("<b>vm/default</b> — backend `vm` not selected", page)
        self.assertNotIn(">vm/default<br>", page)
        self.assertIn("Mutation testing", page)
        self.assertIn("<b>3 / 4</b>", page)
        self.assertIn('<tr class="missed"><td><code>seccomp</code>', page)
        self.assertIn('title="#2 pid1: init is pid', page)
        self.assertIn("- mutation score: 3/4 weakenings caught; missed: seccomp", summary)
        self.assertIn("- container/default: 3 pass, 1 fail, 2 skip", summary)

    def test_verdict_file_is_detected_among_the_inputs(self):
        _, page, _ = self.render(VERDICTS, IO)
        self.assertIn('id="conformance"', page)
        self.assertIn('id="io"', page)
        self.assertNotIn("input conformance_verdicts", page)  # not taken as a series

    def test_conformance_alone(self):
        _, page, summary = self.render(VERDICTS)
        self.assertIn('id="conformance"', page)
        self.assertNotIn("no benchmark records", page)
        self.assertNotIn("| benchmark | backend |", summary)

    def test_minimal_schema_with_verdicts_key(self):
        path = write_json(self.tmp, "v.json", {"verdicts": [
            {"probe": "pid1", "backend": "runc", "verdict": "pass", "baseline_verdict": "pass"},
            {"probe": "pid1", "backend": "vm", "verdict": "skip", "detail": "no KVM"}]})
        _, page, _ = self.render(path)
        self.assertIn(("no KVM", "skip"), td_cells(page, "skip"))
        self.assertNotIn("Mutation testing", page)

    def test_malformed_verdict_files_name_the_field(self):
        cases = [
            ({"suite": "isobench-conformance", "records": {"a": 1}},
             "records: expected an array, got object"),
            ({"suite": "isobench-conformance", "records": [{"probe": "p", "backend": "b",
                                                            "verdict": "maybe"}]},
             'records[0].verdict: expected "pass", "fail" or "skip", got "maybe"'),
            ({"suite": "isobench-conformance", "records": [{"backend": "b", "verdict": "pass"}]},
             "records[0].probe: missing"),
            ({"suite": "isobench-conformance", "records": [],
              "mutation": {"results": [{"caught_by": []}]}},
             "mutation.results[0].weakening: missing"),
            ({"suite": "isobench-conformance"}, "records: missing"),
        ]
        for i, (data, message) in enumerate(cases):
            path = write_json(self.tmp, "bad%d.json" % i, data)
            result = run_report(["--out", self.out, "--conformance", path])
            self.assertEqual(result.returncode, 2, message)
            self.assertIn(message, result.stderr)
            self.assertNotIn("Traceback", result.stderr)
        truncated = os.path.join(self.tmp, "trunc.json")
        with open(VERDICTS, encoding="utf-8") as f, open(truncated, "w", encoding="utf-8") as g:
            g.write(f.read()[:300])
        result = run_report(["--out", self.out, "--conformance", truncated])
        self.assertEqual(result.returncode, 2)
        self.assertIn("not valid JSON", result.stderr)

    def test_no_inputs_at_all(self):
        result = run_report(["--out", self.out])
        self.assertEqual(result.returncode, 2)
        self.assertIn("give at least one RESULT.json or --conformance FILE", result.stderr)


class MergedInputsTest(ReportCase):
    def test_disjoint_files_from_one_host_are_one_run(self):
        _, page, _ = self.render(DENSITY, IO, OVERHEAD)
        self.assertNotIn("input density_results", page)
        self.assertIn("density_results.json + ", page)
        for anchor in ("density", "io", "overhead"):
            self.assertIn('<h2 id="%s">' % anchor, page)

    def test_overlapping_files_stay_an_a_b(self):
        copy = os.path.join(self.tmp, "again.json")
        shutil.copy(OVERHEAD, copy)
        _, page, _ = self.render(OVERHEAD, copy)
        self.assertIn("<th>series</th>", page)
        self.assertIn("<td>overhead_results</td>", page)
        self.assertIn("<td>again</td>", page)


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


def html_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&quot;").replace("'", "&#x27;")


if __name__ == "__main__":
    unittest.main()
