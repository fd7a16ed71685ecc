from __future__ import annotations

import dataclasses
import json
import random

import pytest

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Finding, Status
from chalicelib.report.json_report import finding_to_dict, render_json_report, report_to_dict
from tests.report.samples import ALL, DRIFTED, IN_SYNC, MISSING, OPEN_SSH, UNKNOWN, UNMANAGED

CONTRACT_FINDING_KEYS = {"kind", "id", "name", "account", "region", "status", "spec", "changes"}
CONTRACT_CHANGE_KEYS = {"op", "path", "expected", "actual", "summary"}
CONTRACT_ACTOR_KEYS = {"arn", "event_name", "event_time", "event_id", "source_ip", "user_agent"}


def test_top_level_and_summary_keys_are_exactly_the_contract():
    report = report_to_dict(ALL, checked=12)
    assert list(report) == ["format_version", "summary", "findings"]
    assert report["format_version"] == "1"
    assert set(report["summary"]) == {
        "checked",
        "in_sync",
        "drifted",
        "missing",
        "unmanaged",
        "unknown",
    }


def test_summary_counts_in_sync_as_checked_minus_problems():
    summary = report_to_dict(ALL, checked=12)["summary"]
    assert summary == {
        "checked": 12,
        "in_sync": 8,
        "drifted": 1,
        "missing": 1,
        "unmanaged": 1,
        "unknown": 1,
    }


def test_in_sync_findings_are_counted_but_not_listed():
    report = report_to_dict([IN_SYNC, DRIFTED], checked=2)
    assert [f["id"] for f in report["findings"]] == ["sg-0abc"]
    assert report["summary"]["in_sync"] == 1


def test_drifted_finding_golden():
    assert finding_to_dict(DRIFTED) == {
        "kind": "security_group",
        "id": "sg-0abc",
        "name": "jenkins",
        "account": "123456789012",
        "region": "us-east-1",
        "status": "drifted",
        "spec": "policies/security_groups/jenkins.yaml",
        "spec_line": 3,
        "changes": [
            {
                "op": "remove",
                "path": "ingress",
                "expected": {"proto": "tcp", "ports": "443", "cidr": "10.0.0.0/8"},
                "actual": None,
                "summary": "ingress tcp/443 from 10.0.0.0/8 — in spec, missing live",
                "world_open": False,
            },
            {
                "op": "add",
                "path": "ingress",
                "expected": None,
                "actual": {"proto": "tcp", "ports": "22", "cidr": "0.0.0.0/0"},
                "summary": "ingress tcp/22 from 0.0.0.0/0 — not in spec",
                "world_open": True,
                "revert": OPEN_SSH.revert,
                "accept": "add to ingress: {proto: tcp, ports: '22', cidr: 0.0.0.0/0}",
                "exception": (
                    "exceptions: [{change: {op: add, path: ingress, actual: {proto: tcp, "
                    "ports: '22', cidr: 0.0.0.0/0}}, until: YYYY-MM-DD, reason: 'WHY'}]"
                ),
            },
            {
                "op": "modify",
                "path": "tags.team",
                "expected": "platform",
                "actual": "ops",
                "summary": 'tags.team "platform" -> "ops"',
                "world_open": False,
            },
        ],
        "actor": {
            "arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice",
            "event_name": "AuthorizeSecurityGroupIngress",
            "event_time": "2024-05-01T10:00:00Z",
            "event_id": "0b1c2d3e-aaaa-bbbb-cccc-1234567890ab",
            "source_ip": "203.0.113.7",
            "user_agent": "aws-cli/2.15.0 Python/3.11",
            "session_issuer": "arn:aws:iam::123456789012:role/Admin",
            "via": "console",
            "via_source": None,
            "identity_type": "AssumedRole",
            "account": "123456789012",
            "region": "us-east-1",
            "source": "event",
        },
        "vpc_id": "vpc-0123",
        "reason": None,
        "tags": {},
    }


@pytest.mark.parametrize("finding", [DRIFTED, UNMANAGED, MISSING, UNKNOWN])
def test_every_finding_carries_the_contract_keys(finding):
    out = finding_to_dict(finding)
    assert set(out) >= CONTRACT_FINDING_KEYS
    for change in out["changes"]:
        assert set(change) >= CONTRACT_CHANGE_KEYS
    assert out["status"] == finding.status.value
    assert isinstance(out["kind"], str) and type(out["kind"]) is str


def test_actor_present_with_contract_keys_only_when_known():
    assert set(finding_to_dict(DRIFTED)["actor"]) >= CONTRACT_ACTOR_KEYS | {"session_issuer", "via"}
    assert "actor" not in finding_to_dict(UNMANAGED)


def test_unknown_and_missing_keep_their_reason():
    assert finding_to_dict(UNKNOWN)["reason"] == "AccessDenied on iam:GetRole"
    assert finding_to_dict(MISSING)["id"] is None
    assert finding_to_dict(MISSING)["name"] == "audit-logs"


def test_order_is_deterministic_by_kind_region_id():
    extra = Finding(
        kind=SECURITY_GROUP,
        id="sg-0001",
        name="a",
        account="1",
        region="us-east-1",
        status=Status.DRIFTED,
    )
    findings = [*ALL, extra]
    expected = [
        ("iam_role", "global", UNKNOWN.id),
        ("s3_bucket", "us-east-1", None),
        ("security_group", "eu-west-1", "sg-0def"),
        ("security_group", "us-east-1", "sg-0001"),
        ("security_group", "us-east-1", "sg-0abc"),
    ]
    for seed in range(5):
        shuffled = findings[:]
        random.Random(seed).shuffle(shuffled)
        got = report_to_dict(shuffled, checked=20)["findings"]
        assert [(f["kind"], f["region"], f["id"]) for f in got] == expected


def test_more_problems_than_checked_is_refused():
    with pytest.raises(ValueError, match="checked=1"):
        report_to_dict([DRIFTED, UNMANAGED], checked=1)


def test_rendered_json_parses_back_and_keeps_unicode_readable():
    text = render_json_report(ALL, checked=12)
    assert text.endswith("}\n")
    assert "— not in spec" in text
    assert json.loads(text) == report_to_dict(ALL, checked=12)


def test_empty_report():
    assert report_to_dict([], checked=0) == {
        "format_version": "1",
        "summary": {
            "checked": 0,
            "in_sync": 0,
            "drifted": 0,
            "missing": 0,
            "unmanaged": 0,
            "unknown": 0,
        },
        "findings": [],
    }


def test_a_finding_carries_its_resource_tags_for_downstream_routing():
    tagged = dataclasses.replace(DRIFTED, tags=(("env", "prod"), ("team", "payments")))
    assert finding_to_dict(tagged)["tags"] == {"env": "prod", "team": "payments"}
    assert finding_to_dict(MISSING)["tags"] == {}
