from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from chalicelib.kinds.iam import IAM_ROLE
from chalicelib.model import Finding, Status
from chalicelib.report.junit_report import render_junit
from tests.report.samples import ALL, DRIFTED, IN_SYNC


def _cases(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml.encode("utf-8"))
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_one_suite_with_counts():
    xml = render_junit(ALL)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(xml.encode("utf-8"))
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "setpoint"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "3", "1")
    assert "timestamp" not in suite.attrib


def test_testcase_per_resource_named_region_id_name():
    cases = _cases(render_junit(ALL))
    assert sorted(cases) == [
        "eu-west-1/sg-0def legacy-bastion",
        "global/arn:aws:iam::123456789012:role/deploy deploy",
        "us-east-1/audit-logs",
        "us-east-1/sg-0aaa web",
        "us-east-1/sg-0abc jenkins",
    ]
    assert cases["us-east-1/sg-0abc jenkins"].get("classname") == "security_group"
    assert cases["us-east-1/audit-logs"].get("classname") == "s3_bucket"


def test_in_sync_passes_and_problems_fail_or_error():
    cases = _cases(render_junit(ALL))
    assert list(cases["us-east-1/sg-0aaa web"]) == []
    assert [c.tag for c in cases["us-east-1/sg-0abc jenkins"]] == ["failure"]
    assert [c.tag for c in cases["eu-west-1/sg-0def legacy-bastion"]] == ["failure"]
    assert [c.tag for c in cases["us-east-1/audit-logs"]] == ["failure"]
    unknown = cases["global/arn:aws:iam::123456789012:role/deploy deploy"]
    assert [c.tag for c in unknown] == ["error"]
    assert "AccessDenied on iam:GetRole" in (unknown[0].get("message") or "")


def test_failure_text_holds_the_change_lines():
    failure = _cases(render_junit(ALL))["us-east-1/sg-0abc jenkins"][0]
    assert failure.get("type") == "drifted"
    assert failure.get("message") == "drifted: drifted from its spec (3 changes)"
    lines = (failure.text or "").splitlines()
    assert "spec: policies/security_groups/jenkins.yaml:3" in lines
    assert "+ ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world" in lines
    assert "- ingress tcp/443 from 10.0.0.0/8 — in spec, missing live" in lines
    assert '~ tags.team "platform" -> "ops"' in lines


def test_markup_and_control_characters_stay_well_formed():
    evil = replace(
        DRIFTED,
        name='<!channel> & "quotes" ]]> \x07bell',
        reason="<failure>not really</failure>",
    )
    xml = render_junit([evil, IN_SYNC])
    root = ET.fromstring(xml.encode("utf-8"))  # raises if not well-formed
    names = [case.get("name") for case in root.iter("testcase")]
    # the bell is shown as what it is, like in every other renderer (issue 13 item 8)
    assert 'us-east-1/sg-0abc <!channel> & "quotes" ]]> \\x07bell' in names
    assert len(list(root.iter("failure"))) == 1
    assert "<failure>not really</failure>" in (next(root.iter("failure")).text or "")


def test_timestamp_only_when_given():
    root = ET.fromstring(render_junit([IN_SYNC], timestamp="2024-05-01T10:00:00Z"))
    assert root.find("testsuite").get("timestamp") == "2024-05-01T10:00:00Z"  # type: ignore[union-attr]


def test_empty_suite_is_valid():
    root = ET.fromstring(render_junit([]))
    assert root.find("testsuite").get("tests") == "0"  # type: ignore[union-attr]


def test_several_accounts_keep_same_named_resources_apart():
    role = Finding(IAM_ROLE, "deploy", "deploy", "111122223333", "global", Status.IN_SYNC)
    other = replace(role, account="444455556666")
    root = ET.fromstring(render_junit([role, other]))
    names = sorted(c.get("name", "") for c in root.iter("testcase"))
    assert names == ["111122223333/global/deploy", "444455556666/global/deploy"]
    (single,) = ET.fromstring(render_junit([role])).iter("testcase")
    assert single.get("name") == "global/deploy"  # one account: names as before
