"""`setpoint explain`: the Lambda's event path on one record, from a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli.main import main
from tests.conftest import SAMPLES, authorize_record, make_vpc_with_web


@pytest.fixture
def setup(ec2: Any, tmp_path: Path) -> tuple[Any, dict[str, str], Path]:
    ids = make_vpc_with_web(ec2)
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs)]) == 0
    return ec2, ids, specs


def write(tmp_path: Path, record: dict[str, Any]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(record))
    return str(path)


def test_explain_shows_the_drift_and_who_did_it(
    setup: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = setup
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    capsys.readouterr()
    event = write(tmp_path, authorize_record(ids["web"]))
    assert main(["explain", event, "--specs", str(specs)]) == 1
    out = capsys.readouterr().out
    assert "+ ingress tcp/22 from 0.0.0.0/0 — not in spec" in out
    assert "arn:aws:iam::123456789012:user/alice" in out
    assert "console" in out


def test_explain_json_carries_the_actor(
    setup: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = setup
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    capsys.readouterr()
    event = write(tmp_path, authorize_record(ids["web"]))
    assert main(["explain", event, "--specs", str(specs), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    actor = report["findings"][0]["actor"]
    assert actor["event_name"] == "AuthorizeSecurityGroupIngress"
    assert actor["source_ip"] == "198.51.100.7"
    assert actor["event_id"] == "0b2f6a0c-7c1e-4e0e-9f0a-000000000001"
    assert report["messages"][0]["blocks"]


def test_explain_post_sends_the_same_message_to_the_webhook(
    setup: Any, tmp_path: Path, webhook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = setup
    url, received = webhook
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    event = write(tmp_path, authorize_record(ids["web"]))
    assert main(["explain", event, "--specs", str(specs), "--post", "--chat-url", url]) == 1
    assert len(received) == 1
    assert "tcp/22 from 0.0.0.0/0" in json.dumps(received[0])
    assert "posted 1 message(s)" in capsys.readouterr().out


def test_a_failed_call_from_the_samples_is_skipped_and_exits_0(
    setup: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, specs = setup
    sample = SAMPLES / "ec2" / "AuthorizeSecurityGroupIngress__5.json"
    assert main(["explain", str(sample), "--specs", str(specs)]) == 0
    assert "skipped (failed_call)" in capsys.readouterr().out


def test_junk_event_files_exit_2_with_a_reason(
    setup: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, specs = setup
    path = tmp_path / "junk.json"
    path.write_text('{"Records": [{"eventName": ')
    assert main(["explain", str(path), "--specs", str(specs)]) == 2
    assert "junk.json:1: not valid JSON" in capsys.readouterr().err
    path.write_text('{"detail": "junk"}')
    assert main(["explain", str(path), "--specs", str(specs)]) == 2
    assert "malformed_event" in capsys.readouterr().err


def test_teams_format_posts_an_adaptive_card(
    setup: Any, tmp_path: Path, webhook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = setup
    url, received = webhook
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    event = write(tmp_path, authorize_record(ids["web"]))
    args = ["explain", event, "--specs", str(specs), "--post", "--chat-format", "teams"]
    assert main([*args, "--chat-url", url]) == 1
    (card,) = received
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"


def test_replaying_an_event_with_a_state_table_posts_once(
    setup: Any, tmp_path: Path, webhook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--state` lets a user replay events with the Lambda's dedup: the second replay is quiet."""
    import boto3

    from chalicelib.state import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA

    ec2, ids, specs = setup
    url, received = webhook
    boto3.client("dynamodb", region_name="eu-west-1").create_table(
        TableName="setpoint-state",
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        BillingMode="PAY_PER_REQUEST",
    )
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    event = write(tmp_path, authorize_record(ids["web"]))
    args = ["explain", event, "--specs", str(specs), "--post", "--chat-url", url]
    state = ["--state", "dynamodb://setpoint-state"]
    assert main([*args, *state]) == 1
    assert main([*args, *state]) == 1  # still drifted, but already alerted
    assert len(received) == 1
    assert "already alerted" in capsys.readouterr().out
