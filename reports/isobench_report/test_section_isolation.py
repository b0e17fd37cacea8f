"""Tests of the performance-isolation section."""
import math
import os
import re
import types
import unittest

from .report_case import ReportCase, write_json
from .section_isolation import _figure, band


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


CASES = (("cpu", "cpu"), ("disk", "randread"), ("fork", "latency"))
BASE_US = {"cpu": 400.0, "memory": 2000.0, "randread": 80.0, "latency": 20.0,
           "tcp_rr": 50.0}


def _counters(metric, t_us):
    t = t_us * 1e-6
    return {"cpu": {"bogo_ops_per_s": 1 / t},
            "memory": {"bytes_per_s": 2 ** 20 / t},
            "randread": {"iops": 1 / t, "p99_s": 3 * t},
            "latency": {"p50_s": t, "p99_s": 4 * t},
            "tcp_rr": {"p50_s": t, "p99_s": 2 * t}}[metric]


def isolation_results(rounds=9, slowdown=None, runc_error=None, cases=CASES, noisy=()):
    """A run of the Isolation family on the container and runc: `slowdown` maps a
    stressor, or a (stressor, metric) case, to the factor its time is multiplied by (1:
    unharmed); the cases in `noisy` have ratios spread from 0 to twice it, an interval
    that cannot tell them from alone."""
    slowdown = slowdown or {}

    def factor(stressor, metric):
        return slowdown.get((stressor, metric), slowdown.get(stressor, 1.0))
    alone = tuple(("alone", m) for m in dict.fromkeys(m for _, m in cases))
    benchmarks = []
    for k in range(rounds):
        noise = 1.0 + 0.01 * ((k * 7) % 5 - 2)
        for backend in ("container", "runc"):
            for stressor, metric in alone + tuple(cases):
                t = BASE_US[metric] * (1.0 if stressor == "alone" else
                                       factor(stressor, metric)) * noise
                counters = _counters(metric, t)
                if stressor == "cpu":
                    counters["neighbour_cpu_vs_quota"] = 1.01
                if stressor == "memory":
                    counters["oom_kills"] = 2.0
                    counters["oom_kills_victim"] = 0.0
                    counters["oom_kills_elsewhere"] = 1.0 if (backend, k) == ("runc", 0) else 0.0
                if stressor == "disk":
                    counters["io_weight"] = 500.0
                if stressor == "fork":
                    counters.update({"neighbour_pids": 500.0, "pids_limit": 512.0})
                name = "Isolation/%s/%s:%s" % (backend, stressor, metric)
                if backend == "runc" and stressor == "disk" and runc_error:
                    benchmarks.append(_record(name, 1.0, {}, error=runc_error))
                    continue
                label = "neighbour: " + stressor
                if stressor == "disk" and backend == "container":
                    label += ("; io_weight=500 each, held by the kernel; host disk vda schedules "
                              "with mq-deadline, which does not divide by weight (BFQ does)")
                elif stressor == "disk":
                    del counters["io_weight"]
                    label += ("; io_weight NOT applied on runc: the daemon discarded a limit: "
                              "Weight discarded.; host disk vda schedules with mq-deadline, "
                              "which does not divide by weight (BFQ does)")
                benchmarks.append(_record(name, t, counters, label=label))
            for stressor, metric in cases:
                spread = 0.5 if (stressor, metric) in noisy else 0.005
                ratio = factor(stressor, metric) * (1.0 + spread * ((k * 3) % 5 - 2))
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
                        "backend.runc.kind": "container", "backend.runc.role": "reference",
                        "backend.runc.reference": "true"},
            "benchmarks": benchmarks}


def matrix_of(page):
    """The isolation matrix's HTML: from its heading to the historic reference."""
    start = page.index("<h3>Isolation matrix")
    return page[start:page.index("The historic reference", start)]


def figures_row(page, backend, neighbour):
    """The <td>s of the first row of the raw-figures table for backend and neighbour."""
    start = page.index("<h3>The figures behind it</h3>")
    body = page[start:page.index("</table>", start)]
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        if cells[:2] == [backend, neighbour]:
            return cells
    raise AssertionError("no row %s / %s in %s" % (backend, neighbour, body))


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
        matrix = matrix_of(page)
        self.assertIn('title="no value of the row; runc: disk: fio exited 1">failed (randread)',
                      matrix)
        # The container's unharmed disk case is green or no difference; runc's is neither.
        self.assertEqual(matrix.count("iso-failed"), 1)
        runc_row = matrix[matrix.index("<td>runc</td>"):]
        runc_row = runc_row[:runc_row.index("</tr>")]
        disk_cell = re.findall(r"<td[^>]*>(.*?)</td>", runc_row)[3]  # cpu, fork, disk
        self.assertIn("iso-failed", disk_cell)
        self.assertNotIn("iso-ok", disk_cell)
        self.assertNotIn("no difference", disk_cell)
        # In the figures, the failed row is as wide as the others: n = 0, failed, dashes.
        row = figures_row(page, "runc", "disk")
        self.assertEqual(len(row), 7)
        self.assertEqual(row[3], "0")
        self.assertIn("runc: disk: fio exited 1", row[4])

    def test_the_cell_is_the_worst_metric_beside_the_stressor(self):
        # The full matrix: three victim figures beside the cpu stressor, disk first in
        # the file but second in the matrix.
        cases = (("disk", "randread"), ("cpu", "cpu"), ("cpu", "latency"), ("cpu", "memory"))
        data = isolation_results(cases=cases, slowdown={
            ("cpu", "cpu"): 1.5, ("cpu", "latency"): 2.5, ("cpu", "memory"): 1.02})
        _, page, _ = self.render(write_json(self.tmp, "full.json", data))
        matrix = matrix_of(page)
        self.assertLess(matrix.index("beside <code>cpu</code>"),
                        matrix.index("beside <code>disk</code>"))
        cpu_cell = re.findall(r"<td[^>]*>(.*?)</td>", matrix)[1]
        self.assertIn('class="iso-severe"', cpu_cell)
        self.assertIn("+150 %", cpu_cell)
        self.assertIn("agent request round trip", cpu_cell)
        self.assertNotIn("+50 %", matrix)
        # Every figure is in the table behind it, in its unit.
        self.assertIn("+50 %", page)
        self.assertIn("500 MiB/s", page)
        self.assertIn("2500 ops/s", page)
        self.assertIn("12500 IOPS", page)
        self.assertIn("20.0 µs", page)

    def test_a_larger_degradation_not_told_apart_is_named(self):
        cases = (("cpu", "cpu"), ("cpu", "latency"))
        data = isolation_results(cases=cases, noisy={("cpu", "latency")},
                                 slowdown={("cpu", "cpu"): 1.1, ("cpu", "latency"): 1.3})
        _, page, _ = self.render(write_json(self.tmp, "noisy.json", data))
        cpu_cell = re.findall(r"<td[^>]*>(.*?)</td>", matrix_of(page))[1]
        self.assertIn('class="iso-mild"', cpu_cell)
        self.assertIn("+10 %", cpu_cell)
        self.assertIn("agent request round trip: +30 %, not told apart", cpu_cell)

    def test_no_interval_excluding_zero_is_grey(self):
        data = isolation_results(noisy={c for c in CASES}, slowdown={"cpu": 1.3})
        _, page, _ = self.render(write_json(self.tmp, "grey.json", data))
        matrix = matrix_of(page)
        self.assertEqual(matrix.count('class="iso-same"'), 6)
        self.assertIn("no difference <small>(+30 %", matrix)
        self.assertNotIn("iso-bad", matrix)
        self.assertNotIn("iso-mild", matrix)

    def test_limits_and_what_was_not_measured(self):
        cases = CASES + (("memory", "memory"),)
        data = isolation_results(cases=cases)
        data["context"]["bench.isolation.not_measured"] = (
            "runc: net_send, net_recv and tcp_rr (no bridge network)")
        _, page, _ = self.render(write_json(self.tmp, "limits.json", data))
        self.assertIn("Not measured: runc: net_send, net_recv and tcp_rr (no bridge network).",
                      page)
        self.assertIn("1.01× <small>(1.01 – 1.01)</small>", page)
        self.assertIn("18 in 9 rounds; 0 in the victim; 0 elsewhere on the host", page)
        # A kill outside the neighbour's own limit stands out.
        self.assertIn('18 in 9 rounds; 0 in the victim; <b class="iso-stray" '
                      'style="color:#b00020">1 elsewhere on the host</b>', page)
        self.assertIn("up to 500 of 512", page)
        self.assertIn("500<br><small>host disk vda schedules with mq-deadline, which does not "
                      "divide by weight (BFQ does)</small>", page)
        self.assertIn("not applied<br><small>io_weight NOT applied on runc: the daemon discarded "
                      "a limit: Weight discarded.</small><br><small>host disk vda", page)

    def test_no_oom_kill_is_zero_not_missing(self):
        # The figures not measured beside the memory hog have no counter: the row holding
        # zeros must win over them.
        data = isolation_results(cases=CASES + (("memory", "memory"),))
        for rec in data["benchmarks"]:
            if "oom_kills" in rec:
                rec["oom_kills"] = 0.0
        _, page, _ = self.render(write_json(self.tmp, "zero.json", data))
        self.assertIn("0 in 9 rounds; 0 in the victim; 0 elsewhere on the host", page)

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

    def test_figures_in_their_units(self):
        def cell(samples, **counters):
            return types.SimpleNamespace(samples=samples,
                                         counters={k: [v] for k, v in counters.items()})
        self.assertEqual(_figure(cell([1e-3], bytes_per_s=3 * 2 ** 30), "memory"), "3.00 GiB/s")
        self.assertEqual(_figure(cell([1e-3], bytes_per_s=2 ** 29), "memory"), "512 MiB/s")
        # Without its counter, from the time: seconds per MiB, per op, the round trip.
        self.assertEqual(_figure(cell([2 ** -8]), "memory"), "256 MiB/s")
        self.assertEqual(_figure(cell([4e-4]), "cpu"), "2500 ops/s")
        self.assertEqual(_figure(cell([2.5e-4]), "tcp_rr"), "250 µs")
        self.assertEqual(_figure(cell([math.nan]), "randread"), "–")

    def test_bands(self):
        self.assertEqual(band(0.0)[0], "iso-ok")
        self.assertEqual(band(-30.0)[0], "iso-ok")
        self.assertEqual(band(5.0)[0], "iso-mild")
        self.assertEqual(band(99.9)[0], "iso-bad")
        self.assertEqual(band(100.0)[0], "iso-severe")


if __name__ == "__main__":
    unittest.main()
