"""The runtime reads each resource in its own account (events forwarded by member accounts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from chalicelib.aws import ClientCache
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import Status
from chalicelib.runtime import spec_provider
from tests.conftest import REGION, authorize_record, make_vpc_with_web
from tests.runtime_builder import build_runtime

MEMBER = "210987654321"


def _member_ec2() -> Any:
    """EC2 in the member account, through the role Setpoint assumes there (moto keeps one
    backend per account, keyed by the assumed role's credentials)."""
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{MEMBER}:role/setpoint-readonly", RoleSessionName="setup"
    )["Credentials"]
    return boto3.client(
        "ec2",
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def test_an_event_forwarded_from_a_member_account_is_read_in_that_account(
    aws: None, tmp_path: Path
) -> None:
    member = _member_ec2()
    ids = make_vpc_with_web(member)
    (tmp_path / "web.yaml").write_text(
        f"kind: security_group\ngroup_id: {ids['web']}\naccount: '{MEMBER}'\nregion: {REGION}\n"
        "ingress:\n  - proto: tcp\n    ports: 443\n    cidr: 0.0.0.0/0\n"
    )
    member.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    clients = ClientCache()
    runtime = build_runtime(clients=clients, specs=spec_provider(str(tmp_path), clients))
    record = authorize_record(ids["web"]) | {"recipientAccountId": MEMBER}
    record["userIdentity"] = record["userIdentity"] | {"accountId": MEMBER}

    (finding,) = handle_cloudtrail_event(record, runtime).findings

    # read in the member account: the open port is found, not a false "missing"
    assert finding.account == MEMBER and finding.status is Status.DRIFTED
    assert [c.actual["ports"] for c in finding.changes if c.actual] == ["22"]
    assert runtime.account_id() != MEMBER


def test_a_member_account_whose_role_is_refused_is_unknown_with_the_reason(
    aws: None, tmp_path: Path
) -> None:
    (tmp_path / "web.yaml").write_text(
        "kind: security_group\ngroup_id: sg-0123456789abcdef0\n"
        f"account: '{MEMBER}'\nregion: {REGION}\n"
    )
    clients = ClientCache()
    runtime = build_runtime(clients=clients, specs=spec_provider(str(tmp_path), clients))
    runtime.role_name = "no-such-role"

    def refuse(**kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "AssumeRole"
        )

    # moto grants any AssumeRole, so the refusal a real account gives is injected here
    clients.client("sts").meta.events.register("before-call.sts.AssumeRole", refuse)
    record = authorize_record("sg-0123456789abcdef0") | {"recipientAccountId": MEMBER}

    (finding,) = handle_cloudtrail_event(record, runtime).findings

    assert finding.status is Status.UNKNOWN
    assert "no-such-role" in (finding.reason or "") and "AccessDenied" in (finding.reason or "")
