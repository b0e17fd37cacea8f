"""Tests of the Conformance section and of the verdict file's schema."""
import os
import unittest

from .report_case import (DENSITY, VERDICTS, ReportCase, run_report, td_cells,
                          write_json)


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


if __name__ == "__main__":
    unittest.main()
