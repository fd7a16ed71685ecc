"""The Lambda handlers as deployed: chalice.test.Client, specs in S3, webhook URL in SSM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from aws_lambda_powertools.utilities import parameters
from chalice.test import Client

import app as lambda_app
from chalicelib.errors import DeliveryError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.collector import SecurityGroupCollector
from chalicelib.kinds.security_group.writer import render_security_group_spec
from chalicelib.model import ResourceRef
from chalicelib.recheck import encode_message
from chalicelib.state import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA
from chalicelib.sweep import shards as sweep_shards
from tests.chat_server import ChatServer, Reply
from tests.conftest import REGION, authorize_record, make_vpc_with_web
from tests.sleeps import Sleeps

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sleeps() -> Sleeps:
    """The waits between chat retries the handlers' own notifiers ask for, not waited."""
    return Sleeps()


@pytest.fixture
def deployed(aws: None, webhook: tuple[str, list[dict[str, Any]]], sleeps: Sleeps) -> Any:
    """What `chalice deploy --stage dev` expects to find: the spec bucket and the SSM secret."""
    url, received = webhook
    ec2 = boto3.client("ec2", region_name=REGION)
    ids = make_vpc_with_web(ec2)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="setpoint-specs-dev")
    # as the merge template creates it: spec changes are told apart from their previous version
    s3.put_bucket_versioning(
        Bucket="setpoint-specs-dev", VersioningConfiguration={"Status": "Enabled"}
    )
    for state in SecurityGroupCollector(lambda r: ec2).list_region(REGION):
        if state.name == "web":
            body = render_security_group_spec(state, group_names=state.peer_names)
            s3.put_object(Bucket="setpoint-specs-dev", Key="policies/web.yaml", Body=body.encode())
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/setpoint/dev/chat-webhook-url", Value=url, Type="SecureString"
    )
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="setpoint-state-dev",
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        BillingMode="PAY_PER_REQUEST",
    )
    parameters.clear_caches()  # Powertools caches the webhook URL for 5 minutes per process
    lambda_app.use_waits(sleep=sleeps)  # retries back off without really waiting
    with Client(lambda_app.app, stage_name="dev", project_dir=str(PROJECT)) as client:
        yield client, ids, received
    lambda_app.use_waits()


def _envelope(client: Client, detail: dict[str, Any]) -> Any:
    return client.events.generate_cw_event(
        source="aws.ec2",
        detail_type="AWS API Call via CloudTrail",
        detail=detail,
        resources=[],
        region=REGION,
    )


def test_port_22_opened_by_hand_posts_one_slack_alert(deployed: Any) -> None:
    client, ids, received = deployed
    boto3.client("ec2", region_name=REGION).authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    result = client.lambda_.invoke("on_ec2_change", _envelope(client, authorize_record(ids["web"])))
    assert result.payload["findings"] == [
        {"kind": "security_group", "id": ids["web"], "status": "drifted", "changes": 1}
    ]
    assert len(received) == 1
    message = received[0]
    assert "Drift" in message["text"] and "web" in message["text"]
    blocks = str(message["blocks"])
    assert "tcp/22 from 0.0.0.0/0" in blocks
    assert "arn:aws:iam::123456789012:user/alice" in blocks
    assert "policies/web.yaml" in blocks


def test_a_real_stoplogging_record_reaches_on_guard_change_once(deployed: Any) -> None:
    client, _, received = deployed
    region = "us-west-2"  # where the published record was made
    boto3.client("s3", region_name=region).create_bucket(
        Bucket="example-trail-logs", CreateBucketConfiguration={"LocationConstraint": region}
    )
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    cloudtrail.create_trail(
        Name="example-trail", S3BucketName="example-trail-logs", IsMultiRegionTrail=True
    )
    cloudtrail.stop_logging(Name="example-trail")
    record = json.loads(
        (PROJECT / "tests/fixtures/cloudtrail/cloudtrail/StopLogging__2.json").read_text()
    )
    event = client.events.generate_cw_event(
        source="aws.cloudtrail",
        detail_type="AWS API Call via CloudTrail",
        detail=record,
        resources=[],
        region=region,
    )
    result = client.lambda_.invoke("on_guard_change", event)
    assert [(f["kind"], f["status"]) for f in result.payload["findings"]] == [("guard", "drifted")]
    # EventBridge delivers it again: the same event id is one alert, however critical
    client.lambda_.invoke("on_guard_change", event)
    (message,) = received
    assert message["text"].startswith("Critical: Drift: Setpoint guard example-trail")
    assert "assumed-role/tester" in str(message["blocks"])


def test_an_event_that_changes_nothing_posts_nothing(deployed: Any) -> None:
    client, ids, received = deployed
    record = authorize_record(ids["web"], cidr="0.0.0.0/0", port=443)
    result = client.lambda_.invoke("on_ec2_change", _envelope(client, record))
    assert result.payload["findings"][0]["status"] == "in_sync"
    assert received == []


def test_a_failed_call_is_skipped_with_its_reason(deployed: Any) -> None:
    client, ids, received = deployed
    record = authorize_record(ids["web"]) | {"errorCode": "UnauthorizedOperation"}
    result = client.lambda_.invoke("on_ec2_change", _envelope(client, record))
    assert result.payload["skipped"][0]["reason"] == "failed_call"
    assert received == []


def test_a_malformed_event_is_a_classified_error_not_a_crash(deployed: Any) -> None:
    client, _, received = deployed
    event = _envelope(client, {"eventName": 42})
    result = client.lambda_.invoke("on_ec2_change", event)
    assert result.payload["errors"] and result.payload["errors"][0].startswith("malformed_event")
    assert received == []


def test_the_scheduled_sweep_reports_drift(deployed: Any) -> None:
    client, ids, received = deployed
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=3389, ToPort=3389, CidrIp="0.0.0.0/0"
    )
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region=REGION
    )
    result = client.lambda_.invoke("sweep", event)
    assert result.payload["problems"] >= 1
    texts = [m["text"] for m in received]
    assert any("web" in t and "Drift" in t for t in texts)


def test_the_event_rule_watches_every_security_group_call() -> None:
    names = set(lambda_app.CHANGES["security_group"]["detail"]["eventName"])
    assert {
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
        "UpdateSecurityGroupRuleDescriptionsIngress",
        "CreateSecurityGroup",
        "DeleteSecurityGroup",
        "CreateTags",
        "DeleteTags",
    } <= names


def test_chat_down_fails_the_invocation_so_lambda_retries_and_logs_the_finding(
    deployed: Any, down_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, ids, _ = deployed
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/setpoint/dev/chat-webhook-url",
        Value=down_url,
        Type="SecureString",
        Overwrite=True,
    )
    parameters.clear_caches()
    boto3.client("ec2", region_name=REGION).authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1"):
        client.lambda_.invoke("on_ec2_change", _envelope(client, authorize_record(ids["web"])))
    failed = [r for r in caplog.records if r.getMessage() == "delivery_failed"]
    assert failed and getattr(failed[0], "finding_id", None) == ids["web"]
    assert "services/dead" not in caplog.text  # the webhook path is a secret


@pytest.mark.parametrize("detail", [None, "junk", ["a"]])
def test_an_envelope_whose_detail_is_not_an_object_is_classified(
    deployed: Any, detail: Any
) -> None:
    client, _, received = deployed
    event = _envelope(client, {})
    event["detail"] = detail  # what a broken forwarder could send
    result = client.lambda_.invoke("on_ec2_change", event)
    assert result.payload["errors"][0].startswith("malformed_event")
    assert received == []


def test_a_broken_spec_bundle_is_reported_by_the_sweep_not_swallowed(deployed: Any) -> None:
    client, _, received = deployed
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket="setpoint-specs-dev",
        Key="policies/bad.yaml",
        Body=b"kind: security_group\nname: [\n",
    )
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region=REGION
    )
    result = client.lambda_.invoke("sweep", event)
    assert result.payload["problems"] == 1
    alert, digest = received  # one alert about the specs (not one per shard), then the digest
    assert "specs could not be loaded" in alert["text"]
    assert "policies/bad.yaml" in alert["text"]
    assert digest["text"].startswith("Setpoint sweep: 1 checked") and "1 unknown" in digest["text"]


def test_s3_and_iam_rules_watch_their_sources() -> None:
    assert lambda_app.CHANGES["s3_bucket"]["source"] == ["aws.s3"]
    assert "PutBucketPolicy" in lambda_app.CHANGES["s3_bucket"]["detail"]["eventName"]
    assert lambda_app.CHANGES["iam"]["source"] == ["aws.iam"]
    assert "AttachRolePolicy" in lambda_app.CHANGES["iam"]["detail"]["eventName"]


def _open_ssh(ids: dict[str, str]) -> None:
    boto3.client("ec2", region_name=REGION).authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )


def test_the_same_record_delivered_twice_alerts_once(deployed: Any) -> None:
    client, ids, received = deployed
    _open_ssh(ids)
    event = _envelope(client, authorize_record(ids["web"]))
    first = client.lambda_.invoke("on_ec2_change", event)
    second = client.lambda_.invoke("on_ec2_change", event)
    assert len(received) == 1
    assert [a["kind"] for a in first.payload["alerts"]] == ["new"]
    # the same eventID is not even re-read: Powertools Idempotency on the state table
    assert second.payload["alerts"] == [] and second.payload["findings"] == []
    assert [s["reason"] for s in second.payload["skipped"]] == ["duplicate"]


def test_another_event_on_the_same_drift_is_deduplicated_by_state(deployed: Any) -> None:
    client, ids, received = deployed
    _open_ssh(ids)
    client.lambda_.invoke("on_ec2_change", _envelope(client, authorize_record(ids["web"])))
    other = authorize_record(ids["web"]) | {"eventID": "another-call-same-drift"}
    second = client.lambda_.invoke("on_ec2_change", _envelope(client, other))
    assert len(received) == 1
    assert second.payload["alerts"] == [] and second.payload["deduplicated"] == 1


def test_a_burst_of_fifty_events_on_one_group_gives_one_alert(deployed: Any) -> None:
    client, ids, received = deployed
    _open_ssh(ids)
    for n in range(50):
        record = authorize_record(ids["web"]) | {"eventID": f"burst-{n:02d}"}
        client.lambda_.invoke("on_ec2_change", _envelope(client, record))
    assert len(received) == 1


def test_the_fix_posts_back_to_normal_citing_the_alert(deployed: Any) -> None:
    client, ids, received = deployed
    _open_ssh(ids)
    client.lambda_.invoke("on_ec2_change", _envelope(client, authorize_record(ids["web"])))
    boto3.client("ec2", region_name=REGION).revoke_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    revoke = authorize_record(ids["web"]) | {
        "eventName": "RevokeSecurityGroupIngress",
        "eventID": "fix-1",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/bob"},
    }
    result = client.lambda_.invoke("on_ec2_change", _envelope(client, revoke))
    assert [a["kind"] for a in result.payload["alerts"]] == ["back_to_normal"]
    assert len(received) == 2
    assert received[1]["text"].startswith("Back to normal")
    assert "user/bob" in received[1]["text"]


def test_a_flaky_chat_gets_the_alert_exactly_once(
    deployed: Any, chat_server: ChatServer, sleeps: Sleeps
) -> None:
    """500, then 429 with Retry-After, then 200: one alert delivered, none duplicated."""
    client, ids, received = deployed
    chat_server.script = [Reply(500), Reply(429, headers={"Retry-After": "1"})]
    _open_ssh(ids)
    event = _envelope(client, authorize_record(ids["web"]))
    client.lambda_.invoke("on_ec2_change", event)
    client.lambda_.invoke("on_ec2_change", event)  # EventBridge retrying: still one alert
    assert len(received) == 1
    assert chat_server.attempts == 3  # exactly three attempts for the one alert
    # backoff after the 500 (half to all of 0.5 s), then the 1 s Retry-After asked for
    assert len(sleeps) == 2 and 0.25 <= sleeps[0] <= 0.5 and sleeps[1] == 1.0


def test_each_event_writes_emf_metrics(deployed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    client, ids, _ = deployed
    _open_ssh(ids)
    event = _envelope(client, authorize_record(ids["web"]))
    client.lambda_.invoke("on_ec2_change", event)
    other = authorize_record(ids["web"]) | {"eventID": "another-call-same-drift"}
    client.lambda_.invoke("on_ec2_change", _envelope(client, other))
    client.lambda_.invoke("on_ec2_change", event)  # a duplicate delivery of the first
    emf = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"_aws"' in line
    ]
    values = [
        {k: m.get(k) for k in ("DriftsFound", "AlertsSent", "AlertsDeduplicated")} for m in emf
    ]
    assert values[0] == {"DriftsFound": [1.0], "AlertsSent": [1.0], "AlertsDeduplicated": [0.0]}
    assert values[1] == {"DriftsFound": [1.0], "AlertsSent": [0.0], "AlertsDeduplicated": [1.0]}
    assert values[2] == {"DriftsFound": [0.0], "AlertsSent": [0.0], "AlertsDeduplicated": [0.0]}
    assert emf[2]["EventsSkipped_duplicate"] == [1.0]


def _spec_pushed(client: Client, version_id: str, key: str = "policies/web.yaml") -> Any:
    """What S3 sends EventBridge when a spec object is written (see tests/fixtures)."""
    return client.events.generate_cw_event(
        source="aws.s3",
        detail_type="Object Created",
        detail={
            "version": "0",
            "bucket": {"name": "setpoint-specs-dev"},
            "object": {"key": key, "version-id": version_id},
            "reason": "PutObject",
        },
        resources=["arn:aws:s3:::setpoint-specs-dev"],
        region=REGION,
    )


def test_a_spec_change_the_cloud_lacks_is_pending_apply_then_applied(deployed: Any) -> None:
    client, ids, received = deployed
    s3 = boto3.client("s3", region_name="us-east-1")
    spec = yaml.safe_load(
        s3.get_object(Bucket="setpoint-specs-dev", Key="policies/web.yaml")["Body"].read()
    )
    spec["ingress"].append({"proto": "tcp", "ports": 8443, "cidr": "10.0.0.0/8"})
    version = s3.put_object(
        Bucket="setpoint-specs-dev", Key="policies/web.yaml", Body=yaml.safe_dump(spec).encode()
    )["VersionId"]

    pushed = client.lambda_.invoke("on_spec_change", _spec_pushed(client, version))
    assert [a["kind"] for a in pushed.payload["alerts"]] == ["pending_apply"]
    assert len(received) == 1 and received[0]["text"].startswith("Pending apply")
    assert "8443" in str(received[0]["blocks"])

    boto3.client("ec2", region_name=REGION).authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=8443, ToPort=8443, CidrIp="10.0.0.0/8"
    )
    applied = client.lambda_.invoke(
        "on_ec2_change",
        _envelope(client, authorize_record(ids["web"], cidr="10.0.0.0/8", port=8443)),
    )
    assert [a["kind"] for a in applied.payload["alerts"]] == ["applied"]
    assert len(received) == 2 and received[1]["text"].startswith("Applied")


def test_a_write_outside_the_spec_prefix_is_skipped(deployed: Any) -> None:
    client, _, received = deployed
    s3 = boto3.client("s3", region_name="us-east-1")
    version = s3.put_object(Bucket="setpoint-specs-dev", Key="notes/readme.txt", Body=b"hi")
    result = client.lambda_.invoke(
        "on_spec_change", _spec_pushed(client, version["VersionId"], key="notes/readme.txt")
    )
    assert result.payload["alerts"] == [] and result.payload["skipped"]
    assert received == []


def test_chat_down_parks_the_alert_in_the_outbox_until_it_recovers(
    deployed: Any, down_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, ids, received = deployed
    sqs = boto3.client("sqs", region_name=REGION)
    outbox = sqs.create_queue(QueueName="setpoint-outbox")["QueueUrl"]
    monkeypatch.setenv("SETPOINT_OUTBOX_QUEUE_URL", outbox)
    ssm = boto3.client("ssm", region_name=REGION)
    live_url = ssm.get_parameter(Name="/setpoint/dev/chat-webhook-url", WithDecryption=True)
    ssm.put_parameter(
        Name="/setpoint/dev/chat-webhook-url",
        Value=down_url,
        Type="SecureString",
        Overwrite=True,
    )
    parameters.clear_caches()
    lambda_app.reset_runtime()
    _open_ssh(ids)

    event = client.lambda_.invoke(
        "on_ec2_change", _envelope(client, authorize_record(ids["web"]))
    )  # does not raise: the alert waits in the outbox instead of failing the event
    assert event.payload["outboxed"] == 1 and received == []

    ssm.put_parameter(
        Name="/setpoint/dev/chat-webhook-url",
        Value=live_url["Parameter"]["Value"],
        Type="SecureString",
        Overwrite=True,
    )
    parameters.clear_caches()
    lambda_app.reset_runtime()  # the outbox function runs in its own container
    (message,) = sqs.receive_message(QueueUrl=outbox, MaxNumberOfMessages=10)["Messages"]
    batch = client.events.generate_sqs_event(
        message_bodies=[message["Body"]], queue_name="setpoint-outbox"
    )
    result = client.lambda_.invoke("on_outbox", batch)
    assert result.payload == {"batchItemFailures": []}
    assert len(received) == 1 and "web" in received[0]["text"]
    other = authorize_record(ids["web"]) | {"eventID": "another-call-same-drift"}
    again = client.lambda_.invoke("on_ec2_change", _envelope(client, other))
    assert again.payload["deduplicated"] == 1 and len(received) == 1


def test_a_recheck_message_reads_again_and_alerts_what_is_still_off(deployed: Any) -> None:
    client, ids, received = deployed
    _open_ssh(ids)  # changed after the first read saw nothing: the re-check must see it
    ref = ResourceRef(SECURITY_GROUP, "123456789012", REGION, ids["web"])
    bodies = [encode_message([ref], None), "not json"]
    batch = client.events.generate_sqs_event(message_bodies=bodies, queue_name="setpoint-recheck")
    result = client.lambda_.invoke("on_recheck", batch)
    assert result.payload == {"batchItemFailures": []}  # a malformed message is not retried
    assert len(received) == 1 and "tcp/22 from 0.0.0.0/0" in str(received[0]["blocks"])


def test_a_fanned_out_sweep_reads_every_shard_and_posts_one_digest(
    deployed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, ids, received = deployed
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="setpoint-sweep")["QueueUrl"]
    monkeypatch.setenv("SETPOINT_SWEEP_QUEUE_URL", queue)
    # the stage spreads shards over 600 s (SQS DelaySeconds); a test cannot wait for that
    monkeypatch.setattr(sweep_shards, "stable_delay", lambda shard_id, window: 0)
    lambda_app.reset_runtime()
    boto3.client("ec2", region_name=REGION).authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=3389, ToPort=3389, CidrIp="0.0.0.0/0"
    )
    tick = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region=REGION
    )
    enqueued = client.lambda_.invoke("sweep", tick).payload
    assert received == []  # the schedule only enqueues
    bodies: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        bodies += [m["Body"] for m in batch]
    assert len(bodies) == enqueued["sent"] >= 3  # security groups per region, S3, IAM
    for body in bodies:
        shard = client.events.generate_sqs_event(message_bodies=[body], queue_name="setpoint-sweep")
        assert client.lambda_.invoke("on_sweep_shard", shard).payload == {"batchItemFailures": []}
    texts = [m["text"] for m in received]
    assert sum(t.startswith("Setpoint sweep:") for t in texts) == 1  # after the last shard
    assert any("web" in t and "Drift" in t for t in texts)
