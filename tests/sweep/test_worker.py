"""The fan-out end to end on moto: schedule -> SQS -> workers -> alerts and one digest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.aws import ClientCache
from chalicelib.notify.delivery import notifier_for
from chalicelib.notify.routing import RoutedNotifier
from chalicelib.runtime import sweep_service
from chalicelib.state import DynamoStateStore
from chalicelib.sweep.queue import SqsSweepQueue
from chalicelib.sweep.runs import DynamoRunStore
from chalicelib.sweep.settings import SweepSettings
from chalicelib.sweep.shards import MAX_DELAY_SECONDS, decode_message, stable_delay
from chalicelib.sweep.worker import (
    SweepService,
    enqueue_shards,
    handle_shard_batch,
    run_scheduled_sweep,
    sweep_in_process,
)
from tests.sweep.conftest import MANAGEMENT, TABLE, Org, make_runtime

REGIONS = ["eu-west-1", "us-east-1"]


def write_specs(root: Path, allowed: str) -> Path:
    folder = root / "security_groups"
    folder.mkdir(parents=True)
    # no region: the group may be in any region; it lives in us-east-1
    (folder / "app.yaml").write_text(
        f"kind: security_group\nname: app\naccount: '{allowed}'\ndescription: app\n"
        "ingress:\n  - proto: tcp\n    ports: 443\n    cidr: 10.0.0.0/8\n"
    )
    # no region, and no such group anywhere: missing once, not once per region
    (folder / "gone.yaml").write_text(
        f"kind: security_group\nname: gone\naccount: '{allowed}'\ndescription: gone\n"
    )
    return root


def seed(member: ClientCache) -> None:
    ec2 = member.client("ec2", "us-east-1")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    app = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
        ],
    )


@pytest.fixture
def setup(
    org: Org,
    base_clients: ClientCache,
    member_clients: ClientCache,
    state_table: DynamoStateStore,
    webhook: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> tuple[SweepService, str, list[dict[str, Any]]]:
    seed(member_clients)
    url, received = webhook
    runtime = make_runtime(
        base_clients, write_specs(tmp_path / "policies", org.allowed), url, state_table, REGIONS
    )
    queue = boto3.client("sqs", region_name="eu-west-1").create_queue(QueueName="setpoint-sweep")
    settings = SweepSettings(
        accounts="organization",
        regions=tuple(REGIONS),
        window_seconds=0,  # moto honours DelaySeconds; delays have their own test
        queue_url=queue["QueueUrl"],
        state_uri=f"dynamodb://{TABLE}",
    )
    service = sweep_service(runtime, settings)
    return service, queue["QueueUrl"], received


def drain(queue_url: str) -> list[dict[str, Any]]:
    """The queue's messages as the SQS event records Lambda would hand the worker."""
    sqs = boto3.client("sqs", region_name="eu-west-1")
    records: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return records
        for message in got:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:setpoint-sweep",
                    "awsRegion": "eu-west-1",
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def sweep_once(service: SweepService, queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="eu-west-1")
    enqueued = enqueue_shards(service, SqsSweepQueue(sqs, queue_url))
    records = drain(queue_url)
    assert len(records) == enqueued.shards == enqueued.sent
    for first in range(0, len(records), 3):  # batches of three, as Lambda might hand them
        answer = handle_shard_batch({"Records": records[first : first + 3]}, service)
        assert answer == {"batchItemFailures": []}
    return records


def digests(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in received if r.get("type") == "sweep_digest"]


def test_the_organization_is_swept_shard_by_shard_and_ends_in_one_digest(
    setup: tuple[SweepService, str, list[dict[str, Any]]], org: Org
) -> None:
    service, queue_url, received = setup
    records = sweep_once(service, queue_url)

    shards = [decode_message(r["body"]).shard for r in records]
    accounts = {s.account for s in shards}
    assert accounts == {MANAGEMENT, org.allowed, org.denied}  # the suspended one is skipped
    # per account: groups and load balancers per region; buckets, the guard, IAM once
    assert len(shards) == 3 * (2 * len(REGIONS) + 3)

    (digest,) = digests(received)
    new = {(i["account"], i["kind"], i.get("name")): i for i in digest["new_drift"]}
    # the region-less spec whose group exists nowhere: missing once, for the whole account
    assert new[(org.allowed, "security_group", "gone")]["status"] == "missing"
    # the region-less spec found in us-east-1 is not called missing by the eu-west-1 shard
    assert (org.allowed, "security_group", "app") not in new
    assert all(i.get("name") != "app" for i in digest["still_open"])
    # the denied account: every one of its shards unknown, with the reason
    (denied,) = [g for g in digest["unknown"] if org.denied in g["reason"]]
    assert "cannot assume role" in denied["reason"] and "AccessDenied" in denied["reason"]
    # groups and load balancers per region, s3, the 4 IAM kinds, the guard's trails and
    # rules per region, and Setpoint's own parts: its functions and bus per region, its roles
    assert denied["count"] == 2 * len(REGIONS) + 1 + 4 + 2 * len(REGIONS) + 2 * len(REGIONS) + 1
    assert digest["counts"]["unknown"] == denied["count"]
    # the other accounts were read: their default groups are unmanaged, not unknown
    assert {i["account"] for i in digest["new_drift"] if i["status"] == "unmanaged"} == {
        MANAGEMENT,
        org.allowed,
    }


def test_a_second_sweep_posts_only_its_digest_and_lists_open_drift_oldest_first(
    setup: tuple[SweepService, str, list[dict[str, Any]]], org: Org
) -> None:
    service, queue_url, received = setup
    sweep_once(service, queue_url)
    first_alerts = len(received)
    sweep_once(service, queue_url)

    assert len(received) == first_alerts + 1  # drift already alerted is not re-posted
    second = digests(received)[-1]
    assert second["new_drift"] == []
    assert second["totals"]["still_open"] == digests(received)[0]["totals"]["new_drift"]
    since = [i["since"] for i in second["still_open"]]
    assert all(since) and since == sorted(since)
    assert "Still open, oldest first" in second["text"]


def test_a_shard_redelivered_after_it_counted_does_not_post_a_second_digest(
    setup: tuple[SweepService, str, list[dict[str, Any]]],
) -> None:
    service, queue_url, received = setup
    records = sweep_once(service, queue_url)
    handle_shard_batch({"Records": records[:1]}, service)  # SQS redelivers
    assert len(digests(received)) == 1


def test_shard_delays_are_stable_capped_at_900_and_longer_waits_are_carried_on(
    setup: tuple[SweepService, str, list[dict[str, Any]]],
) -> None:
    service, queue_url, _ = setup
    sqs = boto3.client("sqs", region_name="eu-west-1")
    sent: list[dict[str, Any]] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch",
        lambda params, **_: sent.extend(params["Entries"]),
    )
    long_window = dataclasses.replace(service.settings, window_seconds=3600)
    service = dataclasses.replace(service, settings=long_window, epoch=lambda: 1000.0)
    enqueue_shards(service, SqsSweepQueue(sqs, queue_url))
    enqueue_shards(service, SqsSweepQueue(sqs, queue_url))

    half = len(sent) // 2

    def in_order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(entries, key=lambda e: int(e["Id"]))  # batches go out from a few threads

    for entry, again in zip(in_order(sent[:half]), in_order(sent[half:]), strict=True):
        message = decode_message(entry["MessageBody"])
        assert message.delay_seconds == stable_delay(message.shard.id, 3600)
        assert decode_message(again["MessageBody"]).delay_seconds == message.delay_seconds
        assert entry["DelaySeconds"] == min(message.delay_seconds, MAX_DELAY_SECONDS)
        held_back = message.delay_seconds > MAX_DELAY_SECONDS
        assert message.not_before == (1000 + message.delay_seconds if held_back else 0)

    # a worker that gets a message before its time sends it on, and sweeps nothing yet
    resent: list[dict[str, Any]] = []
    service.sqs().meta.events.register(
        "provide-client-params.sqs.SendMessage", lambda params, **_: resent.append(params)
    )
    late = next(e for e in sent if decode_message(e["MessageBody"]).not_before)
    message = decode_message(late["MessageBody"])
    service = dataclasses.replace(service, epoch=lambda: 1000.0 + 900)
    record = {"messageId": "1", "body": late["MessageBody"], "receiptHandle": "r"}
    answer = handle_shard_batch({"Records": [record]}, service)
    assert answer == {"batchItemFailures": []}
    assert [r["MessageBody"] for r in resent] == [late["MessageBody"]]
    assert resent[0]["DelaySeconds"] == min(MAX_DELAY_SECONDS, message.delay_seconds - 900)


def test_without_a_queue_the_schedule_sweeps_every_shard_here_and_posts_the_digest(
    setup: tuple[SweepService, str, list[dict[str, Any]]], org: Org
) -> None:
    service, _, received = setup
    in_process = SweepService(
        **{
            **service.__dict__,
            "settings": SweepSettings(**{**service.settings.__dict__, "queue_url": None}),
            "queue": None,
        }
    )
    swept = sweep_in_process(in_process)

    (digest,) = digests(received)
    assert digest["counts"]["checked"] == len(swept.findings)
    assert any(org.denied in g["reason"] for g in digest["unknown"])
    missing = [f for f in swept.findings if f.name == "gone"]
    assert [(f.status.value, f.account) for f in missing] == [("missing", org.allowed)]


def test_a_message_the_worker_cannot_read_fails_alone(
    setup: tuple[SweepService, str, list[dict[str, Any]]],
) -> None:
    service, queue_url, _ = setup
    sqs = boto3.client("sqs", region_name="eu-west-1")
    enqueue_shards(service, SqsSweepQueue(sqs, queue_url))
    good = drain(queue_url)[0]
    bad = {**good, "messageId": "bad-one", "body": '{"v": 2}'}
    answer = handle_shard_batch({"Records": [bad, good]}, service)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad-one"}]}


def fail_once(client: Any, operation: str) -> None:
    """The next `operation` call on `client` is throttled (as DynamoDB may); later ones pass."""
    calls: list[str] = []

    def throttle(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if calls:
            return None
        calls.append(operation)
        body = {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://dynamodb.eu-west-1.amazonaws.com/", 400, {}, None), body

    client.meta.events.register(f"before-call.dynamodb.{operation}", throttle)


def test_a_last_shard_that_fails_after_claiming_gives_the_claim_back_so_its_retry_posts(
    setup: tuple[SweepService, str, list[dict[str, Any]]],
) -> None:
    service, queue_url, received = setup
    assert isinstance(service.runs, DynamoRunStore)
    fail_once(service.runs._client, "BatchGetItem")  # reading the summaries back fails
    sqs = boto3.client("sqs", region_name="eu-west-1")
    enqueue_shards(service, SqsSweepQueue(sqs, queue_url))
    failed: list[dict[str, Any]] = []
    for record in drain(queue_url):
        answer = handle_shard_batch({"Records": [record]}, service)
        if answer["batchItemFailures"]:
            failed.append(record)
    assert len(failed) == 1 and digests(received) == []
    handle_shard_batch({"Records": failed}, service)  # SQS retries it
    assert len(digests(received)) == 1


def test_one_dead_chat_of_a_routed_pair_does_not_repost_the_digest_to_the_other(
    setup: tuple[SweepService, str, list[dict[str, Any]]],
    webhook: tuple[str, list[dict[str, Any]]],
    down_url: str,
) -> None:
    service, queue_url, received = setup
    live = notifier_for(webhook[0], "json", sleep=lambda _: None)
    dead = notifier_for(down_url, "json", sleep=lambda _: None, max_attempts=1)
    routed = (RoutedNotifier([], default=[live, dead]),)
    service = dataclasses.replace(
        service, delivery=dataclasses.replace(service.delivery, notifiers=routed)
    )
    records = sweep_once(service, queue_url)  # no shard is handed back for retry
    handle_shard_batch({"Records": records}, service)  # SQS redelivers
    assert len(digests(received)) == 1


def test_a_sweep_that_cannot_list_the_organization_says_so_in_chat(
    setup: tuple[SweepService, str, list[dict[str, Any]]],
) -> None:
    service, _, received = setup

    def deny(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = {
            "Error": {"Code": "AccessDeniedException", "Message": "not allowed ListAccounts"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://organizations.us-east-1.amazonaws.com/", 400, {}, None), body

    service.clients.client("organizations").meta.events.register(
        "before-call.organizations.ListAccounts", deny
    )
    settings = dataclasses.replace(service.settings, queue_url=None)
    answer = run_scheduled_sweep(dataclasses.replace(service, settings=settings, queue=None))

    assert "cannot list the organization's accounts" in answer["error"]
    (alert,) = received  # one alert about the sweep, no digest
    assert "sweep" in str(alert) and "unknown" in str(alert)
    assert "AccessDeniedException" in str(alert)


def test_an_event_in_the_dead_letter_queue_is_in_the_sweep_digest(
    setup: tuple[SweepService, str, list[dict[str, Any]]],
) -> None:
    """An event function that gave up on an event: the next digest in chat says so."""
    from tests.sweep.test_dead_letters import on_failure_record

    service, queue_url, received = setup
    sqs = boto3.client("sqs", region_name="eu-west-1")
    events = sqs.create_queue(QueueName="setpoint-events-dlq")["QueueUrl"]
    rules = sqs.create_queue(QueueName="setpoint-rules-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=events, MessageBody=json.dumps(on_failure_record("Task timed out")))
    settings = dataclasses.replace(service.settings, dead_letter_queue_urls=(events, rules))
    sweep_once(dataclasses.replace(service, settings=settings), queue_url)

    (digest,) = digests(received)
    assert digest["dead_letter_total"] == 1
    head, sample = digest["dead_letters"]
    assert head.startswith("setpoint-events-dlq: 1 waiting, oldest sent ")
    assert sample.startswith("setpoint-events-dlq: setpoint-prod-OnEc2Change gave up")
    assert "DeliveryError: Task timed out on AuthorizeSecurityGroupIngress" in sample
    assert "Waiting in dead-letter queues (1):" in digest["text"]
