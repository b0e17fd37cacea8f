"""Tests of the model: how inputs are labelled and compared, failed repetitions."""
import json
import os
import shutil
import subprocess
import unittest

from .report_case import (MODULE, STARTUP, STARTUP_HOST2, THRESHOLDS, ReportCase, html_escape,
                          isobench_cli, load_json, write_json)


class ModelTest(ReportCase):
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


if __name__ == "__main__":
    unittest.main()
