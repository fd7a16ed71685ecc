"""The "who changed it" part of an alert, from the records people actually produce."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.events.actor import actor_from_record
from chalicelib.events.record import parse_payload
from chalicelib.model import Actor
from tests.events.helpers import load_fixture, load_sample


def actor_of(payload: Any) -> Actor:
    [record] = parse_payload(payload)
    return actor_from_record(record)


def test_assumed_role_names_the_role_behind_the_session() -> None:
    actor = actor_of(load_sample("ec2", "AuthorizeSecurityGroupEgress__setpoint1"))

    assert actor == Actor(
        arn="arn:aws:sts::123456789012:assumed-role/build-agent/i-0123456789abcdef0",
        event_name="AuthorizeSecurityGroupEgress",
        event_time="2026-11-30T03:15:09Z",
        event_id="9b3d5f71-6c2a-4e8b-8d1f-3a4b5c6d7e82",
        source_ip="192.0.2.44",
        user_agent=actor.user_agent,
        identity_type="AssumedRole",
        session_issuer="arn:aws:iam::123456789012:role/build-agent",
        via=None,  # plain aws-cli
        account="123456789012",
        region="us-east-1",
    )
    assert actor.user_agent is not None and actor.user_agent.startswith("aws-cli/")


def test_console_change_with_lower_cased_identity_keys() -> None:
    actor = actor_of(load_sample("ec2", "AuthorizeSecurityGroupIngress__4"))

    assert actor.via == "console"
    assert actor.arn == "arn:aws:sts::123456789012:assumed-role/TestAdmin/example-user"
    assert actor.identity_type == "AssumedRole"
    assert actor.session_issuer == "arn:aws:iam::123456789012:role/TestAdmin"
    assert actor.account == "123456789012"
    assert actor.event_time == "2021-01-24 04:55:45.000"


def test_terraform_change() -> None:
    actor = actor_of(load_sample("ec2", "CreateSecurityGroup__1"))

    assert actor.via == "terraform"
    assert actor.session_issuer == "arn:aws:iam::123456789012:role/EC2Role"
    assert actor.region == "ap-northeast-1"


def test_iam_user_has_no_session_issuer() -> None:
    actor = actor_of(load_sample("ec2", "AuthorizeSecurityGroupIngress__setpoint1"))

    assert actor.arn == "arn:aws:iam::123456789012:user/ops-admin"
    assert actor.identity_type == "IAMUser"
    assert actor.session_issuer is None


def test_cloudformation_change() -> None:
    actor = actor_of(load_fixture("AuthorizeSecurityGroupIngress__cloudformation"))

    assert actor.via == "cloudformation"
    assert actor.arn == "arn:aws:sts::111122223333:assumed-role/NetworkAdmin/deploy-bot"


def test_console_session_behind_aws_internal_agent() -> None:
    actor = actor_of(load_fixture("EventBridge__AuthorizeSecurityGroupIngress"))

    assert actor.user_agent == "AWS Internal"
    assert actor.via == "console"


def record(user_agent: str | None = None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"eventName": "CreateSecurityGroup", "userAgent": user_agent}
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("payload", "via"),
    [
        (record("console.amazonaws.com"), "console"),
        (record("console.ec2.amazonaws.com"), "console"),
        (record("signin.amazonaws.com"), "console"),
        (record("[console.ec2.amazonaws.com]"), "console"),
        (record("AWS Internal"), None),
        (record("AWS Internal", sessionCredentialFromConsole="true"), "console"),
        (
            record(
                "aws-cli/2.15 (CloudShell)",
                userIdentity={"sessionContext": {"sessionCredentialFromConsole": "true"}},
            ),
            "console",
        ),
        (record("Boto3/1.34 md/Botocore#1.34 Terraform/1.7"), "terraform"),
        (record("terraform-provider-aws/5.0"), "terraform"),
        (record("cloudformation.amazonaws.com"), "cloudformation"),
        (
            record(None, userIdentity={"invokedBy": "cloudformation.amazonaws.com"}),
            "cloudformation",
        ),
        (record("aws-cli/2.15 md/command#ec2.create-security-group"), None),
        (record("myconsole.amazonaws.com.evil.example"), None),
        (record(None), None),
    ],
)
def test_via_names_the_tool(payload: dict[str, Any], via: str | None) -> None:
    assert actor_of(payload).via == via


def test_aws_service_caller_is_named_by_the_service() -> None:
    actor = actor_of(
        record(
            "elasticloadbalancing.amazonaws.com",
            userIdentity={"type": "AWSService", "invokedBy": "elasticloadbalancing.amazonaws.com"},
        )
    )

    assert actor.arn == "elasticloadbalancing.amazonaws.com"
    assert actor.identity_type == "AWSService"


@pytest.mark.parametrize(
    "identity",
    [
        None,
        {},
        {"arn": 5, "type": ["Root"], "sessionContext": "x"},
        {"sessionContext": {"sessionIssuer": "not-an-object"}},
        {"sessionContext": {"sessionIssuer": {"arn": None}}},
    ],
)
def test_missing_or_odd_identity_fields_become_none(identity: Any) -> None:
    actor = actor_of({"eventName": "CreateTags", "userIdentity": identity})

    assert (actor.arn, actor.identity_type, actor.session_issuer, actor.via) == (None,) * 4
    assert (actor.event_time, actor.event_id, actor.source_ip, actor.account) == (None,) * 4
    assert actor.event_name == "CreateTags"
