"""The runtime reads each resource in its own account (events forwarded by member accounts)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import Status
from chalicelib.runtime import runtime_from_env, spec_provider
from tests.conftest import REGION, authorize_record, make_vpc_with_web, sample
from tests.runtime_builder import build_runtime

MEMBER = "210987654321"
STRANGER = "999988887777"  # an account nobody configured


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


def _assume_role_calls(clients: ClientCache) -> list[str]:
    """Every AssumeRole the runtime's STS client sends (the role ARN), before it is sent."""
    sent: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(str(params.get("RoleArn")))

    clients.client("sts").meta.events.register("provide-client-params.sts.AssumeRole", record)
    return sent


def _record_from(account: str) -> dict[str, Any]:
    """A real-shaped ingress record (tests/fixtures/cloudtrail) that names `account`."""
    record = sample("ec2/AuthorizeSecurityGroupIngress__2")
    record["awsRegion"] = REGION
    record["recipientAccountId"] = account
    return record


def test_an_event_from_an_account_outside_setpoint_accounts_assumes_no_role_there(
    aws: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clients = ClientCache()
    runtime = build_runtime(
        clients=clients, specs=spec_provider(str(tmp_path), clients), accounts=[MEMBER]
    )
    sent = _assume_role_calls(clients)

    with caplog.at_level(logging.WARNING, logger="setpoint"):
        (finding,) = handle_cloudtrail_event(_record_from(STRANGER), runtime).findings

    assert sent == []  # no credentials of ours went to the stranger's account
    assert finding.status is Status.UNKNOWN and finding.account == STRANGER
    assert "not one of the configured accounts" in (finding.reason or "")
    refused = [r for r in caplog.records if r.getMessage() == "account_refused"]
    assert refused and refused[0].__dict__["account"] == STRANGER


def test_an_event_from_a_configured_member_account_is_still_read_there(
    aws: None, tmp_path: Path
) -> None:
    clients = ClientCache()
    runtime = build_runtime(
        clients=clients, specs=spec_provider(str(tmp_path), clients), accounts=[MEMBER]
    )
    sent = _assume_role_calls(clients)

    handle_cloudtrail_event(_record_from(MEMBER), runtime)

    assert sent == [f"arn:aws:iam::{MEMBER}:role/setpoint-readonly"]


def test_organization_allows_its_accounts_only(aws: None, tmp_path: Path) -> None:
    organizations = boto3.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    member = organizations.create_account(AccountName="member", Email="member@example.com")
    joined = member["CreateAccountStatus"]["AccountId"]
    clients = ClientCache()
    runtime = build_runtime(
        clients=clients, specs=spec_provider(str(tmp_path), clients), accounts="organization"
    )
    sent = _assume_role_calls(clients)

    refused = handle_cloudtrail_event(_record_from(STRANGER), runtime).findings
    handle_cloudtrail_event(_record_from(joined), runtime)

    assert sent == [f"arn:aws:iam::{joined}:role/setpoint-readonly"]
    assert ["not one of the configured accounts" in (f.reason or "") for f in refused] == [True]


def test_a_record_naming_no_account_id_assumes_nothing_even_unconfigured(
    aws: None, tmp_path: Path
) -> None:
    clients = ClientCache()
    runtime = build_runtime(clients=clients, specs=spec_provider(str(tmp_path), clients))
    sent = _assume_role_calls(clients)

    outcome = handle_cloudtrail_event(_record_from("123456789012:role/admin"), runtime)

    assert sent == []
    assert outcome.findings == [] and outcome.delivered == 0
    # refused where the record is read, naming the field, before any ARN is built from it
    [error] = outcome.errors
    assert error.startswith("malformed_event:")
    assert (
        "recipientAccountId must be a 12-digit account id, got '123456789012:role/admin'" in error
    )


def test_setpoint_accounts_reaches_the_runtime(aws: None, tmp_path: Path) -> None:
    env = {"SETPOINT_SPECS": str(tmp_path), "SETPOINT_ACCOUNTS": f"{MEMBER}, {STRANGER}"}
    assert runtime_from_env(env).accounts == [MEMBER, STRANGER]
    assert runtime_from_env({"SETPOINT_SPECS": str(tmp_path)}).accounts is None
