"""Whatever arrives, the event layer either answers or raises EventError: never a crash."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.errors import EventError
from chalicelib.events.route import Routed, Skipped, route_payload
from chalicelib.events.table import EVENT_TABLE
from chalicelib.kinds.registry import ALL_KINDS
from chalicelib.kinds.security_group import SECURITY_GROUP

# Keys the code reads, so random records reach the locators and not only the type checks.
KEYS = [
    "eventName", "eventSource", "awsRegion", "errorCode", "readOnly", "recipientAccountId",
    "requestParameters", "responseElements", "userIdentity", "userAgent", "eventID",
    "groupId", "groupName", "vpcId", "items", "resourceId", "resourcesSet",
    "securityGroupRuleIds", "SecurityGroupRuleIds", "securityGroupRuleId",
    "securityGroupRuleSet", "revokedSecurityGroupRuleSet", "ModifySecurityGroupRulesRequest",
    "GroupId", "SecurityGroupRule", "SecurityGroupRuleId", "sessionContext", "sessionIssuer",
    "arn", "invokedBy", "type", "accountId", "detail", "Records", "account", "region",
]  # fmt: skip
NAMES = [*sorted(EVENT_TABLE), "DescribeSecurityGroups", "RunInstances"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "...", "true", "sg-0a1b2c3d4e5f60718", "sgr-0123456789abcdef0"])
    | st.sampled_from(["sg-0b2c3d4e5f6071829", "sg-903004f8", "i-0123456789abcdef0"])
    | st.sampled_from([*NAMES, "ec2.amazonaws.com", "eu-west-1", "vpc-a1a044c7"])
    | st.text(max_size=8)
)
keys = st.sampled_from(KEYS) | st.text(max_size=6)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
# Loosely typed records: mostly rejected by the type checks, which must say why.
loose_records = st.fixed_dictionaries(
    {"eventName": st.sampled_from(NAMES)},
    optional={key: json_values for key in KEYS[1:10]},
)
# Well-typed records with random insides: these reach the locators and the actor.
ids = st.sampled_from(
    ["sg-0a1b2c3d4e5f60718", "sg-903004f8", "sgr-0123456789abcdef0", "i-0123456789abcdef0", "..."]
)
elements = st.fixed_dictionaries(
    {},
    optional={
        key: ids | scalars
        for key in ("groupId", "resourceId", "securityGroupRuleId", "SecurityGroupRuleId")
    },
)
lists: st.SearchStrategy[Any] = (
    st.lists(ids | elements, max_size=3)
    | st.builds(lambda found: {"items": found}, st.lists(elements | ids, max_size=3))
    | st.just({})
    | json_values
)
request_parameters = st.fixed_dictionaries(
    {},
    optional={
        "groupId": ids | scalars,
        "groupName": st.sampled_from(["web", "...", ""]) | scalars,
        "vpcId": st.sampled_from(["vpc-a1a044c7", "..."]) | scalars,
        "securityGroupRuleIds": lists,
        "SecurityGroupRuleIds": lists,
        "resourcesSet": lists,
        "ModifySecurityGroupRulesRequest": st.fixed_dictionaries(
            {}, optional={"GroupId": ids, "groupId": ids, "SecurityGroupRule": lists}
        )
        | scalars,
    },
)
response_elements = st.fixed_dictionaries(
    {},
    optional={
        "groupId": ids | scalars,
        "securityGroupRuleSet": lists,
        "revokedSecurityGroupRuleSet": lists,
    },
)
typed_records = st.fixed_dictionaries(
    {
        "eventName": st.sampled_from(NAMES),
        "eventSource": st.sampled_from(["ec2.amazonaws.com"] * 4 + ["s3.amazonaws.com"]),
        "awsRegion": st.sampled_from(["eu-west-1", "us-east-1"]),
        # mostly successful writes, so that most examples reach the locators
        "readOnly": st.sampled_from([None, None, None, False, True, "true", "false"]),
        "errorCode": st.sampled_from([None, None, None, "", "Client.UnauthorizedOperation"]),
        "requestParameters": request_parameters,
        "responseElements": response_elements | st.none(),
    },
    optional={
        "recipientAccountId": st.sampled_from(["111122223333", ""]),
        "userIdentity": st.dictionaries(keys, json_values, max_size=6),
        "userAgent": st.sampled_from(["console.amazonaws.com", "Terraform/1.9", "AWS Internal"]),
        "sessionCredentialFromConsole": json_values,
    },
)


def envelope(detail: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    extra = st.dictionaries(keys, json_values, max_size=3)
    return st.builds(lambda found, more: {**more, "detail": found}, detail, extra)


def log_file(record: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda found: {"Records": found}, st.lists(record, max_size=3))


anything = loose_records | json_values
payloads = (
    typed_records
    | envelope(typed_records)
    | log_file(typed_records)
    | anything
    | envelope(anything)
    | log_file(anything)
)


@settings(max_examples=500, deadline=None)
@given(payloads)
def test_any_payload_routes_or_raises_event_error(payload: Any) -> None:
    try:
        results = route_payload(payload)
    except EventError as error:
        assert str(error)
        return
    for result in results:
        assert isinstance(result, Routed | Skipped)
        if isinstance(result, Routed):
            assert result.refs
            for ref in result.refs:
                assert ref.kind in ALL_KINDS
                if ref.kind is SECURITY_GROUP:
                    assert ref.id is None or re.fullmatch(r"sg-[0-9a-f]{8,17}", ref.id)
                    assert ref.id or ref.name or ref.rule_ids
        else:
            assert result.detail
