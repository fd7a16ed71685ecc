"""Reports for `setpoint check`: text for people, JSON for tools, JUnit and SARIF for CI,
Markdown for a pull-request comment.

All renderers are pure: findings in, a string or a JSON-ready dict out.
"""

from __future__ import annotations

from chalicelib.report.json_report import finding_to_dict, render_json_report, report_to_dict
from chalicelib.report.junit_report import render_junit
from chalicelib.report.markdown_report import render_markdown
from chalicelib.report.sarif_report import render_sarif
from chalicelib.report.text_report import render_text_report

__all__ = [
    "finding_to_dict",
    "render_json_report",
    "render_junit",
    "render_markdown",
    "render_sarif",
    "render_text_report",
    "report_to_dict",
]
