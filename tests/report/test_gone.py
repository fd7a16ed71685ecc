"""A resource deleted while no spec named it is reported as gone, never as drift."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Finding, ResourceRef, Status, gone_finding
from chalicelib.report import render_json_report, render_junit, render_text_report
from chalicelib.report.common import count_statuses, is_off_spec
from tests.report.samples import ACCOUNT, ALICE

GONE = gone_finding(ResourceRef(SECURITY_GROUP, ACCOUNT, "eu-west-1", "sg-0aaa", "stray"), ALICE)
MISSING = Finding(
    SECURITY_GROUP,
    None,
    "db",
    ACCOUNT,
    "eu-west-1",
    Status.MISSING,
    spec="policies/db.yaml:3",
    reason="the spec names a group that does not exist",
)


def test_gone_is_not_off_spec_but_missing_is() -> None:
    assert not is_off_spec(GONE)
    assert is_off_spec(MISSING)


def test_counts_keep_gone_apart_and_out_of_in_sync() -> None:
    assert count_statuses([GONE, MISSING], checked=3) == {
        "checked": 3,
        "in_sync": 1,
        "drifted": 0,
        "missing": 1,
        "unmanaged": 0,
        "unknown": 0,
        "gone": 1,
    }
    assert "gone" not in count_statuses([MISSING], checked=1)


def test_json_lists_gone_apart_from_findings() -> None:
    report = json.loads(render_json_report([GONE, MISSING], checked=2))
    assert [f["name"] for f in report["findings"]] == ["db"]
    assert [f["id"] for f in report["gone"]] == ["sg-0aaa"]
    assert report["summary"]["missing"] == 1 and report["summary"]["gone"] == 1
    assert "gone" not in json.loads(render_json_report([MISSING], checked=1))


def test_text_says_deleted_without_calling_it_drift() -> None:
    text = render_text_report([GONE], checked=1)
    assert 'gone: security group sg-0aaa "stray" was deleted; no spec names it' in text
    assert "No drift" in text
    assert text.rstrip().endswith("0 missing, 0 unknown, 1 gone.")
    assert "missing:" not in text


def test_junit_skips_gone_instead_of_failing() -> None:
    root = ET.fromstring(render_junit([GONE, MISSING]).split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    gone = cases["eu-west-1/sg-0aaa stray"]
    assert gone.find("failure") is None
    skipped = gone.find("skipped")
    assert skipped is not None and "deleted" in (skipped.get("message") or "")
