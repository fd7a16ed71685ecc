"""Whatever arrives, the event layer either answers or raises EventError: never a crash.

Records are drawn for every row of the event table: EC2's (security groups) and IAM's
(policies, roles, users, groups), and what they route to must be a resource a
collector can read: a group id or name, an IAM name or a customer-managed IAM ARN.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from chalicelib.errors import EventError
from chalicelib.events.route import Routed, Skipped, route_payload
from chalicelib.events.table import EVENT_TABLE
from chalicelib.kinds.iam.model import ARN_TYPES, IAM_KINDS, NAME_RE, parse_arn
from chalicelib.kinds.registry import ALL_KINDS
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import GLOBAL_REGION, ResourceRef

# Keys the code reads, so random records reach the locators and not only the type checks.
KEYS = [
    "eventName", "eventSource", "awsRegion", "errorCode", "readOnly", "recipientAccountId",
    "requestParameters", "responseElements", "userIdentity", "userAgent", "eventID",
    "groupId", "groupName", "vpcId", "items", "resourceId", "resourcesSet",
    "securityGroupRuleIds", "SecurityGroupRuleIds", "securityGroupRuleId",
    "securityGroupRuleSet", "revokedSecurityGroupRuleSet", "ModifySecurityGroupRulesRequest",
    "GroupId", "SecurityGroupRule", "SecurityGroupRuleId", "sessionContext", "sessionIssuer",
    "arn", "invokedBy", "type", "accountId", "detail", "Records", "account", "region",
    "roleName", "userName", "groupName", "policyName", "policyArn", "path",
    "policy", "role", "user", "group",
]  # fmt: skip
IAM_SOURCE = "iam.amazonaws.com"
NAMES = [*sorted({name for _, name in EVENT_TABLE}), "DescribeSecurityGroups", "RunInstances"]
IAM_NAMES = sorted(name for source, name in EVENT_TABLE if source == IAM_SOURCE)
IAM_ARNS = [
    "arn:aws:iam::111122223333:policy/team/deploy",
    "arn:aws:iam::111122223333:role/svc/app",
    "arn:aws:iam::111122223333:user/ci",
    "arn:aws:iam::111122223333:group/devs",
    "arn:aws-cn:iam::111122223333:policy/cn-only",
    "arn:aws:iam::aws:policy/AdministratorAccess",  # AWS managed: never a resource of ours
    "arn:aws:iam::111122223333:policy/",
    "arn:aws:iam::1111:role/short-account",
    "arn:aws:s3:::not-iam",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "...", "true", "sg-0a1b2c3d4e5f60718", "sgr-0123456789abcdef0"])
    | st.sampled_from(["sg-0b2c3d4e5f6071829", "sg-903004f8", "i-0123456789abcdef0"])
    | st.sampled_from([*NAMES, "ec2.amazonaws.com", "eu-west-1", "vpc-a1a044c7"])
    | st.sampled_from([*IAM_ARNS, IAM_SOURCE, "app", "/svc/", "a b", "x" * 129])
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


iam_names = st.sampled_from(["app", "ci", "devs", "ops.team+1@x", "", "...", "a b", "a/b"])
iam_arns = st.sampled_from(IAM_ARNS)
iam_request_parameters = st.fixed_dictionaries(
    {},
    optional={
        "roleName": iam_names | scalars,
        "userName": iam_names | scalars,
        "groupName": iam_names | scalars,
        "policyName": iam_names | scalars,
        "policyArn": iam_arns | scalars,
        "path": st.sampled_from(["/", "/svc/", "svc", "", "//"]) | scalars,
    },
)
created = st.fixed_dictionaries({}, optional={"arn": iam_arns | scalars}) | scalars
iam_response_elements = st.fixed_dictionaries(
    {}, optional={key: created for key in ("policy", "role", "user", "group")}
)
callers = st.fixed_dictionaries(
    {},
    optional={
        "arn": iam_arns | scalars,
        "accountId": st.sampled_from(["111122223333", "444455556666", ""]),
        "sessionContext": st.fixed_dictionaries(
            {}, optional={"sessionIssuer": st.fixed_dictionaries({}, optional={"arn": iam_arns})}
        ),
    },
)
# IAM records: global calls, so any region (and partitions told by region or caller ARN).
iam_records = st.fixed_dictionaries(
    {
        "eventName": st.sampled_from(IAM_NAMES),
        "eventSource": st.sampled_from([IAM_SOURCE] * 5 + ["ec2.amazonaws.com"]),
        "awsRegion": st.sampled_from(["us-east-1", "cn-north-1", "us-gov-west-1", "eu-west-1"]),
        "readOnly": st.sampled_from([None, None, False, True]),
        "errorCode": st.sampled_from([None, None, None, "AccessDenied"]),
        "requestParameters": iam_request_parameters,
        "responseElements": iam_response_elements | st.none(),
    },
    optional={
        "recipientAccountId": st.sampled_from(["111122223333", ""]),
        "userIdentity": callers,
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
    | iam_records
    | envelope(iam_records)
    | log_file(iam_records)
    | anything
    | envelope(anything)
    | log_file(anything)
)


def check_iam_ref(ref: ResourceRef) -> None:
    """An IAM ref names something the collector reads: by name, or by the ARN of a
    customer-managed resource of its own kind, in region `global`."""
    assert ref.region == GLOBAL_REGION
    assert ref.id or ref.name
    if ref.name is not None:
        assert NAME_RE.match(ref.name), ref
    if ref.id is not None:
        arn = parse_arn(ref.id)
        assert arn is not None, ref
        assert not arn.aws_managed and arn.type == ARN_TYPES[ref.kind]
        assert ref.name in (None, arn.name) and ref.account in (None, arn.account)


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
                elif ref.kind in IAM_KINDS:
                    check_iam_ref(ref)
        else:
            assert result.detail


def _iam_refs(payload: Any) -> list[ResourceRef]:
    try:
        results = route_payload(payload)
    except EventError:
        return []
    return [ref for r in results if isinstance(r, Routed) for ref in r.refs]


def test_the_iam_records_reach_every_iam_kind() -> None:
    """The strategy is not vacuous: drawn IAM records do route to each IAM kind."""
    for kind in IAM_KINDS:

        def routes_to(record: dict[str, Any], kind: Any = kind) -> bool:
            return any(ref.kind is kind for ref in _iam_refs(record))

        # found is enough: no shrinking to the smallest such record; the same draws on
        # every run, and no timing checks (a busy machine is not a failure)
        quick = settings(
            max_examples=2000,
            database=None,
            phases=[Phase.generate],
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        assert find(iam_records, routes_to, settings=quick)["eventSource"] == IAM_SOURCE


def test_a_malformed_account_id_does_not_become_an_iam_arn() -> None:
    record = {
        "eventName": "CreatePolicy",
        "eventSource": IAM_SOURCE,
        "awsRegion": "us-east-1",
        "recipientAccountId": "not-an-account",
        "requestParameters": {"policyName": "deploy"},
        "responseElements": None,
    }
    # found by the property above: the malformed id used to become the account of an ARN
    # that does not parse, so a CreatePolicy ref read as absent; now the record is refused
    with pytest.raises(EventError, match="recipientAccountId must be a 12-digit account id"):
        route_payload(record)
