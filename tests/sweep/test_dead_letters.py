"""What waits in the dead-letter queues, read on moto as the sweep digest reads it.

The messages are shaped as AWS writes them: Lambda's on-failure record (the function's
ARN, the condition, the attempts, the error, the event), an event EventBridge gave up
on (the rule and the error as message attributes), and a sweep shard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.sweep.dead_letters import (
    DeadLetterQueues,
    dead_letter_lines,
    queue_urls,
    read_dead_letters,
)
from chalicelib.sweep.digest import digest_json, merge_digest, render_digest_slack
from chalicelib.sweep.settings import settings_from_env
from chalicelib.sweep.shards import Shard, ShardMessage, encode_message

ROOT = Path(__file__).resolve().parents[2]
RECORD = json.loads(
    (ROOT / "tests/fixtures/cloudtrail/ec2/AuthorizeSecurityGroupIngress__2.json").read_text()
)
WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/abcdefghijklmnopqrstuvwx"


def envelope(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": record["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": record,
    }


def on_failure_record(error: str) -> dict[str, Any]:
    """What Lambda sends to an SQS on-failure destination (its documented shape)."""
    return {
        "version": "1.0",
        "timestamp": "2026-12-03T10:15:05.568Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4a0d-8880-a18cdf61200e",
            "functionArn": (
                "arn:aws:lambda:eu-west-1:123456789012:function:setpoint-prod-OnEc2Change:$LATEST"
            ),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": envelope(RECORD),
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": error,
            "errorType": "DeliveryError",
            "stackTrace": ['  File "/var/task/app.py", line 1'],
        },
    }


def make_queue(name: str) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name="eu-west-1")
    return sqs, sqs.create_queue(QueueName=name)["QueueUrl"]


def waiting(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def test_an_event_a_function_gave_up_on_is_summed_up_scrubbed_and_left_queued(
    aws: None,
) -> None:
    sqs, url = make_queue("setpoint-events-dlq")
    error = f"chat answered 500 for {WEBHOOK} after 3 tries"
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(on_failure_record(error)))

    look = DeadLetterQueues(sqs).look(url)

    assert (look.name, look.count, look.read, look.error) == ("setpoint-events-dlq", 1, 1, None)
    assert look.oldest_sent is not None and look.oldest_sent.endswith("+00:00")
    (sample,) = look.samples
    assert sample.startswith(
        "setpoint-prod-OnEc2Change gave up (RetriesExhausted, 3 attempt(s)): DeliveryError: "
    )
    assert (
        "on AuthorizeSecurityGroupIngress by "
        f"{RECORD['userIdentity']['arn']} (event {RECORD['eventID']})"
    ) in sample
    assert "https://hooks.slack.com/[redacted]" in sample
    assert "abcdefghijklmnopqrstuvwx" not in sample
    assert waiting(sqs, url) == 1  # peeked, not taken


def test_an_event_eventbridge_could_not_deliver_names_its_rule_and_error(aws: None) -> None:
    sqs, url = make_queue("setpoint-rules-dlq")
    attributes = {
        "RULE_ARN": "arn:aws:events:eu-west-1:123456789012:rule/setpoint-prod-OnEc2ChangeEvent-1X",
        "TARGET_ARN": "arn:aws:lambda:eu-west-1:123456789012:function:setpoint-prod-OnEc2Change",
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": "Lambda function is throttled",
    }
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(envelope(RECORD)),
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
        },
    )
    (sample,) = DeadLetterQueues(sqs).look(url).samples
    assert sample.startswith(
        "rule setpoint-prod-OnEc2ChangeEvent-1X could not deliver AuthorizeSecurityGroupIngress"
    )
    assert sample.endswith(": SDK_CLIENT_ERROR: Lambda function is throttled")


def test_a_shard_that_failed_three_times_says_which_one(aws: None) -> None:
    sqs, url = make_queue("setpoint-sweep-dlq")
    shard = Shard("210987654321", "eu-west-1", "security_group", (SECURITY_GROUP,), ())
    body = encode_message(ShardMessage(shard, "run-42", 3, 12))
    sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="\x1b[31mnot json")
    look = DeadLetterQueues(sqs).look(url)
    assert sorted(look.samples) == [
        "a message of 13 bytes that is not a known record",
        "sweep shard 210987654321/eu-west-1/security_group of run run-42 was not swept "
        "(three attempts failed)",
    ]


def test_many_dead_letters_are_counted_and_a_few_quoted(aws: None) -> None:
    sqs, url = make_queue("setpoint-events-dlq")
    for n in range(14):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(on_failure_record(f"boom {n}")))
    look = DeadLetterQueues(sqs, samples=3).look(url)
    assert (look.count, look.read, len(look.samples)) == (14, 10, 3)
    lines, total = dead_letter_lines([look])
    assert total == 14
    assert lines[0].startswith("setpoint-events-dlq: 14 waiting, oldest of 10 read sent ")
    assert len(lines) == 4
    assert waiting(sqs, url) == 14


def test_empty_queues_say_nothing_and_an_unreadable_one_says_why(aws: None) -> None:
    sqs, empty = make_queue("setpoint-rules-dlq")
    missing = "https://sqs.eu-west-1.amazonaws.com/123456789012/setpoint-events-dlq"
    lines, total = read_dead_letters(lambda _: sqs, [empty, missing])
    assert total == 0
    (line,) = lines
    assert line.startswith("setpoint-events-dlq could not be read: SQS refused (")
    assert read_dead_letters(lambda _: sqs, []) == ([], 0)


def test_the_digest_lists_what_waits_in_every_format(aws: None) -> None:
    sqs, url = make_queue("setpoint-events-dlq")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(on_failure_record("<!channel> boom")))
    lines, total = read_dead_letters(lambda _: sqs, [url])
    digest = merge_digest("run-1", [], dead_letters=lines, dead_letter_total=total)

    assert not digest.quiet
    payload = digest_json(digest)
    assert payload["dead_letter_total"] == 1
    assert payload["dead_letters"][0].startswith("setpoint-events-dlq: 1 waiting, oldest sent ")
    assert "Waiting in dead-letter queues (1):" in payload["text"]
    slack = json.dumps(render_digest_slack(digest))
    assert "Waiting in dead-letter queues (1)" in slack
    assert "<!channel>" not in slack  # cloud text cannot ping a channel
    assert merge_digest("run-2", []).quiet


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        (None, ()),
        ("", ()),
        (" https://q/a , ,https://q/b,https://q/a", ("https://q/a", "https://q/b")),
    ],
)
def test_the_queues_come_from_the_environment(value: str | None, urls: tuple[str, ...]) -> None:
    assert queue_urls(value) == urls
    env = {} if value is None else {"SETPOINT_DEAD_LETTER_QUEUE_URLS": value}
    assert settings_from_env(env).dead_letter_queue_urls == urls
