"""Every notifier posts a sweep digest itself, in its own chat's shape (`post_digest`)."""

from __future__ import annotations

import io
import json

import boto3
import pytest

from chalicelib.errors import DeliveryError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Finding, Status
from chalicelib.notify.delivery import ConsoleNotifier, notifier_for
from chalicelib.notify.slack_bot import SlackBotNotifier
from chalicelib.notify.sns import SnsNotifier
from chalicelib.ports import Notifier
from chalicelib.sweep.digest import (
    digest_headline,
    digest_json,
    merge_digest,
    render_digest_slack,
    render_digest_teams,
    render_digest_text,
    summarize,
)
from tests.chat_server import ChatServer, Reply
from tests.conftest import REGION
from tests.sleeps import Sleeps

DRIFT = Finding(SECURITY_GROUP, "sg-1", "web", "111111111111", "eu-west-1", Status.DRIFTED)
DIGEST = merge_digest("run-1", [summarize("s", [DRIFT], [], lambda _: "2026-11-01T00:00:00")])


@pytest.mark.parametrize(
    ("fmt", "render"),
    [("slack", render_digest_slack), ("json", digest_json), ("teams", render_digest_teams)],
)
def test_a_webhook_posts_the_digest_rendered_for_its_chat(
    server: ChatServer, fmt: str, render: object
) -> None:
    notifier: Notifier = notifier_for(f"{server.base}/hook", fmt, sleep=Sleeps())
    notifier.post_digest(DIGEST)
    assert callable(render) and server.bodies() == [json.loads(json.dumps(render(DIGEST)))]


def test_a_webhook_retries_the_digest_as_it_retries_alerts(server: ChatServer) -> None:
    server.script = [Reply(503), Reply(200)]
    sleeps = Sleeps()
    notifier_for(f"{server.base}/hook", "json", sleep=sleeps).post_digest(DIGEST)
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_the_slack_bot_posts_the_digest_to_its_channel(server: ChatServer) -> None:
    server.default = lambda _: {"ok": True, "channel": "C0123", "ts": "1714557600.000001"}
    bot = SlackBotNotifier("xoxb-1-2-t", "C0123", api_base=f"{server.base}/api", sleep=Sleeps())
    bot.post_digest(DIGEST)
    (request,) = server.requests
    assert request["path"] == "/api/chat.postMessage"
    assert request["body"] == {**render_digest_slack(DIGEST), "channel": "C0123"}


def test_the_slack_bot_says_when_slack_refuses_the_digest(server: ChatServer) -> None:
    server.default = lambda _: {"ok": False, "error": "channel_not_found"}
    bot = SlackBotNotifier("xoxb-1-2-t", "C0123", api_base=f"{server.base}/api", sleep=Sleeps())
    with pytest.raises(DeliveryError, match="channel_not_found"):
        bot.post_digest(DIGEST)


def test_the_console_prints_the_digest_text() -> None:
    stream = io.StringIO()
    ConsoleNotifier(stream).post_digest(DIGEST)
    assert stream.getvalue() == render_digest_text(DIGEST) + "\n\n"


def test_sns_publishes_the_digest_text_under_its_headline(aws: None) -> None:
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="drift")["TopicArn"]
    queue = sqs.create_queue(QueueName="drift-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    SnsNotifier(sns, topic).post_digest(DIGEST)
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Message"] == render_digest_text(DIGEST)
    assert envelope["Subject"] == digest_headline(DIGEST)


def test_sns_names_the_topic_it_could_not_publish_the_digest_to(aws: None) -> None:
    sns = boto3.client("sns", region_name=REGION)
    missing = f"arn:aws:sns:{REGION}:123456789012:nowhere"
    with pytest.raises(DeliveryError, match="nowhere"):
        SnsNotifier(sns, missing).post_digest(DIGEST)
