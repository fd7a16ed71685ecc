"""The scheduled sweep keeps its report in S3 and the digest links to it (moto, chat_server)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.errors import ConfigError
from chalicelib.notify.delivery import notifier_for
from chalicelib.runtime import spec_provider, sweep_service
from chalicelib.state import DynamoStateStore
from chalicelib.sweep.queue import SqsSweepQueue
from chalicelib.sweep.report_store import ReportStore
from chalicelib.sweep.settings import SweepSettings, settings_from_env
from chalicelib.sweep.worker import SweepService, enqueue_shards, handle_shard_batch
from chalicelib.sweep.worker import sweep_in_process as sweep_here
from tests.runtime_builder import build_runtime
from tests.sweep.conftest import TABLE
from tests.sweep.test_worker import drain

REGION = "us-east-1"
BUCKET = "setpoint-specs-test"


def digests(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in received if r.get("type") == "sweep_digest"]


def keys(prefix: str = "reports/") -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def body(key: str) -> str:
    s3 = boto3.client("s3", region_name=REGION)
    text: str = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")
    return text


def service_for(
    tmp_path: Path,
    chat_url: str,
    settings: SweepSettings,
    state: Any = None,
    ignore: str | None = None,
) -> SweepService:
    clients = ClientCache()
    ec2 = clients.client("ec2", REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    specs = tmp_path / "policies" / "security_groups"
    specs.mkdir(parents=True)
    # the spec wants HTTPS open; the live group has nothing: drift
    (specs / "web.yaml").write_text(
        f"kind: security_group\nname: web\nregion: {REGION}\ndescription: web\n"
        "ingress:\n  - proto: tcp\n    ports: 443\n    cidr: 10.0.0.0/8\n"
    )
    if ignore is not None:
        (tmp_path / "policies" / ".setpointignore").write_text(ignore)
    fields = {"state": state} if state is not None else {}
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(str(tmp_path / "policies"), clients),
        notifiers=[notifier_for(chat_url, "json", sleep=lambda _: None)],
        regions=[REGION],
        **fields,
    )
    return sweep_service(runtime, settings)


def settings(**extra: Any) -> SweepSettings:
    return SweepSettings(regions=(REGION,), report_bucket=BUCKET, report_url_seconds=7200, **extra)


def assert_links_latest(url: str, seconds: int) -> None:
    parsed = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.path.endswith(f"{BUCKET}/reports/latest.html") or (
        BUCKET in parsed.netloc and parsed.path == "/reports/latest.html"
    )
    assert query["X-Amz-Expires"] == [str(seconds)]
    assert "X-Amz-Signature" in query


def test_a_sweep_writes_its_report_with_history_and_the_digest_links_the_latest(
    aws: None, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, received = webhook
    service = service_for(tmp_path, url, settings())

    sweep_here(service)
    sweep_here(service)

    stored = keys()
    history = [k for k in stored if k.startswith("reports/history/")]
    assert "reports/latest.json" in stored and "reports/latest.html" in stored
    assert len(history) == 4  # two runs, each .json and .html, kept side by side
    report = json.loads(body("reports/latest.json"))
    assert report["format_version"] == "1"
    groups = [f for f in report["findings"] if f["kind"] == "security_group"]
    assert [f["name"] for f in groups if f["status"] == "drifted"] == ["web"]
    assert "<h1>Setpoint drift report</h1>" in body("reports/latest.html")
    last = digests(received)[-1]
    assert_links_latest(last["report_url"], 7200)
    assert f"latest report: {last['report_url']}" in last["text"]


def test_the_fanned_out_sweep_gathers_every_shard_into_one_report(
    aws: None,
    webhook: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
    state_table: DynamoStateStore,
) -> None:
    url, received = webhook
    queue = boto3.client("sqs", region_name="eu-west-1").create_queue(QueueName="setpoint-sweep")
    service = service_for(
        tmp_path,
        url,
        settings(window_seconds=0, queue_url=queue["QueueUrl"], state_uri=f"dynamodb://{TABLE}"),
        state=state_table,
    )
    sqs = boto3.client("sqs", region_name="eu-west-1")
    run = enqueue_shards(service, SqsSweepQueue(sqs, queue["QueueUrl"]))
    answer = handle_shard_batch({"Records": drain(queue["QueueUrl"])}, service)
    assert answer == {"batchItemFailures": []}

    parts = [k for k in keys() if k.startswith(f"reports/runs/{run.run_id}/")]
    assert len(parts) == run.shards
    (digest,) = digests(received)
    assert_links_latest(digest["report_url"], 7200)
    report = json.loads(body("reports/latest.json"))
    assert report["summary"]["checked"] == digest["counts"]["checked"]
    assert "web" in {f["name"] for f in report["findings"]}


# the spec bucket is swept like any bucket; this rule skips it (and nothing else)
IGNORE_SPEC_BUCKET = "s3_bucket:setpoint-specs-*\n"


def test_the_report_counts_what_the_rules_ignored_as_check_does(
    aws: None, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, received = webhook
    service = service_for(tmp_path, url, settings(), ignore=IGNORE_SPEC_BUCKET)

    sweep_here(service)

    report = json.loads(body("reports/latest.json"))
    assert (report["summary"]["ignored"], report["summary"]["excepted"]) == (1, 0)
    assert BUCKET not in {f["name"] for f in report["findings"]}
    assert "Silenced: 1 ignored by rule" in body("reports/latest.html")
    assert digests(received)[-1]["counts"]["ignored"] == 1


def test_the_fanned_out_report_sums_the_shards_ignored_counts(
    aws: None,
    webhook: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
    state_table: DynamoStateStore,
) -> None:
    """Each shard's count waits in the state table with its summary until the last one."""
    url, received = webhook
    queue = boto3.client("sqs", region_name="eu-west-1").create_queue(QueueName="setpoint-sweep")
    service = service_for(
        tmp_path,
        url,
        settings(window_seconds=0, queue_url=queue["QueueUrl"], state_uri=f"dynamodb://{TABLE}"),
        state=state_table,
        ignore=IGNORE_SPEC_BUCKET + "security_group:web\n",
    )
    sqs = boto3.client("sqs", region_name="eu-west-1")
    enqueue_shards(service, SqsSweepQueue(sqs, queue["QueueUrl"]))
    assert handle_shard_batch({"Records": drain(queue["QueueUrl"])}, service) == {
        "batchItemFailures": []
    }

    report = json.loads(body("reports/latest.json"))
    assert report["summary"]["ignored"] == 2  # the bucket (not read) and web (listed)
    assert "web" not in {f["name"] for f in report["findings"]}
    (digest,) = digests(received)
    assert digest["counts"]["ignored"] == 2


def test_a_report_that_cannot_be_written_is_named_in_the_digest_which_still_posts(
    aws: None, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    url, received = webhook
    service = service_for(tmp_path, url, settings())
    assert service.reports is not None
    service.reports = ReportStore(service.reports._s3, "no-such-bucket-here")

    sweep_here(service)

    (digest,) = digests(received)
    assert digest["report_url"] is None
    assert "s3://no-such-bucket-here/reports/" in digest["report_error"]
    assert "NoSuchBucket" in digest["text"]


def test_the_lambda_keeps_reports_in_the_spec_bucket_unless_told_otherwise() -> None:
    specs = {"SETPOINT_SPECS": "policies,s3://acme-specs/policies"}
    assert settings_from_env(specs).report_bucket == "acme-specs"
    assert settings_from_env(specs).report_prefix == "reports/"
    assert settings_from_env(specs).report_url_seconds == 24 * 3600
    configured = {
        **specs,
        "SETPOINT_REPORT_BUCKET": "acme-reports",
        "SETPOINT_REPORT_PREFIX": "drift/",
        "SETPOINT_REPORT_URL_SECONDS": "600",
    }
    chosen = settings_from_env(configured)
    assert (chosen.report_bucket, chosen.report_prefix, chosen.report_url_seconds) == (
        "acme-reports",
        "drift/",
        600,
    )
    assert settings_from_env({"SETPOINT_SPECS": "policies"}).report_bucket is None
    with pytest.raises(ConfigError, match="SETPOINT_REPORT_URL_SECONDS=999999 is outside"):
        settings_from_env({**specs, "SETPOINT_REPORT_URL_SECONDS": "999999"})


def test_every_later_report_still_shows_who_made_open_drift_and_since_when(
    aws: None, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """alice opens SSH (an event names her); the hourly sweeps that follow find the same
    drift, which no event of theirs explains: each report must still name her and say
    since when it is off spec, oldest first, not only the first report after the change."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.handlers import handle_cloudtrail_event
    from tests.conftest import authorize_record

    url, _received = webhook
    now = [datetime(2026, 12, 4, 9, 0, tzinfo=UTC)]
    service_for(tmp_path, url, settings())  # the estate and its spec
    clients = ClientCache()
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(str(tmp_path / "policies"), clients),
        notifiers=[notifier_for(url, "json", sleep=lambda _: None)],
        regions=[REGION],
        clock=lambda: now[0],
    )
    service = sweep_service(runtime, settings())
    ec2 = boto3.client("ec2", region_name=REGION)
    (web,) = ec2.describe_security_groups(GroupNames=["web"])["SecurityGroups"]
    ec2.authorize_security_group_ingress(
        GroupId=web["GroupId"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    handle_cloudtrail_event({**authorize_record(web["GroupId"]), "awsRegion": REGION}, runtime)
    for hours in (1, 2):
        now[0] = datetime(2026, 12, 4, 9, 0, tzinfo=UTC) + timedelta(hours=hours)
        sweep_here(service)
        report = json.loads(body("reports/latest.json"))
        (finding,) = [f for f in report["findings"] if f.get("name") == "web"]
        assert finding["actor"]["arn"] == "arn:aws:iam::123456789012:user/alice", hours
        assert finding["first_seen"] == "2026-12-04T09:00:00+00:00", hours
        page = body("reports/latest.html")
        assert "by arn:aws:iam::123456789012:user/alice" in page
        assert (
            f"off spec since 2026-12-04T09:00:00+00:00 (first seen by Setpoint, {hours} hour"
            in (page)
        )
