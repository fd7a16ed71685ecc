"""The event table: what we watch, and how each row finds its security group."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chalicelib.events.record import parse_payload
from chalicelib.events.table import (
    EVENT_SOURCES,
    EVENT_TABLE,
    _index,
    eventbridge_source,
    sources_watching,
    watched_event_names,
)
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import ResourceRef
from tests.events.helpers import sg

EC2 = "ec2.amazonaws.com"
SECURITY_GROUP_CALLS = {
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "ModifySecurityGroupRules",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "UpdateSecurityGroupRuleDescriptionsEgress",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "CreateTags",
    "DeleteTags",
}


def test_table_watches_every_call_that_changes_a_security_group() -> None:
    rows = [row for row in EVENT_TABLE.values() if row.kind is SECURITY_GROUP]

    assert {row.event_name for row in rows} == SECURITY_GROUP_CALLS
    assert all(row.event_source == "ec2.amazonaws.com" for row in rows)
    assert all(key == (row.event_source, row.event_name) for key, row in EVENT_TABLE.items())


def test_rule_pattern_lists_come_from_the_table() -> None:
    assert watched_event_names("ec2.amazonaws.com") == sorted(SECURITY_GROUP_CALLS)
    assert watched_event_names("nothing.amazonaws.com") == []
    assert "ec2.amazonaws.com" in EVENT_SOURCES
    assert eventbridge_source("ec2.amazonaws.com") == "aws.ec2"


def test_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        EVENT_TABLE[(EC2, "DescribeSecurityGroups")] = EVENT_TABLE[(EC2, "CreateTags")]  # type: ignore[index]


def locate(
    event_name: str, params: Any = None, response: Any = None, **fields: Any
) -> list[ResourceRef]:
    record: dict[str, Any] = {
        "eventName": event_name,
        "eventSource": "ec2.amazonaws.com",
        "awsRegion": "eu-west-1",
        "recipientAccountId": "111122223333",
        "requestParameters": params,
        "responseElements": response,
    }
    record.update(fields)
    [parsed] = parse_payload(record)
    return EVENT_TABLE[(EC2, event_name)].locate(parsed)


def ref(group_id: str | None = None, **kwargs: Any) -> ResourceRef:
    return sg(group_id, region="eu-west-1", account="111122223333", **kwargs)


SG = "sg-0a1b2c3d4e5f60718"
SG2 = "sg-0b2c3d4e5f6071829"


@pytest.mark.parametrize("event_name", sorted(SECURITY_GROUP_CALLS))
def test_every_row_survives_an_empty_record_and_explains_why(event_name: str) -> None:
    [record] = parse_payload(
        {"eventName": event_name, "awsRegion": "eu-west-1", "requestParameters": {}}
    )
    row = EVENT_TABLE[(EC2, event_name)]

    assert row.locate(record) == []
    assert "requestParameters." in row.explain_miss(record)


@pytest.mark.parametrize(
    "value",
    ["...", "sg-1", "sg-XYZ12345", "", 42, None, ["sg-0a1b2c3d4e5f60718"], " sg-0a1b2c3d4e5f60718"],
)
def test_values_that_are_not_group_ids_are_ignored(value: Any) -> None:
    assert locate("AuthorizeSecurityGroupIngress", {"groupId": value}) == []


def test_short_old_style_group_ids_are_ids() -> None:
    assert locate("AuthorizeSecurityGroupIngress", {"groupId": "sg-903004f8"}) == [
        ref("sg-903004f8")
    ]


def test_group_named_by_request_and_response_is_one_ref() -> None:
    response = {"securityGroupRuleSet": {"items": [{"groupId": SG}, {"groupId": SG}]}}

    assert locate("AuthorizeSecurityGroupIngress", {"groupId": SG}, response) == [ref(SG)]


def test_response_rule_set_names_a_group_the_request_named_by_name() -> None:
    response = {"securityGroupRuleSet": {"items": [{"groupId": SG}]}}

    assert locate("AuthorizeSecurityGroupEgress", {"groupName": "web"}, response) == [ref(SG)]


def test_group_name_only_keeps_the_vpc_when_given() -> None:
    refs = locate("DeleteSecurityGroup", {"groupName": "web", "vpcId": "vpc-0a1b2c3d4e5f60718"})

    assert refs == [ref(None, name="web", vpc_id="vpc-0a1b2c3d4e5f60718")]


def test_delete_by_id_and_response_group_id() -> None:
    assert locate("DeleteSecurityGroup", {"groupId": SG}) == [ref(SG)]
    assert locate("DeleteSecurityGroup", {"groupName": "web"}, {"groupId": SG}) == [
        ref(SG, name="web")
    ]


def test_create_without_response_id_falls_back_to_name_and_vpc() -> None:
    params = {"groupName": "web", "groupDescription": "d", "vpcId": "vpc-a1a044c7"}

    assert locate("CreateSecurityGroup", params, {"_return": True}) == [
        ref(None, name="web", vpc_id="vpc-a1a044c7")
    ]


def test_redacted_group_name_is_not_a_name() -> None:
    assert locate("DeleteSecurityGroup", {"groupName": "..."}) == []


@pytest.mark.parametrize("key", ["GroupId", "groupId"])
def test_modify_rules_nested_group_id(key: str) -> None:
    params = {"ModifySecurityGroupRulesRequest": {key: SG}}

    assert locate("ModifySecurityGroupRules", params) == [ref(SG)]


def test_modify_rules_without_group_falls_back_to_rule_ids() -> None:
    params = {
        "ModifySecurityGroupRulesRequest": {
            "SecurityGroupRule": [
                {"SecurityGroupRuleId": "sgr-0123456789abcdef0"},
                {"SecurityGroupRuleId": "sgr-0fedcba9876543210"},
            ]
        }
    }

    assert locate("ModifySecurityGroupRules", params) == [
        ref(None, rule_ids=("sgr-0123456789abcdef0", "sgr-0fedcba9876543210"))
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"securityGroupRuleIds": {"items": [{"securityGroupRuleId": "sgr-0123456789abcdef0"}]}},
        {"SecurityGroupRuleIds": ["sgr-0123456789abcdef0"]},
        {"securityGroupRuleIds": ["sgr-0123456789abcdef0", "sgr-0123456789abcdef0", "..."]},
    ],
)
def test_revoke_by_rule_ids_only(params: dict[str, Any]) -> None:
    assert locate("RevokeSecurityGroupEgress", params) == [
        ref(None, rule_ids=("sgr-0123456789abcdef0",))
    ]


def test_revoke_naming_the_group_prefers_the_group_over_rule_ids() -> None:
    params = {"groupId": SG, "securityGroupRuleIds": ["sgr-0123456789abcdef0"]}

    assert locate("RevokeSecurityGroupIngress", params) == [ref(SG)]


def test_tags_keep_only_security_groups_once_each() -> None:
    params = {
        "resourcesSet": {
            "items": [
                {"resourceId": SG},
                {"resourceId": "i-0123456789abcdef0"},
                {"resourceId": SG2},
                {"resourceId": SG},
            ]
        }
    }

    assert locate("CreateTags", params) == [ref(SG), ref(SG2)]
    assert locate("DeleteTags", {"resourcesSet": [SG2]}) == [ref(SG2)]
    assert locate("DeleteTags", {"resourcesSet": {}}) == []


def test_ref_uses_the_callers_account_when_the_recipient_is_missing() -> None:
    refs = locate(
        "DeleteSecurityGroup",
        {"groupId": SG},
        recipientAccountId=None,
        userIdentity={"accountId": "999988887777"},
    )

    assert refs == [sg(SG, region="eu-west-1", account="999988887777")]


def test_services_may_share_an_event_name_but_each_pair_is_listed_once() -> None:
    # ELBv2 and EventBridge both have DeleteRule: the key is (eventSource, eventName).
    row = EVENT_TABLE[(EC2, "CreateTags")]
    other = dataclasses.replace(row, event_source="elasticfilesystem.amazonaws.com")

    table = _index([row, other])

    assert table[(EC2, "CreateTags")] is row
    assert table[("elasticfilesystem.amazonaws.com", "CreateTags")] is other
    assert sources_watching("CreateTags") == [EC2]
    with pytest.raises(ValueError, match=r"CreateTags from ec2\.amazonaws\.com twice"):
        _index([row, row])
