"""Sessions and clients: assumed roles per account, refreshed before expiry; thread-safe."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import botocore.retries.bucket
import pytest
from botocore.stub import ANY, Stubber

from chalicelib.aws import (
    FAILURE_MEMORY_SECONDS,
    NOT_AN_ACCOUNT,
    NOT_CONFIGURED,
    SESSION_NAME,
    AllowedAccounts,
    ClientCache,
    RoleSessions,
    assumed_role_session,
    partition_of_arn,
    role_arn,
)
from chalicelib.errors import ConfigError, ReadError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.collector import SecurityGroupCollector
from chalicelib.model import ResourceRef
from tests.chat_server import ChatServer, Reply
from tests.sleeps import Sleeps

OWN = "123456789012"
OTHER = "210987654321"


def stubbed_sts() -> tuple[Any, Stubber]:
    sts = boto3.client(
        "sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return sts, Stubber(sts)


def credentials(expires: datetime, key: str = "AKIAFIRSTKEY0000") -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": key,
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": expires,
        }
    }


def test_the_role_is_assumed_as_setpoint_sweep_with_the_external_id() -> None:
    sts, stub = stubbed_sts()
    arn = role_arn(OTHER, "setpoint-readonly")
    stub.add_response(
        "assume_role",
        credentials(datetime.now(UTC) + timedelta(hours=1)),
        {
            "RoleArn": f"arn:aws:iam::{OTHER}:role/setpoint-readonly",
            "RoleSessionName": SESSION_NAME,
            "DurationSeconds": ANY,
            "ExternalId": "shared-secret",
        },
    )
    with stub:
        session = assumed_role_session(sts, arn, external_id="shared-secret")
    assert session.get_credentials().get_frozen_credentials().access_key == "AKIAFIRSTKEY0000"
    stub.assert_no_pending_responses()


def test_credentials_near_expiry_are_refreshed_with_a_new_assume_role() -> None:
    sts, stub = stubbed_sts()
    soon = datetime.now(UTC) + timedelta(minutes=2)  # inside botocore's refresh margin
    stub.add_response("assume_role", credentials(soon, "AKIAFIRSTKEY0000"))
    stub.add_response(
        "assume_role", credentials(datetime.now(UTC) + timedelta(hours=1), "AKIASECONDKEY000")
    )
    with stub:
        session = assumed_role_session(sts, role_arn(OTHER, "r"))
        assert session.get_credentials().get_frozen_credentials().access_key == "AKIASECONDKEY000"
    stub.assert_no_pending_responses()


def test_a_refused_role_is_a_read_error_naming_role_and_code() -> None:
    sts, stub = stubbed_sts()
    stub.add_client_error("assume_role", "AccessDenied", http_status_code=403)
    with stub, pytest.raises(ReadError) as caught:
        assumed_role_session(sts, role_arn(OTHER, "setpoint-readonly"))
    assert caught.value.code == "AccessDenied"
    assert f"arn:aws:iam::{OTHER}:role/setpoint-readonly" in str(caught.value)


def test_the_own_account_uses_the_callers_credentials(aws: None) -> None:
    base = ClientCache()
    sessions = RoleSessions(base, own_account=OWN)
    assert sessions.clients_for(OWN) is base


def test_other_accounts_are_read_through_the_role_and_cached(aws: None) -> None:
    base = ClientCache()
    calls: list[str] = []
    base.client("sts").meta.events.register(
        "before-call.sts.AssumeRole", lambda **_: calls.append("AssumeRole")
    )
    sessions = RoleSessions(base, own_account=OWN, role_name="auditor", external_id="ext-id")
    clients = sessions.clients_for(OTHER)
    identity = clients.client("sts").get_caller_identity()
    assert identity["Account"] == OTHER
    assert identity["Arn"].endswith(f":assumed-role/auditor/{SESSION_NAME}")
    clients.client("ec2", "eu-west-1").describe_security_groups()
    assert sessions.clients_for(OTHER) is clients
    assert calls == ["AssumeRole"]  # one per account, however many clients


def test_a_refusal_is_remembered_for_a_while_then_asked_again(aws: None) -> None:
    base = ClientCache()
    calls: list[str] = []

    def refuse(**_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        calls.append("AssumeRole")
        error = {"Error": {"Code": "AccessDenied", "Message": "no"}}
        return AWSResponse("https://sts", 403, {}, None), error

    base.client("sts").meta.events.register("before-call.sts.AssumeRole", refuse)
    now = [0.0]
    sessions = RoleSessions(base, own_account=OWN, clock=lambda: now[0])
    for region in ("eu-west-1", "us-east-1"):
        with pytest.raises(ReadError, match="AccessDenied"):
            sessions.clients_for(OTHER).client("ec2", region)
    assert calls == ["AssumeRole"]
    now[0] = 301.0
    with pytest.raises(ReadError):
        sessions.clients_for(OTHER).client("ec2", "eu-west-1")
    assert calls == ["AssumeRole", "AssumeRole"]


def test_assumed_sessions_honour_aws_endpoint_url(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    sts, stub = stubbed_sts()
    stub.add_response("assume_role", credentials(datetime.now(UTC) + timedelta(hours=1)))
    with stub:
        session = assumed_role_session(sts, role_arn(OTHER, "r"))
    assert session.client("ec2", region_name="eu-west-1").meta.endpoint_url == (
        "http://127.0.0.1:5999"
    )


def test_clients_are_made_once_per_service_and_region_across_threads(aws: None) -> None:
    made: list[str] = []

    class Counting:
        def client(self, service: str, **_: Any) -> object:
            made.append(service)
            return object()

    cache = ClientCache(Counting())
    seen: list[object] = []
    threads = [
        threading.Thread(target=lambda: seen.append(cache.client("ec2", "eu-west-1")))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == ["ec2"] and len({id(c) for c in seen}) == 1


def test_partition_comes_from_the_callers_arn() -> None:
    assert partition_of_arn("arn:aws-cn:iam::123456789012:user/x") == "aws-cn"
    assert partition_of_arn("") == "aws"
    assert role_arn(OTHER, "/team/reader", "aws-us-gov") == (
        f"arn:aws-us-gov:iam::{OTHER}:role/team/reader"
    )


# -- throttling, through botocore's own adaptive retry handler ---------------------------
#
# A real client from ClientCache (so Setpoint's retry settings) talks to a local HTTP
# server playing EC2. Only time is faked: the backoff sleeps are recorded, and the clock
# of the adaptive rate limiter runs a minute per reading, so its token bucket is always
# full and never makes the test wait.

THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
    b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    b"</Error></Errors><RequestID>r-throttled</RequestID></Response>"
)
GROUP_ID = "sg-0a1b2c3d4e5f60718"
ONE_GROUP = f"""<?xml version="1.0" encoding="UTF-8"?>
<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-ok</requestId>
  <securityGroupInfo><item>
    <ownerId>{OWN}</ownerId><groupId>{GROUP_ID}</groupId><groupName>web</groupName>
    <groupDescription>Web</groupDescription><vpcId>vpc-0abc</vpcId>
    <ipPermissions><item>
      <ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort>
      <groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges>
      <ipv6Ranges/><prefixListIds/>
    </item></ipPermissions>
    <ipPermissionsEgress/>
  </item></securityGroupInfo>
</DescribeSecurityGroupsResponse>""".encode()
XML = {"Content-Type": "text/xml;charset=UTF-8"}


class RunawayClock:
    """botocore.retries.bucket.Clock, a minute later at every reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def current_time(self) -> float:
        self.now += 60.0
        return self.now

    def sleep(self, amount: float) -> None:
        pass


@pytest.fixture
def fake_ec2(
    chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[ChatServer, SecurityGroupCollector, Sleeps]:
    """The scripted server as EC2's endpoint; a collector on a ClientCache client."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", chat_server.base)
    sleeps = Sleeps()
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=sleeps))
    monkeypatch.setattr(botocore.retries.bucket, "Clock", RunawayClock)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    cache = ClientCache(session)
    return chat_server, SecurityGroupCollector(cache.factory("ec2")), sleeps


def _ref() -> ResourceRef:
    return ResourceRef(SECURITY_GROUP, OWN, "eu-west-1", id=GROUP_ID)


def test_a_throttled_read_is_retried_by_botocore_and_succeeds(
    fake_ec2: tuple[ChatServer, SecurityGroupCollector, Sleeps],
) -> None:
    ec2, collector, sleeps = fake_ec2
    ec2.script = [Reply(503, THROTTLED, XML), Reply(200, ONE_GROUP, XML)]
    (group,) = collector.read(_ref())
    assert group.group_id == GROUP_ID and group.name == "web"
    assert ec2.attempts == 2  # one throttled, one answered
    assert len(sleeps) == 1  # botocore backed off once, and we did not wait it
    for request in ec2.requests:
        assert b"Action=DescribeSecurityGroups" in request["body"]
        assert "setpoint/0.1" in request["headers"]["User-Agent"]  # ours in CloudTrail


def test_throttled_past_max_attempts_is_a_read_error_with_the_code(
    fake_ec2: tuple[ChatServer, SecurityGroupCollector, Sleeps],
) -> None:
    ec2, collector, sleeps = fake_ec2
    ec2.script = [Reply(503, THROTTLED, XML)] * 20
    with pytest.raises(ReadError) as caught:
        collector.read(_ref())
    # client_config's `max_attempts: 8` counts retries in botocore's Config (its
    # `total_max_attempts` would count the first call): the first call and 8 retries
    assert ec2.attempts == 9
    assert len(sleeps) == 8 and all(0 <= s <= 20 for s in sleeps)  # botocore's cap: 20 s
    assert caught.value.code == "RequestLimitExceeded"
    assert "RequestLimitExceeded" in str(caught.value)


def test_an_account_outside_the_configured_set_is_refused_without_assume_role() -> None:
    sts, stub = stubbed_sts()  # no response queued: any AssumeRole would fail the test
    base = ClientCache(boto3.session.Session(region_name="us-east-1"))
    base._clients[("sts", "us-east-1")] = sts
    sessions = RoleSessions(base, own_account=OWN, allowed=AllowedAccounts(lambda: [OTHER]))
    with stub, pytest.raises(ReadError) as caught:
        sessions.clients_for("999988887777").client("ec2")
    assert caught.value.code == NOT_CONFIGURED
    assert "999988887777" in str(caught.value) and "configured accounts" in str(caught.value)
    with stub, pytest.raises(ReadError) as malformed:
        sessions.clients_for("*").client("ec2")
    assert malformed.value.code == NOT_AN_ACCOUNT
    stub.assert_no_pending_responses()


def test_configured_accounts_are_read_again_for_a_newcomer_once_the_list_is_old() -> None:
    now = [0.0]
    lists = [[OTHER], [OTHER, "999988887777"]]
    allowed = AllowedAccounts(lambda: lists.pop(0), clock=lambda: now[0])
    assert allowed.refusal(OTHER) is None
    assert allowed.refusal("999988887777") is not None  # the list is fresh: not asked again
    now[0] = FAILURE_MEMORY_SECONDS
    assert allowed.refusal("999988887777") is None
    assert lists == []


def test_configured_accounts_that_cannot_be_read_refuse_every_account() -> None:
    now = [0.0]

    def fail() -> list[str]:
        raise ConfigError("cannot list the organization's accounts (AccessDenied)")

    allowed = AllowedAccounts(fail, clock=lambda: now[0])
    assert "AccessDenied" in (allowed.refusal(OTHER) or "")
    now[0] = FAILURE_MEMORY_SECONDS - 1
    assert allowed.refusal(OTHER) is not None


def test_the_read_timeout_of_every_client_follows_setpoint_read_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert ClientCache().client("ec2", "us-east-1").meta.config.read_timeout == 20
    monkeypatch.setenv("SETPOINT_READ_TIMEOUT", "120")
    assert ClientCache().client("ec2", "eu-west-1").meta.config.read_timeout == 120


@pytest.mark.parametrize("value", ["0", "901", "20s"])
def test_a_read_timeout_out_of_range_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SETPOINT_READ_TIMEOUT", value)
    with pytest.raises(ConfigError, match="SETPOINT_READ_TIMEOUT"):
        ClientCache().client("ec2", "us-east-1")
