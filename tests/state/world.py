"""A small estate for event-path tests: moto resources, specs, a runtime.

Events are built the way CloudTrail would deliver them (the demo's envelope), resources
are changed for real in moto first, and chat is the shared fake chat server
(`chat_server`, tests/chat_server.py), so a test sees what a user would: the messages
that arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.aws import ClientCache
from chalicelib.cli.demo import cloudtrail_envelope
from chalicelib.model import Actor, ResourceRef
from chalicelib.notify.delivery import notifier_for
from chalicelib.pipeline import Pipeline
from chalicelib.runtime import RecheckQueue, Runtime
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import load_documents
from chalicelib.state import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA, StateStore
from tests.conftest import REGION
from tests.runtime_builder import build_runtime

ACCOUNT = "123456789012"  # moto's default account
TABLE = "setpoint-state-test"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """The runtime's clock, moved by the test (no sleeping)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def specs(*documents: tuple[str, str]) -> SpecCatalog:
    """Specs from (path, YAML) pairs."""
    return load_documents(list(documents))


def make_runtime(
    chat_url: str,
    catalog: SpecCatalog,
    *,
    state: StateStore | None = None,
    recheck: RecheckQueue | None = None,
    clock: Clock | None = None,
    pipeline: Pipeline | None = None,
    clients: ClientCache | None = None,
) -> Runtime:
    runtime = build_runtime(
        clients=clients,
        pipeline=pipeline,
        specs=lambda: catalog,
        # no waiting between attempts, and one attempt: a failure is the test's to see
        notifiers=[notifier_for(chat_url, "json", sleep=lambda _: None, max_attempts=1)],
        regions=[REGION],
        account=ACCOUNT,
        recheck=recheck,
        clock=clock or Clock(),
    )
    if state is not None:
        runtime.state = state
    return runtime


def state_table() -> Any:
    """The state table as the deployment creates it (key `pk`, TTL `expires_at`)."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def ec2_event(
    name: str, request: dict[str, Any], response: dict[str, Any] | None = None
) -> dict[str, Any]:
    return cloudtrail_envelope(name, "ec2.amazonaws.com", request, "alice", response)


def s3_event(name: str, bucket: str) -> dict[str, Any]:
    request = {"bucketName": bucket, "Host": f"{bucket}.s3.{REGION}.amazonaws.com"}
    return cloudtrail_envelope(name, "s3.amazonaws.com", request, "alice")


def iam_event(
    name: str, request: dict[str, Any], response: dict[str, Any] | None = None
) -> dict[str, Any]:
    return cloudtrail_envelope(name, "iam.amazonaws.com", request, "alice", response, "us-east-1")


def authorize(group_id: str, port: int, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    """AuthorizeSecurityGroupIngress as CloudTrail logs it."""
    return ec2_event(
        "AuthorizeSecurityGroupIngress",
        {
            "groupId": group_id,
            "ipPermissions": {
                "items": [
                    {
                        "ipProtocol": "tcp",
                        "fromPort": port,
                        "toPort": port,
                        "ipRanges": {"items": [{"cidrIp": cidr}]},
                    }
                ]
            },
        },
        {"_return": True},
    )


class RecordingQueue:
    """The real SQS queue, minus the wait: remembers the delay asked for and sends with
    none, so the test can receive the message now instead of sleeping through it."""

    def __init__(self, queue: RecheckQueue) -> None:
        self.queue = queue
        self.delays: list[int] = []

    def schedule(
        self, refs: Sequence[ResourceRef], actor: Actor | None, delay_seconds: int
    ) -> None:
        self.delays.append(delay_seconds)
        self.queue.schedule(refs, actor, 0)


def sqs_records(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every visible message, shaped as Lambda's SQS event records."""
    records: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        messages = got.get("Messages", [])
        if not messages:
            return records
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:setpoint-recheck",
                    "awsRegion": REGION,
                }
            )
