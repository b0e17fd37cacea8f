"""Shared by the report's tests: the fixtures, the isobench_py module, and a test case
that renders a report through reports/report.py (the entry point isobench and CI call)
into a temporary directory.

  ISOBENCH_PYMODULE_DIR=build/reports /usr/bin/python3 -m unittest discover -s reports

The isobench_py module (the C++ statistics and regression gate) is required, by the
report and by these tests: without it (ISOBENCH_PYMODULE_DIR or a
<repo>/build*/reports holding it) they fail, saying where they looked.
"""
import glob
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TESTDATA = os.path.join(REPO, "harness", "testdata")
STARTUP = os.path.join(TESTDATA, "startup_results.json")
STARTUP_HOST2 = os.path.join(TESTDATA, "startup_results_host2.json")
REPORT = os.path.join(REPO, "reports", "report.py")
# Trimmed from real runs on the development host (quick suite, an I/O run, a conformance
# run); density_results.json adds a VM step skipped at the memory budget, and
# conformance_verdicts.json a failing cell, a missed and a skipped weakening.
FIXTURES = os.path.join(REPO, "reports", "testdata")
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


def html_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&quot;").replace("'", "&#x27;")
