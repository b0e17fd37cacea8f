"""Tests of the headline: its figures, what it says when one is missing, and that the
backends' kinds and roles come from the results' context."""
import re
import unittest

from .report_case import (DENSITY, IO, OVERHEAD, STARTUP, STARTUP_HOST2, VERDICTS, ReportCase,
                          load_json, write_json)


def headline(page):
    """The headline section's HTML, rows split: {backend label: [row HTML]}."""
    m = re.search(r'<section class="headline">(.*?)</section>', page, re.S)
    assert m, "no headline section"
    rows = {}
    current = None
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(1), re.S):
        first = re.match(r'<td rowspan="\d+"><b>([^<]+)</b>', tr)
        if first:
            current = first.group(1)
        if current:
            rows.setdefault(current, []).append(tr)
    return m.group(1), rows


class HeadlineTest(ReportCase):
    def test_every_figure_from_one_run(self):
        _, page, _ = self.render(STARTUP, DENSITY, IO, OVERHEAD, extra=["--conformance", VERDICTS])
        html_, rows = headline(page)
        container = rows["container"][0]
        # Startup/ready: median 3.10 ms with its interval and n, ratio to the host floor
        # and to runc (the container kind's yardstick in the context).
        self.assertRegex(container, r"<b>3\.10 ms</b><br><small>95% CI 3\.00 ms – 3\.2\d ms "
                                    r"· n=20</small>")
        self.assertRegex(container, r"<b>3\.56×</b><br><small>vs host · 95% CI [\d.]+–[\d.]+")
        self.assertIn("vs runc", container)
        self.assertNotIn("vs qemu-raw", container)
        self.assertIn("vs qemu-raw", rows["vm (tcg)"][0])  # the VM kind's yardstick
        # Memory at the highest N reached, I/O over the jobs, conformance per profile.
        self.assertIn("<b>0.227 MiB</b><br><small>PSS at N=8</small>", container)
        self.assertIn("<b>0.805× – 10.7×</b><br><small>6 jobs</small>", container)
        self.assertIn('3 pass · <span class="v v-fail">1 fail</span> · 2 skip · 0 error',
                      container)
        self.assertIn("6 pass · 0 fail · 0 skip · 0 error", container)
        # Missing figures say so.
        self.assertIn('<span class="missing">the floor</span>', rows["host"][0])
        self.assertIn('<span class="missing">not measured</span>', rows["runc"][0])
        self.assertIn("6 jobs, 2 without a ratio", rows["runc"][0])
        self.assertIn("not run", rows["vm (tcg)"][0])
        self.assertIn("not graded", rows["qemu-raw (tcg)"][0])
        self.assertNotIn("Not in these inputs", html_)
        self.assertNotIn("Regression gate", html_)  # one input: no gate

    def test_a_vm_is_set_beside_the_plain_qemu_of_its_own_kernel_only(self):
        # Two kernels' VM rows; each VM names its yardstick in the context, so neither is
        # divided by the other kernel's plain qemu (a 5x "cost" that is the kernel's).
        data = load_json(STARTUP)
        extra = []
        for rec in data["benchmarks"]:
            for b in ("vm", "qemu-raw"):
                if rec["name"].startswith("Startup/%s/ready" % b):
                    twin = dict(rec)
                    twin["name"] = twin["run_name"] = rec["name"].replace(
                        "Startup/%s/" % b, "Startup/%s-minimal-kernel/" % b)
                    twin["real_time"] = rec["real_time"] / 4
                    extra.append(twin)
        data["benchmarks"] += extra
        ctx = data["context"]
        for b in ("vm", "qemu-raw"):
            for k in ("kind", "role", "reference"):
                ctx["backend.%s-minimal-kernel.%s" % (b, k)] = ctx["backend.%s.%s" % (b, k)]
        ctx["backend.vm.yardstick"] = "qemu-raw"
        ctx["backend.vm-minimal-kernel.yardstick"] = "qemu-raw-minimal-kernel"
        _, page, _ = self.render(write_json(self.tmp, "kernels.json", data))
        _, rows = headline(page)
        self.assertIn("vs qemu-raw ", rows["vm (tcg)"][0])
        self.assertNotIn("vs qemu-raw-minimal-kernel", rows["vm (tcg)"][0])
        self.assertIn("vs qemu-raw-minimal-kernel", rows["vm-minimal-kernel (tcg)"][0])
        self.assertNotIn("vs qemu-raw ", rows["vm-minimal-kernel (tcg)"][0])
        # Its own plain qemu could not start (an empty list): no yardstick, never the
        # other kernel's.
        data["benchmarks"] = [r for r in data["benchmarks"]
                              if "qemu-raw-minimal-kernel" not in r["name"]]
        ctx["backend.vm-minimal-kernel.yardstick"] = ""
        _, page, _ = self.render(write_json(self.tmp, "kernels2.json", data))
        _, rows = headline(page)
        self.assertNotIn("vs qemu-raw", rows["vm-minimal-kernel (tcg)"][0])
        self.assertIn("none of its kind measured", rows["vm-minimal-kernel (tcg)"][0])

    def test_a_backend_with_nothing_measured_or_graded_gets_no_row(self):
        verdicts = load_json(VERDICTS)
        verdicts["targets"].append({"backend": "crun", "profile": "default",
                                    "status": "unavailable", "reason": "crun is not installed"})
        _, page, _ = self.render(STARTUP, extra=["--conformance",
                                                 write_json(self.tmp, "v.json", verdicts)])
        html_, rows = headline(page)
        self.assertNotIn("crun", rows)
        self.assertIn("Not run: crun (why: the Conformance section).", html_)
        self.assertIn("vm (tcg)", rows)  # measured, its target not run: still a row

    def test_a_column_the_inputs_lack_is_named(self):
        _, page, _ = self.render(DENSITY)
        html_, rows = headline(page)
        self.assertIn("Not in these inputs: startup, I/O jobs, a conformance verdict file.",
                      html_)
        self.assertNotIn("create → ready", html_)
        self.assertIn("<b>252 MiB</b><br><small>PSS at N=1</small>", rows["vm (tcg)"][0])

    def test_the_gate_per_backend_and_overall(self):
        _, page, _ = self.render(STARTUP, STARTUP_HOST2)
        html_, rows = headline(page)
        self.assertIn("<b>Regression gate</b>, bench-epyc-02 against vm (host comparison): "
                      '<span class="v-cannot-judge">exit 4: cannot judge', html_)
        container = rows["container"]
        self.assertEqual(len(container), 2)  # one row per input
        self.assertIn("the base", container[0])
        self.assertRegex(container[1], r'<span class="v-improved">\d improved</span>')
        self.assertIn("vm (tcg / kvm)", rows)  # the accelerator of each input

    def test_paired_ratio_rows_are_preferred(self):
        data = load_json(STARTUP)
        for k, ratio in enumerate((3.4, 3.5, 3.6, 3.7, 3.8)):
            data["benchmarks"].append({
                "name": "Ratio/container/Startup:ready/vs:host/iterations:1/manual_time",
                "run_name": "Ratio/container/Startup:ready/vs:host/iterations:1/manual_time",
                "run_type": "iteration", "repetitions": 5, "repetition_index": k,
                "threads": 1, "iterations": 1, "real_time": ratio, "cpu_time": 0,
                "time_unit": "s"})
        _, page, _ = self.render(write_json(self.tmp, "paired.json", data))
        _, rows = headline(page)
        self.assertRegex(rows["container"][0], r"<b>3\.60×</b><br><small>vs host · 95% CI "
                                               r"[\d.]+–[\d.]+ · 5 paired rounds</small>")
        self.assertNotIn("paired rounds", rows["vm (tcg)"][0])  # none written for the VM

    def test_kinds_and_roles_come_from_the_context(self):
        data = load_json(STARTUP)
        data["context"] = {k: v for k, v in data["context"].items()
                           if not k.startswith("backend.")}
        _, page, _ = self.render(write_json(self.tmp, "untyped.json", data))
        _, rows = headline(page)
        self.assertIn("no host floor in the results", rows["container"][0])
        self.assertIn("kind not in the results", rows["container"][0])
        self.assertNotIn("the floor", rows["host"][0])

    def test_failed_start_says_so(self):
        data = load_json(STARTUP)
        data["benchmarks"] = [r for r in data["benchmarks"]
                              if not r["name"].startswith("Startup/runc/")]
        data["benchmarks"].append({
            "name": "Startup/runc/ready", "run_name": "Startup/runc/ready",
            "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
            "error_occurred": True, "error_message": "runc: not installed",
            "iterations": 0, "real_time": 0, "cpu_time": 0, "time_unit": "ns"})
        _, page, _ = self.render(write_json(self.tmp, "norunc.json", data))
        _, rows = headline(page)
        self.assertIn('<span class="missing">failed (1)</span>', rows["runc"][0])
        self.assertIn("no runc start", rows["container"][0])


if __name__ == "__main__":
    unittest.main()
