"""A Terraform apply does not alert: the deployer's calls wait for its state write.

On moto, through the handlers the Lambdas run: the CloudTrail event handler (with the
re-check queue the stack deploys), the state-write handler and the re-check handler.
Chat is the shared fake chat server, so each test sees what a channel would.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.errors import ConfigError
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.iac_principals import IacPrincipals, iac_from_env
from chalicelib.model import Status
from chalicelib.recheck import SqsRecheckQueue, handle_recheck_batch
from chalicelib.runtime import Runtime
from chalicelib.sources.provider import sources_provider
from chalicelib.state_write import handle_state_write, state_event_pattern
from tests.chat_server import ChatServer
from tests.conftest import REGION
from tests.state.world import (
    ACCOUNT,
    Clock,
    RecordingQueue,
    authorize,
    make_runtime,
    sqs_records,
)

STATE_BUCKET = "acme-tfstate"
STATE_KEY = "network/terraform.tfstate"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/terraform-deployer"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'
EVENT = json.loads((Path(__file__).parent / "fixtures" / "s3_object_created.json").read_text())


def _rule(port: int, cidr: str, protocol: str = "tcp") -> dict[str, Any]:
    return {
        "cidr_blocks": [cidr],
        "description": "",
        "from_port": port,
        "to_port": port,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "protocol": protocol,
        "security_groups": [],
        "self": False,
    }


def state(group: str, vpc: str, *ports: int, serial: int = 1) -> bytes:
    """The state Terraform writes for one group with `ports` open to 10.0.0.0/8."""
    attributes: dict[str, Any] = {
        "id": group,
        "name": "web",
        "description": "web",
        "vpc_id": vpc,
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{group}",
        "owner_id": ACCOUNT,
        "ingress": [_rule(port, "10.0.0.0/8") for port in ports],
        "egress": [_rule(0, "0.0.0.0/0", "-1")],
        "tags": None,
        "tags_all": {},
    }
    resource = {
        "mode": "managed",
        "type": "aws_security_group",
        "name": "web",
        "provider": AWS,
        "instances": [{"schema_version": 1, "attributes": attributes}],
    }
    document = {
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": serial,
        "lineage": "5b6c",
        "outputs": {},
        "resources": [resource],
    }
    return json.dumps(document).encode()


def state_written(key: str = STATE_KEY, bucket: str = STATE_BUCKET) -> dict[str, Any]:
    """S3's "Object Created" through EventBridge for the new state object."""
    event = copy.deepcopy(EVENT)
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    del event["detail"]["object"]["version-id"]
    return event


def by(record: dict[str, Any], role: str | None) -> dict[str, Any]:
    """The record as made by an assumed role's session (Terraform's usual credentials)."""
    if role is None:
        return record
    record = copy.deepcopy(record)
    name = role.rsplit("/", 1)[1]
    record["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEDEPLOYER:ci-run-42",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/ci-run-42",
        "accountId": ACCOUNT,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": role, "accountId": ACCOUNT, "userName": name}
        },
    }
    record["detail"]["userAgent"] = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8"
    return record


class Estate:
    """One Terraform-managed group (443 open), its state in S3, and the Lambda's runtime."""

    def __init__(self, chat_url: str) -> None:
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        self.group = self.ec2.create_security_group(
            GroupName="web", Description="web", VpcId=self.vpc
        )["GroupId"]
        self.open(443)
        self.s3.create_bucket(
            Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        self.write_state(443)
        self.queue_url = self.sqs.create_queue(QueueName="setpoint-recheck")["QueueUrl"]
        self.scheduled = RecordingQueue(SqsRecheckQueue(self.sqs, self.queue_url))
        self.clock = Clock()
        self.runtime = self.fresh_runtime(chat_url)
        assert self.runtime.specs().kinds == ("security_group",)  # the warm Lambda's specs

    def fresh_runtime(self, chat_url: str) -> Runtime:
        clients = ClientCache()
        runtime = make_runtime(
            chat_url,
            sources_provider(f"terraform:s3://{STATE_BUCKET}/", clients)(),
            recheck=self.scheduled,
            clock=self.clock,
            clients=clients,
        )
        runtime.specs = sources_provider(f"terraform:s3://{STATE_BUCKET}/", clients)
        runtime.iac = IacPrincipals(("arn:aws:iam::*:role/terraform-*",), settle_seconds=900)
        return runtime

    def open(self, port: int) -> None:
        self.ec2.authorize_security_group_ingress(
            GroupId=self.group, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="10.0.0.0/8"
        )

    def write_state(self, *ports: int) -> None:
        body = state(self.group, self.vpc, *ports)
        self.s3.put_object(Bucket=STATE_BUCKET, Key=STATE_KEY, Body=body)

    def call(self, port: int, role: str | None) -> list[Status]:
        """The call made in moto, then its CloudTrail event through the event handler;
        the statuses it would post now (a held finding is not among them)."""
        self.open(port)
        outcome = handle_cloudtrail_event(
            by(authorize(self.group, port, "10.0.0.0/8"), role), self.runtime
        )
        return [f.status for f in outcome.findings]

    def state_write(self) -> list[tuple[str | None, Status]]:
        outcome = handle_state_write(state_written(), self.runtime.spec_change_context())
        assert outcome.errors == []
        return [(f.id, f.status) for f in outcome.findings if f.id == self.group]

    def timeout(self) -> None:
        """The end of the IaC window: its re-check comes off the queue."""
        self.clock.advance(900)
        records = sqs_records(self.sqs, self.queue_url)
        assert records, "no re-check was scheduled"
        response = handle_recheck_batch(records, self.runtime, self.runtime.delivery())
        assert response == {"batchItemFailures": []}


@pytest.fixture
def estate(aws: None, chat_server: ChatServer) -> Estate:
    return Estate(chat_server.url)


def test_an_apply_by_the_deployer_then_its_state_write_posts_nothing(
    estate: Estate, chat_server: ChatServer
) -> None:
    # terraform apply: the call first; the state still says 443 only
    assert estate.call(22, DEPLOYER) == []  # held: the state write is on its way
    assert chat_server.received == []
    assert estate.scheduled.delays == [900]  # ...or the re-check at the window's end
    # then Terraform writes the new state
    estate.clock.advance(20)
    estate.write_state(443, 22)
    assert estate.state_write() == [(estate.group, Status.IN_SYNC)]
    assert chat_server.received == []
    # the window's re-check finds the group as the state says: still nothing
    estate.timeout()
    assert chat_server.received == []


def test_after_the_state_write_a_hand_change_on_the_same_group_alerts_at_once(
    estate: Estate, chat_server: ChatServer
) -> None:
    estate.call(22, DEPLOYER)
    estate.write_state(443, 22)
    estate.state_write()
    estate.clock.advance(30)
    assert estate.call(3389, None) == [Status.DRIFTED]  # the window ended with the write
    (alert,) = chat_server.received
    assert alert["alert"]["kind"] == "new" and "3389" in json.dumps(alert["changes"])
    assert alert["actor"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"


def test_the_same_call_by_a_console_user_alerts(estate: Estate, chat_server: ChatServer) -> None:
    assert estate.call(22, None) == [Status.DRIFTED]
    assert chat_server.alerts() == ["new:drifted"]
    assert chat_server.received[0]["actor"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"


def test_another_role_is_not_the_deployer(estate: Estate, chat_server: ChatServer) -> None:
    estate.call(22, f"arn:aws:iam::{ACCOUNT}:role/ops-admin")
    assert chat_server.alerts() == ["new:drifted"]


def test_the_deployers_call_without_a_state_write_alerts_at_the_timeout(
    estate: Estate, chat_server: ChatServer
) -> None:
    estate.call(22, DEPLOYER)
    assert chat_server.received == []
    estate.timeout()
    (alert,) = chat_server.received
    assert alert["alert"]["kind"] == "new" and alert["status"] == "drifted"
    assert (
        alert["actor"]["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/terraform-deployer/ci-run-42"
    )
    assert "22" in json.dumps(alert["changes"])


def test_a_state_write_closes_drift_it_explains_that_was_alerted(
    estate: Estate, chat_server: ChatServer
) -> None:
    """A change alerted before (made by hand, or with no deployer configured) that a later
    apply adopts: the state write closes it."""
    estate.call(22, None)
    estate.write_state(443, 22)
    assert estate.state_write() == [(estate.group, Status.IN_SYNC)]
    assert chat_server.alerts() == ["new:drifted", "back_to_normal:in_sync"]


def test_a_state_write_that_does_not_declare_the_change_leaves_it_to_the_timeout(
    estate: Estate, chat_server: ChatServer
) -> None:
    estate.call(22, DEPLOYER)
    # an apply of something else: a new serial, the same entries for this group
    estate.s3.put_object(
        Bucket=STATE_BUCKET, Key=STATE_KEY, Body=state(estate.group, estate.vpc, 443, serial=2)
    )
    assert estate.state_write() == []  # nothing in the state changed: nothing re-read
    assert chat_server.received == []
    estate.timeout()
    assert chat_server.alerts() == ["new:drifted"]


def test_a_cold_process_rereads_every_resource_of_the_written_state(
    estate: Estate, chat_server: ChatServer
) -> None:
    estate.call(22, DEPLOYER)
    estate.write_state(443, 22)
    estate.runtime.specs = sources_provider(f"terraform:s3://{STATE_BUCKET}/", ClientCache())
    assert estate.state_write() == [(estate.group, Status.IN_SYNC)]
    assert chat_server.received == []


def test_a_write_outside_the_terraform_sources_is_skipped_with_a_reason(estate: Estate) -> None:
    context = estate.runtime.spec_change_context()
    outcome = handle_state_write(state_written(bucket="someone-elses-states"), context)
    assert outcome.findings == [] and outcome.errors == []
    (skipped,) = outcome.skipped
    assert "s3://someone-elses-states/network/terraform.tfstate" in skipped.detail


def test_the_rule_matches_state_objects_only() -> None:
    pattern = state_event_pattern()
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"] == {"object": {"key": [{"suffix": ".tfstate"}]}}


def test_deployers_come_from_the_environment_as_arn_globs() -> None:
    assert iac_from_env({}) is None
    iac = iac_from_env(
        {
            "SETPOINT_IAC_PRINCIPALS": "arn:aws:iam::*:role/terraform-*, arn:aws:iam::1:user/ci",
            "SETPOINT_IAC_SETTLE_SECONDS": "600",
        }
    )
    assert iac == IacPrincipals(
        ("arn:aws:iam::*:role/terraform-*", "arn:aws:iam::1:user/ci"), settle_seconds=600
    )
    with pytest.raises(ConfigError, match=r"'\*' is not an ARN pattern"):
        iac_from_env({"SETPOINT_IAC_PRINCIPALS": "*"})
    with pytest.raises(ConfigError, match=r"1\.\.900"):
        iac_from_env({"SETPOINT_IAC_PRINCIPALS": DEPLOYER, "SETPOINT_IAC_SETTLE_SECONDS": "3600"})
