"""Reports for `setpoint check`: text for people, JSON for tools, JUnit for CI.

All renderers are pure: findings in, a string or a JSON-ready dict out.
"""

from __future__ import annotations

from chalicelib.report.json_report import finding_to_dict, render_json_report, report_to_dict
from chalicelib.report.junit_report import render_junit
from chalicelib.report.text_report import render_text_report

__all__ = [
    "finding_to_dict",
    "render_json_report",
    "render_junit",
    "render_text_report",
    "report_to_dict",
]
