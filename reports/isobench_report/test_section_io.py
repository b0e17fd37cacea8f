"""Tests of the I/O section."""
import os
import unittest

from .report_case import IO, ReportCase, load_json, write_json


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

    def test_the_floor_is_found_by_its_traits_not_its_name(self):
        data = load_json(IO)
        for rec in data["benchmarks"]:
            for key in ("name", "run_name"):
                rec[key] = rec[key].replace("/host/", "/bare/")
        ctx = data["context"]
        for key in [k for k in ctx if k.startswith("backend.host.")]:
            ctx["backend.bare." + key[len("backend.host."):]] = ctx.pop(key)
        _, page, _ = self.render(write_json(self.tmp, "bare.json", data))
        self.assertIn("10.7×", page)
        self.assertNotIn("<b>No host row</b>", page)
        # Without its traits the same row is no floor: no ratio can be drawn.
        for key in [k for k in ctx if k.startswith("backend.bare.")]:
            del ctx[key]
        _, page, _ = self.render(write_json(self.tmp, "bare-untyped.json", data))
        self.assertIn("<b>No host row</b>", page)

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


if __name__ == "__main__":
    unittest.main()
