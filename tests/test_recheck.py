"""Re-checks on a real (moto) SQS queue: create sequences stay quiet, stale reads are caught."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.errors import ConfigError
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.kinds.iam import IAM_ROLE
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.collector import SecurityGroupCollector
from chalicelib.kinds.security_group.model import SecurityGroupState
from chalicelib.kinds.security_group.pipeline import SecurityGroupPipeline
from chalicelib.model import Actor, ResourceRef
from chalicelib.pipeline import Pipeline
from chalicelib.recheck import (
    RecheckError,
    SqsRecheckQueue,
    decode_message,
    delay_from,
    encode_message,
    handle_recheck_batch,
    recheck_from_env,
)
from chalicelib.state import DynamoStateStore, MemoryStateStore, StateStore
from tests.chat_server import ChatServer, running_chat
from tests.conftest import REGION
from tests.state.world import (
    ACCOUNT,
    TABLE,
    Clock,
    RecordingQueue,
    authorize,
    ec2_event,
    make_runtime,
    s3_event,
    specs,
    sqs_records,
    state_table,
)

APP_SPEC = (
    "policies/app.yaml",
    "kind: security_group\nname: app\ndescription: App\ningress:\n"
    "  - proto: tcp\n    ports: 443\n    cidr: 0.0.0.0/0\n"
    "  - proto: tcp\n    ports: 80\n    cidr: 0.0.0.0/0\n",
)


@pytest.fixture
def queue(aws: None) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs, sqs.create_queue(QueueName="setpoint-recheck")["QueueUrl"]


def _store(kind: str) -> StateStore:
    if kind == "memory":
        return MemoryStateStore()
    return DynamoStateStore(TABLE, state_table())


def _create_sequence(ec2: Any, runtime: Any, clock: Clock, extra_port: int | None) -> str:
    """What Terraform does: CreateSecurityGroup, then one Authorize per rule, seconds apart;
    each call reaches moto before its event reaches the handler."""
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="app", Description="App", VpcId=vpc)["GroupId"]
    created = ec2_event(
        "CreateSecurityGroup",
        {"groupName": "app", "groupDescription": "App", "vpcId": vpc},
        {"_return": True, "groupId": group},
    )
    handle_cloudtrail_event(created, runtime)
    for port in (443, 80, extra_port):
        if port is None:
            continue
        clock.advance(3)
        ec2.authorize_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0"
        )
        handle_cloudtrail_event(authorize(group, port), runtime)
    return group


@pytest.mark.parametrize("store", ["memory", "dynamodb"])
def test_a_create_sequence_that_ends_in_spec_posts_nothing(
    ec2: Any, queue: tuple[Any, str], chat_server: ChatServer, store: str
) -> None:
    sqs, url = queue
    clock = Clock()
    scheduled = RecordingQueue(SqsRecheckQueue(sqs, url))
    runtime = make_runtime(
        chat_server.url, specs(APP_SPEC), state=_store(store), recheck=scheduled, clock=clock
    )
    _create_sequence(ec2, runtime, clock, extra_port=None)
    assert chat_server.received == []  # the half-built group was never posted
    assert scheduled.delays == [90]  # one re-check, at the end of the settle window
    clock.advance(90)
    response = handle_recheck_batch(sqs_records(sqs, url), runtime, runtime.delivery())
    assert response == {"batchItemFailures": []}
    assert chat_server.received == []


def test_without_the_settle_window_the_same_sequence_was_noise(
    ec2: Any, chat_server: ChatServer
) -> None:
    """Today's behaviour without a re-check queue (CLI, demo): drift, then back to normal."""
    clock = Clock()
    runtime = make_runtime(chat_server.url, specs(APP_SPEC), clock=clock)
    _create_sequence(ec2, runtime, clock, extra_port=None)
    assert chat_server.alerts() == ["new:drifted", "changed:drifted", "back_to_normal:in_sync"]


@pytest.mark.parametrize("store", ["memory", "dynamodb"])
def test_a_create_sequence_that_ends_off_spec_posts_once_at_the_recheck(
    ec2: Any, queue: tuple[Any, str], chat_server: ChatServer, store: str
) -> None:
    sqs, url = queue
    clock = Clock()
    runtime = make_runtime(
        chat_server.url,
        specs(APP_SPEC),
        state=_store(store),
        recheck=RecordingQueue(SqsRecheckQueue(sqs, url)),
        clock=clock,
    )
    group = _create_sequence(ec2, runtime, clock, extra_port=22)
    assert chat_server.received == []
    clock.advance(90)
    records = sqs_records(sqs, url)
    handle_recheck_batch(records, runtime, runtime.delivery())
    (alert,) = chat_server.received
    assert alert["id"] == group and alert["alert"]["kind"] == "new"
    # the final state: only the port nobody declared, not the rules still being added
    assert len(alert["changes"]) == 1 and "22" in alert["changes"][0]["summary"]
    assert alert["actor"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    # SQS may deliver the message again: still one alert
    handle_recheck_batch(records, runtime, runtime.delivery())
    assert len(chat_server.received) == 1


class StaleOnce:
    """A collector whose first read returns the group as it was before the change: what an
    eventually consistent Describe call can answer right after an Authorize."""

    def __init__(self, real: SecurityGroupCollector, before: list[SecurityGroupState]) -> None:
        self.real = real
        self.before: list[SecurityGroupState] | None = before
        self.reads = 0

    def read(self, ref: ResourceRef) -> list[SecurityGroupState]:
        self.reads += 1
        if self.before is not None:
            stale, self.before = self.before, None
            return stale
        return self.real.read(ref)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("store", ["memory", "dynamodb"])
def test_a_stale_read_after_authorize_is_rechecked_and_alerts_once(
    ec2: Any, queue: tuple[Any, str], chat_server: ChatServer, store: str
) -> None:
    sqs, url = queue
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="app", Description="App", VpcId=vpc)["GroupId"]
    for port in (443, 80):
        ec2.authorize_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0"
        )
    real = SecurityGroupCollector(lambda region: boto3.client("ec2", region_name=region))
    ref = ResourceRef(SECURITY_GROUP, ACCOUNT, REGION, id=group)
    collector = StaleOnce(real, real.read(ref))
    clock = Clock()
    scheduled = RecordingQueue(SqsRecheckQueue(sqs, url))
    runtime = make_runtime(
        chat_server.url,
        specs(APP_SPEC),
        state=_store(store),
        recheck=scheduled,
        clock=clock,
        pipeline=Pipeline([SecurityGroupPipeline(collector)]),  # type: ignore[arg-type]
    )
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    outcome = handle_cloudtrail_event(authorize(group, 22), runtime)
    assert [f.status.value for f in outcome.findings] == ["in_sync"]  # the stale answer
    assert chat_server.received == [] and scheduled.delays == [90]

    clock.advance(90)
    records = sqs_records(sqs, url)
    handle_recheck_batch(records, runtime, runtime.delivery())
    (alert,) = chat_server.received
    assert alert["id"] == group and alert["status"] == "drifted"
    assert "22" in alert["changes"][0]["summary"]
    assert alert["actor"]["event_name"] == "AuthorizeSecurityGroupIngress"
    # SQS delivers at least once: the same message again posts nothing
    handle_recheck_batch(records, runtime, runtime.delivery())
    assert len(chat_server.received) == 1
    # and a re-check never schedules another one
    assert scheduled.delays == [90] and sqs_records(sqs, url) == []


def test_a_burst_of_events_keeps_one_pending_recheck(
    ec2: Any, queue: tuple[Any, str], chat_server: ChatServer
) -> None:
    sqs, url = queue
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="app", Description="App", VpcId=vpc)["GroupId"]
    for port in (443, 80):
        ec2.authorize_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0"
        )
    clock = Clock()
    scheduled = RecordingQueue(SqsRecheckQueue(sqs, url))
    runtime = make_runtime(chat_server.url, specs(APP_SPEC), recheck=scheduled, clock=clock)
    for _ in range(10):  # in sync each time: nothing explains them
        handle_cloudtrail_event(authorize(group, 443), runtime)
        clock.advance(1)
    assert scheduled.delays == [90]
    clock.advance(40)  # the pending one is now due too soon to see a new change
    handle_cloudtrail_event(authorize(group, 443), runtime)
    assert scheduled.delays == [90, 90]
    assert chat_server.received == []


def test_recheck_batches_report_only_the_failed_message(ec2: Any, queue: tuple[Any, str]) -> None:
    sqs, url = queue
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    groups = [
        ec2.create_security_group(GroupName=name, Description="x", VpcId=vpc)["GroupId"]
        for name in ("one", "two")
    ]
    actor = Actor("arn:aws:iam::123456789012:user/bob", "AuthorizeSecurityGroupIngress", None, "e1")
    plain = SqsRecheckQueue(sqs, url)
    for group in groups:
        plain.schedule([ResourceRef(SECURITY_GROUP, ACCOUNT, REGION, id=group)], actor, 0)
    records = sqs_records(sqs, url)
    with running_chat() as flaky:
        flaky.fail_first(1)
        runtime = make_runtime(flaky.url, specs())
        response = handle_recheck_batch(records, runtime, runtime.delivery())
        # the first unmanaged group's post failed: only its message comes back
        assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
        assert [m["id"] for m in flaky.received] == [groups[1]]
        retry = handle_recheck_batch(records[:1], runtime, runtime.delivery())
        assert retry == {"batchItemFailures": []}
        assert sorted(m["id"] for m in flaky.received) == sorted(groups)


def test_a_malformed_message_is_logged_and_not_retried(
    aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    record = {
        "messageId": "m-1",
        "receiptHandle": "r",
        "body": '{"version": 7, "refs": []}',
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }
    with running_chat() as sink:
        runtime = make_runtime(sink.url, specs())
        response = handle_recheck_batch([record], runtime, runtime.delivery())
    assert response == {"batchItemFailures": []}
    (logged,) = [r for r in caplog.records if r.getMessage() == "malformed_recheck"]
    assert "version 7" in logged.error  # type: ignore[attr-defined]


def test_the_message_round_trips_and_is_versioned() -> None:
    actor = Actor(
        "arn:aws:iam::1:user/a", "CreateRole", "2026-03-01T09:00:00Z", "id-1", via="terraform"
    )
    refs = (
        ResourceRef(SECURITY_GROUP, "1", REGION, "sg-0123456789abcdef0", "web", "vpc-1"),
        ResourceRef(IAM_ROLE, "1", "global", "arn:aws:iam::1:role/x", "x"),
    )
    body = encode_message(refs, actor)
    assert json.loads(body)["version"] == 1
    assert decode_message(body) == (refs, actor)
    assert decode_message(encode_message(refs[:1], None)) == (refs[:1], None)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("nope", "not JSON"),
        ('{"version": 2, "refs": []}', "version 2"),
        ('{"version": 1, "refs": []}', "non-empty"),
        ('{"version": 1, "refs": [{"kind": "vm", "region": "x"}]}', "unknown kind 'vm'"),
        ('{"version": 1, "refs": [{"kind": "s3_bucket"}]}', "no region"),
        ('{"version": 1, "refs": [{"kind": "s3_bucket", "region": "x", "id": 5}]}', "id is int"),
    ],
)
def test_bad_messages_say_what_is_wrong(body: str, words: str) -> None:
    with pytest.raises(RecheckError, match=words):
        decode_message(body)


def test_sqs_holds_the_message_for_the_delay(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    ref = ResourceRef(S3_BUCKET, ACCOUNT, REGION, "assets")
    SqsRecheckQueue(sqs, url).schedule([ref], None, 5000)  # beyond SQS's limit: 900
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_queue_that_refuses_is_a_recheck_error(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    missing = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/no-such-queue"
    ref = ResourceRef(S3_BUCKET, ACCOUNT, REGION, "assets")
    with pytest.raises(RecheckError, match="refused"):
        SqsRecheckQueue(sqs, missing).schedule([ref], None, 10)


def test_settings_from_the_environment(aws: None) -> None:
    from chalicelib.aws import ClientCache

    assert recheck_from_env({}, ClientCache()) is None
    queue = recheck_from_env({"SETPOINT_RECHECK_QUEUE_URL": "https://q/1/x"}, ClientCache())
    assert isinstance(queue, SqsRecheckQueue) and queue.queue_url == "https://q/1/x"
    assert delay_from(None) == 90 and delay_from("0") == 0 and delay_from("900") == 900
    for bad in ("901", "-1", "soon"):
        with pytest.raises(ConfigError, match="SETPOINT_RECHECK_DELAY_SECONDS"):
            delay_from(bad)


BUCKET_SPEC = (
    "policies/assets.yaml",
    f"kind: s3_bucket\nname: team-assets\nregion: {REGION}\n"
    "public_access_block:\n  block_public_acls: true\n  ignore_public_acls: true\n"
    "  block_public_policy: true\n  restrict_public_buckets: true\n"
    "encryption:\n  sse: AES256\n",
)


def _bucket_sequence(runtime: Any, clock: Clock) -> None:
    """CreateBucket, then the calls that lock it down, as a CloudFormation stack makes them."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="team-assets", CreateBucketConfiguration={"LocationConstraint": REGION})
    handle_cloudtrail_event(s3_event("CreateBucket", "team-assets"), runtime)
    clock.advance(2)
    s3.put_public_access_block(
        Bucket="team-assets",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    handle_cloudtrail_event(s3_event("PutBucketPublicAccessBlock", "team-assets"), runtime)
    clock.advance(2)
    s3.put_bucket_encryption(
        Bucket="team-assets",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    handle_cloudtrail_event(s3_event("PutBucketEncryption", "team-assets"), runtime)


def test_a_bucket_locked_down_after_its_create_posts_nothing(
    queue: tuple[Any, str], chat_server: ChatServer
) -> None:
    sqs, url = queue
    clock = Clock()
    scheduled = RecordingQueue(SqsRecheckQueue(sqs, url))
    runtime = make_runtime(chat_server.url, specs(BUCKET_SPEC), recheck=scheduled, clock=clock)
    _bucket_sequence(runtime, clock)
    assert chat_server.received == []
    clock.advance(90)
    handle_recheck_batch(sqs_records(sqs, url), runtime, runtime.delivery())
    assert chat_server.received == []
    assert scheduled.delays == [90]


def test_without_the_settle_window_the_bucket_sequence_was_noise(
    aws: None, chat_server: ChatServer
) -> None:
    clock = Clock()
    runtime = make_runtime(chat_server.url, specs(BUCKET_SPEC), clock=clock)
    _bucket_sequence(runtime, clock)
    assert chat_server.alerts()[0] == "new:drifted"
    assert chat_server.alerts()[-1] == "back_to_normal:in_sync"
