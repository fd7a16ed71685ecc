from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.notify.alert_message import render_alert_text
from chalicelib.notify.sns import SnsNotifier, sns_subject
from tests.notify.alert_samples import BACK, NEW
from tests.report.samples import DRIFTED

REGION = "eu-west-1"


@pytest.fixture
def sns(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("sns", region_name=REGION)


def _subscribe(sns, topic_arn: str) -> str:
    """An SQS queue subscribed to the topic: it sees the envelope a subscriber gets."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=topic_arn.rsplit(":", 1)[1] + "-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
    return str(url)


def _published(queue_url: str) -> list[dict[str, str]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    envelopes = [json.loads(m["Body"]) for m in messages]
    return [{"subject": e.get("Subject"), "message": e["Message"]} for e in envelopes]


def test_publishes_the_text_with_a_short_subject(sns):
    topic = sns.create_topic(Name="drift")["TopicArn"]
    queue = _subscribe(sns, topic)
    ref = SnsNotifier(sns, topic).post_alert(BACK)
    assert ref.notifier == "sns:drift" and len(ref.ref) == 32
    (sent,) = _published(queue)
    assert sent["message"] == render_alert_text(BACK, ref=ref.ref)
    assert "re: alert a1b2c3" in sent["message"]
    assert len(sent["subject"]) <= 100
    assert sent["subject"].startswith("Back to normal: security group jenkins (sg-0abc)")
    assert sent["subject"].endswith("...")
    assert sent["subject"].isascii() and "\n" not in sent["subject"]


def test_send_keeps_the_old_api(sns):
    topic = sns.create_topic(Name="drift")["TopicArn"]
    queue = _subscribe(sns, topic)
    SnsNotifier(sns, topic).send(DRIFTED)
    (sent,) = _published(queue)
    assert sent["subject"] == "Drift: security group jenkins (sg-0abc) departs from its spec"
    assert sent["message"].startswith(sent["subject"] + "\nResource:")


def test_chatbot_mode_sends_a_custom_notification_threaded_by_the_first_alert(sns):
    topic = sns.create_topic(Name="chatbot")["TopicArn"]
    queue = _subscribe(sns, topic)
    notifier = SnsNotifier(sns, topic, chatbot=True)
    first = notifier.post_alert(NEW)
    notifier.post_alert(replace(BACK, thread=(first,)))
    sent = sorted(
        (json.loads(s["message"]) for s in _published(queue)), key=lambda m: m["id"] != first.ref
    )
    new, back = sent
    assert new["version"] == "1.0" and new["source"] == "custom"
    assert new["content"]["textType"] == "client-markdown"
    assert new["content"]["title"].startswith("Drift: security group jenkins")
    assert new["metadata"]["threadId"] == first.ref == new["id"]
    assert back["metadata"]["threadId"] == first.ref
    assert back["metadata"]["eventType"] == "back_to_normal"


def test_subject_is_ascii_one_line_and_short():
    subject = sns_subject("Drift: “caf\u00e9” — <x>\nnext line " + "y" * 200)
    assert subject.startswith('Drift: "cafe" - <x> next line yyy')
    assert len(subject) <= 99 and subject.isascii() and subject.endswith("...")
    assert sns_subject("\u2603") == "Setpoint alert"


def test_a_missing_topic_is_a_delivery_error_naming_it(sns):
    arn = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:nope"
    with pytest.raises(DeliveryError, match=r"arn:aws:sns:eu-west-1:\d+:nope: NotFound"):
        SnsNotifier(sns, arn).post_alert(NEW)


def test_a_topic_must_be_an_arn(sns):
    with pytest.raises(ConfigError):
        SnsNotifier(sns, "drift")
