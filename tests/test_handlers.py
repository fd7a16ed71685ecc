"""The event path end to end: a resource nobody specs is alerted, then deleted: "gone"."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import is_gone
from tests.chat_server import ChatServer
from tests.conftest import REGION
from tests.state.world import (
    ACCOUNT,
    ec2_event,
    iam_event,
    make_runtime,
    s3_event,
    specs,
)

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


@dataclass
class Lifecycle:
    """Create a resource (returns the event CloudTrail sends), delete it (the same)."""

    create: Callable[[], dict[str, Any]]
    delete: Callable[[], dict[str, Any]]


def _group() -> Lifecycle:
    ec2 = boto3.client("ec2", region_name=REGION)
    made: dict[str, str] = {}

    def create() -> dict[str, Any]:
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        made["id"] = ec2.create_security_group(GroupName="stray", Description="by hand", VpcId=vpc)[
            "GroupId"
        ]
        return ec2_event(
            "CreateSecurityGroup",
            {"groupName": "stray", "groupDescription": "by hand", "vpcId": vpc},
            {"_return": True, "groupId": made["id"]},
        )

    def delete() -> dict[str, Any]:
        ec2.delete_security_group(GroupId=made["id"])
        return ec2_event("DeleteSecurityGroup", {"groupId": made["id"]}, {"_return": True})

    return Lifecycle(create, delete)


def _bucket() -> Lifecycle:
    s3 = boto3.client("s3", region_name=REGION)

    def create() -> dict[str, Any]:
        s3.create_bucket(
            Bucket="stray-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return s3_event("CreateBucket", "stray-bucket")

    def delete() -> dict[str, Any]:
        s3.delete_bucket(Bucket="stray-bucket")
        return s3_event("DeleteBucket", "stray-bucket")

    return Lifecycle(create, delete)


def _role() -> Lifecycle:
    iam = boto3.client("iam", region_name="us-east-1")

    def create() -> dict[str, Any]:
        role = iam.create_role(RoleName="stray", AssumeRolePolicyDocument=TRUST)["Role"]
        return iam_event(
            "CreateRole",
            {"roleName": "stray", "assumeRolePolicyDocument": TRUST},
            {"role": {"arn": role["Arn"], "roleName": "stray", "path": "/"}},
        )

    def delete() -> dict[str, Any]:
        iam.delete_role(RoleName="stray")
        return iam_event("DeleteRole", {"roleName": "stray"})

    return Lifecycle(create, delete)


def _policy() -> Lifecycle:
    iam = boto3.client("iam", region_name="us-east-1")
    arn = f"arn:aws:iam::{ACCOUNT}:policy/stray"

    def create() -> dict[str, Any]:
        iam.create_policy(PolicyName="stray", PolicyDocument=POLICY)
        return iam_event(
            "CreatePolicy",
            {"policyName": "stray", "policyDocument": POLICY},
            {"policy": {"arn": arn, "policyName": "stray", "path": "/"}},
        )

    def delete() -> dict[str, Any]:
        iam.delete_policy(PolicyArn=arn)
        return iam_event("DeletePolicy", {"policyArn": arn})

    return Lifecycle(create, delete)


def _user() -> Lifecycle:
    iam = boto3.client("iam", region_name="us-east-1")

    def create() -> dict[str, Any]:
        user = iam.create_user(UserName="stray")["User"]
        return iam_event(
            "CreateUser",
            {"userName": "stray"},
            {"user": {"arn": user["Arn"], "userName": "stray", "path": "/"}},
        )

    def delete() -> dict[str, Any]:
        iam.delete_user(UserName="stray")
        return iam_event("DeleteUser", {"userName": "stray"})

    return Lifecycle(create, delete)


KINDS = {
    "security_group": _group,
    "s3_bucket": _bucket,
    "iam_role": _role,
    "iam_policy": _policy,
    "iam_user": _user,
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_unmanaged_resource_deleted_is_gone_once(
    kind: str, aws: None, chat_server: ChatServer
) -> None:
    runtime = make_runtime(chat_server.url, specs())
    life = KINDS[kind]()
    created = handle_cloudtrail_event(life.create(), runtime)
    assert [(f.kind.value, f.status.value) for f in created.findings] == [(kind, "unmanaged")]
    deleted_event = life.delete()
    deleted = handle_cloudtrail_event(deleted_event, runtime)
    assert [is_gone(f) for f in deleted.findings] == [True]
    assert chat_server.alerts() == ["new:unmanaged", "gone:missing"]
    gone = chat_server.received[1]
    assert gone["id"] == chat_server.received[0]["id"]
    assert gone["alert"]["ended_by"]["event_name"] == deleted_event["detail"]["eventName"]
    # the same delete delivered again: nothing left to close
    handle_cloudtrail_event(deleted_event, runtime)
    assert len(chat_server.received) == 2


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_deleted_resource_nobody_was_told_about_posts_nothing(
    kind: str, aws: None, chat_server: ChatServer
) -> None:
    runtime = make_runtime(chat_server.url, specs())
    life = KINDS[kind]()
    life.create()  # its event never reached us (or came before Setpoint existed)
    outcome = handle_cloudtrail_event(life.delete(), runtime)
    assert [is_gone(f) for f in outcome.findings] == [True]
    assert outcome.alerts == [] and outcome.deduplicated in (0, 1)
    assert chat_server.received == []


def test_a_deleted_group_that_a_spec_wants_is_missing_not_gone(
    aws: None, chat_server: ChatServer
) -> None:
    runtime = make_runtime(
        chat_server.url,
        specs(
            (
                "policies/stray.yaml",
                f"kind: security_group\nname: stray\nregion: {REGION}\ndescription: by hand\n",
            )
        ),
    )
    life = _group()
    life.create()
    outcome = handle_cloudtrail_event(life.delete(), runtime)
    assert [(f.status.value, is_gone(f)) for f in outcome.findings] == [("missing", False)]
    assert chat_server.alerts() == ["new:missing"]


def test_a_partial_delete_is_not_gone(aws: None, chat_server: ChatServer) -> None:
    """DeleteRolePolicy removes a part of the role, not the role."""
    runtime = make_runtime(chat_server.url, specs())
    life = _role()
    handle_cloudtrail_event(life.create(), runtime)
    iam = boto3.client("iam", region_name="us-east-1")
    iam.put_role_policy(RoleName="stray", PolicyName="inline", PolicyDocument=POLICY)
    iam.delete_role_policy(RoleName="stray", PolicyName="inline")
    outcome = handle_cloudtrail_event(
        iam_event("DeleteRolePolicy", {"roleName": "stray", "policyName": "inline"}), runtime
    )
    assert [f.status.value for f in outcome.findings] == ["unmanaged"]
    assert chat_server.alerts() == ["new:unmanaged"]
