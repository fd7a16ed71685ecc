"""Every IAM sample and every IAM row maps to the resource a user would expect, or a skip."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.events.route import Routed, Skipped, SkipReason, route_payload
from chalicelib.events.table import EVENT_TABLE, eventbridge_source, watched_event_names
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.events import IAM_ROWS, IAM_SOURCE
from chalicelib.model import GUARD, Kind, ResourceRef
from tests.events.helpers import SAMPLES, load_sample

ACCOUNT = "123456789012"
Expected = tuple[ResourceRef, ...] | SkipReason


def iam(kind: Kind, name: str, path: str = "/", account: str = ACCOUNT) -> ResourceRef:
    arn = f"arn:aws:iam::{account}:{kind.value.removeprefix('iam_')}{path}{name}"
    return ResourceRef(kind, account, "global", id=arn, name=name)


EXPECTED: dict[str, Expected] = {
    "PutRolePolicy__setpoint1": (iam(IAM_ROLE, "setpoint-prod-DefaultRole-3XY5Z7A9B1C2"),),
    "AttachGroupPolicy__setpoint1": (iam(IAM_GROUP, "Auditors"),),
    # made-up awsRegion (sagov-west-2r) in a real capture: IAM is global either way
    "AttachRolePolicy__1": (iam(IAM_ROLE, "stratus-red-team-malicious-iam-role"),),
    "AttachRolePolicy__3": (iam(IAM_ROLE, "new-role"),),
    "AttachRolePolicy__4": SkipReason.FAILED_CALL,  # NoSuchEntity
    "AttachUserPolicy__1": (iam(IAM_USER, "malicious-iam-user"),),
    "AttachUserPolicy__2": (iam(IAM_USER, "new-user"),),
    "AttachUserPolicy__3": (iam(IAM_USER, "test-user"),),
    # ARN taken from responseElements.policy.arn
    "CreatePolicy__setpoint1": (iam(IAM_POLICY, "NotifyTopicPublish"),),
    # responseElements.role.arn, beside a URL-encoded trust policy
    "CreateRole__1": (iam(IAM_ROLE, "stratus-red-team-malicious-iam-role"),),
    "CreateRole__3": (iam(IAM_ROLE, "MyTestRole"),),
    # responseElements null: the name in the request is enough
    "CreateRole__4": (iam(IAM_ROLE, "new-role"),),
    "DeleteGroupPolicy__1": (iam(IAM_GROUP, "group"),),
    "DeleteGroupPolicy__2": SkipReason.FAILED_CALL,  # NoSuchEntity
    "DeleteRole__2": (iam(IAM_ROLE, "MyTestRole"),),
    "PutUserPolicy__1": (iam(IAM_USER, "test-user"),),
    "PutUserPolicy__2": (iam(IAM_USER, "compromised_user"),),
    "UpdateAssumeRolePolicy__1": (iam(IAM_ROLE, "stratus-red-team-backdoor-r-role"),),
    # a detection-rule test case with the roleName left out: nothing to re-read
    "UpdateAssumeRolePolicy__2": SkipReason.NO_RESOURCE,
}


def test_every_iam_sample_has_an_expectation() -> None:
    on_disk = {path.stem for path in (SAMPLES / "iam").glob("*.json")}
    assert on_disk, f"no samples found in {SAMPLES / 'iam'}"
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_iam_sample_routes_as_expected(name: str) -> None:
    (result,) = route_payload(load_sample("iam", name))
    expected = EXPECTED[name]
    if isinstance(expected, SkipReason):
        assert isinstance(result, Skipped) and result.reason is expected, result
    else:
        assert isinstance(result, Routed), result
        # the guard rides on role calls (its pipeline reads only Setpoint's own roles)
        assert tuple(ref for ref in result.refs if ref.kind is not GUARD) == expected


def record(name: str, request: dict[str, Any], response: Any = None, **extra: Any) -> Any:
    return {
        "eventVersion": "1.09",
        "eventSource": IAM_SOURCE,
        "eventName": name,
        "awsRegion": "us-east-1",
        "eventID": "e-1",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice"},
        "recipientAccountId": ACCOUNT,
        "requestParameters": request,
        "responseElements": response,
        **extra,
    }


POLICY = f"arn:aws:iam::{ACCOUNT}:policy/team/deploy"
POLICY_REF = ResourceRef(IAM_POLICY, ACCOUNT, "global", id=POLICY, name="deploy")

# one record per watched call, in the shape CloudTrail logs it
ROW_CASES: dict[str, tuple[dict[str, Any], Any, ResourceRef]] = {
    "CreatePolicy": (
        {"policyName": "deploy", "path": "/team/", "policyDocument": "{}"},
        None,  # response dropped: the name and path in the request still give the ARN
        POLICY_REF,
    ),
    "CreatePolicyVersion": ({"policyArn": POLICY, "setAsDefault": True}, None, POLICY_REF),
    "SetDefaultPolicyVersion": ({"policyArn": POLICY, "versionId": "v2"}, None, POLICY_REF),
    "DeletePolicy": ({"policyArn": POLICY}, None, POLICY_REF),
    "DeletePolicyVersion": ({"policyArn": POLICY, "versionId": "v1"}, None, POLICY_REF),
    "CreateRole": (
        {"roleName": "app", "path": "/svc/"},
        {"role": {"arn": f"arn:aws:iam::{ACCOUNT}:role/svc/app", "roleName": "app"}},
        iam(IAM_ROLE, "app", "/svc/"),
    ),
    "CreateUser": (
        {"userName": "ci"},
        {"user": {"arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "userName": "ci"}},
        iam(IAM_USER, "ci"),
    ),
    "CreateGroup": (
        {"groupName": "devs", "path": "/eng/"},
        None,
        iam(IAM_GROUP, "devs", "/eng/"),
    ),
}
for _event, _param, _kind, _name in (
    *(
        (e, "roleName", IAM_ROLE, "app")
        for e in (
            "DeleteRole",
            "PutRolePolicy",
            "DeleteRolePolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "UpdateAssumeRolePolicy",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "TagRole",
            "UntagRole",
        )
    ),
    *(
        (e, "userName", IAM_USER, "ci")
        for e in (
            "DeleteUser",
            "PutUserPolicy",
            "DeleteUserPolicy",
            "AttachUserPolicy",
            "DetachUserPolicy",
            "PutUserPermissionsBoundary",
            "DeleteUserPermissionsBoundary",
            "TagUser",
            "UntagUser",
        )
    ),
    *(
        (e, "groupName", IAM_GROUP, "devs")
        for e in (
            "DeleteGroup",
            "PutGroupPolicy",
            "DeleteGroupPolicy",
            "AttachGroupPolicy",
            "DetachGroupPolicy",
        )
    ),
):
    ROW_CASES[_event] = ({_param: _name, "policyArn": POLICY}, None, iam(_kind, _name))


def test_every_iam_row_has_a_case_and_the_issue_list_is_covered() -> None:
    required = {
        "CreatePolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicy",
        "DeletePolicyVersion", "PutRolePolicy", "DeleteRolePolicy", "PutUserPolicy",
        "DeleteUserPolicy", "PutGroupPolicy", "DeleteGroupPolicy", "AttachRolePolicy",
        "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy",
        "DetachGroupPolicy", "UpdateAssumeRolePolicy", "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary", "PutUserPermissionsBoundary",
        "DeleteUserPermissionsBoundary", "CreateRole", "DeleteRole", "CreateUser",
        "DeleteUser", "CreateGroup", "DeleteGroup",
    }  # fmt: skip
    rows = {row.event_name for row in IAM_ROWS}
    assert required <= rows
    assert rows == set(ROW_CASES)
    assert set(watched_event_names(IAM_SOURCE)) == rows
    assert all((IAM_SOURCE, name) in EVENT_TABLE for name in rows)
    assert eventbridge_source(IAM_SOURCE) == "aws.iam"


@pytest.mark.parametrize("event_name", sorted(ROW_CASES))
def test_iam_row_finds_the_changed_resource(event_name: str) -> None:
    request, response, expected = ROW_CASES[event_name]
    (result,) = route_payload(record(event_name, request, response))
    assert isinstance(result, Routed), result
    # the resource changed, never the policy merely attached to it
    assert result.refs == (expected,)


def test_aws_managed_policy_events_are_skipped_with_the_reason() -> None:
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    (result,) = route_payload(record("CreatePolicyVersion", {"policyArn": arn}))
    assert isinstance(result, Skipped) and result.reason is SkipReason.NO_RESOURCE
    assert "AWS managed" in result.detail


# membership calls name the user and the group: the user is what changed
for _event in ("AddUserToGroup", "RemoveUserFromGroup"):
    ROW_CASES[_event] = ({"userName": "ci", "groupName": "Admins"}, None, iam(IAM_USER, "ci"))


def test_group_membership_calls_are_user_rows() -> None:
    rows = {row.event_name: row.kind for row in IAM_ROWS}
    assert rows["AddUserToGroup"] is IAM_USER
    assert rows["RemoveUserFromGroup"] is IAM_USER
    assert {"AddUserToGroup", "RemoveUserFromGroup"} <= set(watched_event_names(IAM_SOURCE))


def test_partition_from_the_region_when_the_caller_has_no_arn() -> None:
    raw = record("DeleteRole", {"roleName": "app"}, awsRegion="cn-north-1")
    raw["userIdentity"] = {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}
    (result,) = route_payload(raw)
    assert isinstance(result, Routed)
    assert result.refs[0].id == f"arn:aws-cn:iam::{ACCOUNT}:role/app"


def test_eventbridge_envelope_and_other_partitions() -> None:
    raw = record("DeleteRole", {"roleName": "app"})
    raw["userIdentity"]["arn"] = f"arn:aws-us-gov:iam::{ACCOUNT}:user/alice"
    envelope = {
        "source": "aws.iam",
        "detail-type": "AWS API Call via CloudTrail",
        "region": "us-east-1",
        "account": ACCOUNT,
        "detail": raw,
    }
    (result,) = route_payload(envelope)
    assert isinstance(result, Routed)
    assert result.refs[0].id == f"arn:aws-us-gov:iam::{ACCOUNT}:role/app"


def test_redacted_names_are_not_resources() -> None:
    (result,) = route_payload(record("PutUserPolicy", {"userName": "..."}))
    assert isinstance(result, Skipped) and result.reason is SkipReason.NO_RESOURCE
