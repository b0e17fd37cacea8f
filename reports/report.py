#!/usr/bin/python3
"""Renders isobench benchmark results (Google Benchmark JSON) as HTML and Markdown.

  /usr/bin/python3 reports/report.py --out DIR RESULT.json [RESULT2.json ...]
  /usr/bin/python3 reports/report.py --out DIR bench.json io.json --conformance verdicts.json

The entry point `isobench report` and CI call; the report itself is the package
isobench_report beside this file (its __init__ says what the report shows).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from isobench_report.cli import main  # noqa: E402  pylint: disable=wrong-import-position

if __name__ == "__main__":
    sys.exit(main())
