"""Tests of the generic family tables."""
import json
import os
import unittest

from .report_case import ReportCase


class GenericSectionTest(ReportCase):
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


if __name__ == "__main__":
    unittest.main()
