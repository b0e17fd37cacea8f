"""Tests of how the input files are sorted and joined."""
import os
import shutil
import unittest

from .report_case import DENSITY, IO, OVERHEAD, VERDICTS, ReportCase


class InputsTest(ReportCase):
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


if __name__ == "__main__":
    unittest.main()
