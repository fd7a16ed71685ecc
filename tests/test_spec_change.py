"""A spec push, end to end on moto: drift it reveals is "pending apply", never "unapproved".

Real collaborators: a versioned S3 bucket holding the bundle (or one YAML per object), EC2
groups, the Lambda's pipeline, in-memory alert state, and chat (a local webhook, or a
notifier that keeps the alerts it was given).
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.alerting import EventOutcome
from chalicelib.aws import ClientCache
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import GUARD, Status
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.alert_message import alert_headline
from chalicelib.notify.delivery import notifier_for
from chalicelib.ports import Notifier
from chalicelib.runtime import Runtime, spec_provider
from chalicelib.spec_change import handle_spec_change, spec_event_pattern
from chalicelib.specs.s3_source import S3SpecProvider
from chalicelib.state import MemoryStateStore
from chalicelib.state.record import record_key
from chalicelib.sweep.digest import Digest
from tests.conftest import REGION, authorize_record
from tests.runtime_builder import build_runtime

ACCOUNT = "123456789012"
BUCKET = f"setpoint-specs-{ACCOUNT}-dev"
BUNDLE_KEY = "setpoint/specs.json"
WEB_PATH = "policies/security_groups/web.yaml"
DB_PATH = "policies/security_groups/db.yaml"
EVENT = json.loads((Path(__file__).parent / "fixtures" / "s3_object_created.json").read_text())


class Recorder:
    """A notifier that keeps what it was asked to post."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    name = "recorder"

    def post_alert(self, alert: Alert) -> MessageRef:
        self.alerts.append(alert)
        return MessageRef("recorder", f"m{len(self.alerts)}")

    def post_digest(self, digest: Digest) -> None:
        raise AssertionError("a spec change posts no digest")

    def kinds(self) -> list[AlertKind]:
        return [a.kind for a in self.alerts]


def web_spec(vpc: str, *, ssh: bool) -> str:
    text = f"""kind: security_group
name: web
vpc_id: {vpc}
region: {REGION}
description: Public web
ingress:
  - proto: tcp
    ports: 443
    cidr: 0.0.0.0/0
"""
    if ssh:
        text += "  - proto: tcp\n    ports: 22\n    cidr: 10.0.0.0/8\n"
    return text


def db_spec(vpc: str, port: int = 5432) -> str:
    return f"""kind: security_group
name: db
vpc_id: {vpc}
region: {REGION}
description: Database
ingress:
  - proto: tcp
    ports: {port}
    cidr: 10.20.0.0/16
"""


@pytest.fixture
def estate(aws: None) -> dict[str, Any]:
    """A VPC with `web` (443 to the world, 22 from 10/8) and `db` (5432 from the VPC), and
    a versioned spec bucket."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    groups = {}
    for name, description, port, cidr in (
        ("web", "Public web", 443, "0.0.0.0/0"),
        ("db", "Database", 5432, "10.20.0.0/16"),
    ):
        group = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc)
        groups[name] = group["GroupId"]
        open_port(ec2, groups[name], port, cidr)
    open_port(ec2, groups["web"], 22, "10.0.0.0/8")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return {"ec2": ec2, "s3": s3, "vpc": vpc, **groups}


def open_port(ec2: Any, group: str, port: int, cidr: str) -> None:
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[rule(port, cidr)])


def rule(port: int, cidr: str) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}


def push(estate: dict[str, Any], files: dict[str, str], key: str = BUNDLE_KEY) -> str:
    """What `setpoint push` writes: the bundle, as one object; returns its version id."""
    body = json.dumps({"format_version": "1", "specs": files}).encode()
    response = estate["s3"].put_object(Bucket=BUCKET, Key=key, Body=body)
    return str(response["VersionId"])


def created(key: str, version_id: str | None, bucket: str = BUCKET) -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    if version_id is None:
        del event["detail"]["object"]["version-id"]
    else:
        event["detail"]["object"]["version-id"] = version_id
    return event


def make_runtime(notifier: Notifier, uri: str = f"s3://{BUCKET}/{BUNDLE_KEY}") -> Runtime:
    clients = ClientCache()
    return build_runtime(
        clients=clients,
        specs=S3SpecProvider(lambda: clients.client("s3"), uri),
        notifiers=[notifier],
        regions=[REGION],
        account=ACCOUNT,
        state=MemoryStateStore(),
    )


def on_spec_push(payload: dict[str, Any], runtime: Runtime, **options: Any) -> EventOutcome:
    """What app.py's on_spec_change does with the runtime it built."""
    return handle_spec_change(payload, runtime.spec_change_context(), **options)


def cloud_change(runtime: Runtime, record: dict[str, Any]) -> EventOutcome:
    return handle_cloudtrail_event(record, runtime)


def revoke_record(group: str, port: int, cidr: str) -> dict[str, Any]:
    record = authorize_record(group, cidr=cidr, port=port)
    record["eventName"] = "RevokeSecurityGroupIngress"
    record["eventID"] = f"revoke-{group}-{port}"
    record["userIdentity"]["arn"] = f"arn:aws:iam::{ACCOUNT}:user/bob"
    return record


def resources(outcome: EventOutcome) -> list[tuple[str | None, Status]]:
    return [(f.name, f.status) for f in outcome.findings if f.kind is not GUARD]


@pytest.fixture
def chat(webhook: tuple[str, list[dict[str, Any]]]) -> tuple[Notifier, list[dict[str, Any]]]:
    url, received = webhook
    return notifier_for(url, "slack"), received


def test_a_tightened_spec_is_pending_apply_until_the_cloud_follows(
    estate: dict[str, Any], chat: tuple[Notifier, list[dict[str, Any]]]
):
    notifier, received = chat
    runtime = make_runtime(notifier)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    runtime.specs()  # the process has read the specs before (a warm Lambda)

    # the pull request that drops SSH is merged and pushed; the group still allows it
    version = push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)})
    outcome = on_spec_push(created(BUNDLE_KEY, version), runtime)

    assert resources(outcome) == [("web", Status.DRIFTED)]
    assert [a.kind for a in outcome.alerts] == [AlertKind.PENDING_APPLY]
    assert len(received) == 1
    text = received[0]["text"]
    assert text.startswith("Pending apply: the spec for")
    assert "tcp/22" in text and WEB_PATH in text
    assert "Drift:" not in text

    # S3 and EventBridge deliver at least once: the same event again says nothing
    again = on_spec_push(created(BUNDLE_KEY, version), runtime)
    assert again.alerts == [] and len(received) == 1

    # someone applies the change: the revoke closes the story as "applied", once
    estate["ec2"].revoke_security_group_ingress(
        GroupId=estate["web"], IpPermissions=[rule(22, "10.0.0.0/8")]
    )
    applied = cloud_change(runtime, revoke_record(estate["web"], 22, "10.0.0.0/8"))

    assert [a.kind for a in applied.alerts] == [AlertKind.APPLIED]
    assert len(received) == 2
    assert received[1]["text"].startswith("Applied: ")
    assert f"arn:aws:iam::{ACCOUNT}:user/bob" in received[1]["text"]
    assert cloud_change(runtime, revoke_record(estate["web"], 22, "10.0.0.0/8")).alerts == []
    assert len(received) == 2


def test_an_unapproved_change_on_top_of_a_pending_one_is_not_pending(estate: dict[str, Any]):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    runtime.specs()
    version = push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)})
    on_spec_push(created(BUNDLE_KEY, version), runtime)
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]

    # while the change waits to be applied, someone opens RDP to the world by hand
    open_port(estate["ec2"], estate["web"], 3389, "0.0.0.0/0")
    outcome = cloud_change(runtime, authorize_record(estate["web"], port=3389))

    assert recorder.kinds() == [AlertKind.PENDING_APPLY, AlertKind.CHANGED]
    alert = outcome.alerts[0]
    record = runtime.state.get(record_key(alert.finding))
    assert record is not None and not record.pending
    assert alert.thread == (MessageRef("recorder", "m1"),)
    assert {c.actual["ports"] for c in alert.finding.changes if c.actual} == {"22", "3389"}
    assert alert.unapproved_over_pending
    assert alert_headline(alert).startswith("Unapproved change: ")

    # applying the pending part now is not "applied": the unapproved port is still open
    estate["ec2"].revoke_security_group_ingress(
        GroupId=estate["web"], IpPermissions=[rule(22, "10.0.0.0/8")]
    )
    cloud_change(runtime, revoke_record(estate["web"], 22, "10.0.0.0/8"))
    assert AlertKind.APPLIED not in recorder.kinds()


def test_an_unrelated_spec_edit_reads_only_its_own_resource(estate: dict[str, Any]):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    # web is off its spec (22 is open, the spec does not allow it) and was alerted before
    push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)})
    runtime.specs()
    reads: list[dict[str, Any]] = []
    estate_client = runtime.clients.client("ec2", REGION)
    estate_client.meta.events.register(
        "provide-client-params.ec2.DescribeSecurityGroups",
        lambda params, **_: reads.append(dict(params)),
    )

    version = push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc, 5433)})
    outcome = on_spec_push(created(BUNDLE_KEY, version), runtime)

    assert resources(outcome) == [("db", Status.DRIFTED)]
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]
    assert recorder.alerts[0].finding.id == estate["db"]
    named = json.dumps(reads)
    assert estate["db"] in named or '"db"' in named
    assert estate["web"] not in named and '"web"' not in named


def test_a_malformed_push_is_unknown_naming_file_and_line_and_nothing_pending(
    estate: dict[str, Any],
):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    runtime.specs()

    broken = web_spec(vpc, ssh=False).replace("ports: 443", "ports: 99999")
    version = push(estate, {WEB_PATH: broken, DB_PATH: db_spec(vpc, 5433)})
    outcome = on_spec_push(created(BUNDLE_KEY, version), runtime)

    (finding,) = outcome.findings
    assert finding.status is Status.UNKNOWN
    assert f"{WEB_PATH}:8: ingress[0].ports: 99999 is out of range" in (finding.reason or "")
    assert recorder.kinds() == [AlertKind.NEW]
    assert AlertKind.PENDING_APPLY not in recorder.kinds()

    # the fix is pushed: the bundle loads again, the "unknown" closes, db is pending apply
    fixed = push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc, 5433)})
    on_spec_push(created(BUNDLE_KEY, fixed), runtime)
    assert recorder.kinds() == [
        AlertKind.NEW,
        AlertKind.BACK_TO_NORMAL,
        AlertKind.PENDING_APPLY,
    ]
    assert recorder.alerts[2].finding.id == estate["db"]


def test_a_removed_spec_leaves_its_group_unmanaged(estate: dict[str, Any]):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    runtime.specs()

    version = push(estate, {WEB_PATH: web_spec(vpc, ssh=True)})
    outcome = on_spec_push(created(BUNDLE_KEY, version), runtime)

    assert resources(outcome) == [("db", Status.UNMANAGED)]
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]


def test_writes_outside_the_spec_location_are_skipped_with_a_reason(estate: dict[str, Any]):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    push(estate, {WEB_PATH: web_spec(estate["vpc"], ssh=False)})
    runtime.specs()
    other = estate["s3"].put_object(Bucket=BUCKET, Key="notes/readme.json", Body=b"{}")

    outcome = on_spec_push(created("notes/readme.json", other["VersionId"]), runtime)
    elsewhere = on_spec_push(created(BUNDLE_KEY, "v1", bucket="another-bucket"), runtime)

    assert outcome.findings == [] and elsewhere.findings == []
    assert "outside the spec location" in outcome.skipped[0].detail
    assert "s3://another-bucket/" in elsewhere.skipped[0].detail
    assert recorder.alerts == []


def test_one_yaml_per_object_compares_with_that_objects_previous_version(
    estate: dict[str, Any],
):
    recorder = Recorder()
    runtime = make_runtime(recorder, uri=f"s3://{BUCKET}/policies/")
    vpc = estate["vpc"]
    s3 = estate["s3"]
    s3.put_object(Bucket=BUCKET, Key=WEB_PATH, Body=web_spec(vpc, ssh=True).encode())
    s3.put_object(Bucket=BUCKET, Key=DB_PATH, Body=db_spec(vpc).encode())
    # a cold process: nothing loaded before, the object's history says what changed

    put = s3.put_object(Bucket=BUCKET, Key=WEB_PATH, Body=web_spec(vpc, ssh=False).encode())
    outcome = on_spec_push(created(WEB_PATH, put["VersionId"]), runtime)

    assert resources(outcome) == [("web", Status.DRIFTED)]
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]


def test_without_versions_the_last_loaded_specs_are_the_before(estate: dict[str, Any]):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    runtime.specs()
    push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)})

    outcome = on_spec_push(created(BUNDLE_KEY, None), runtime)

    assert resources(outcome) == [("web", Status.DRIFTED)]
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]


def test_a_cold_process_without_versions_compares_nothing_and_says_why(estate: dict[str, Any]):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    push(estate, {WEB_PATH: web_spec(estate["vpc"], ssh=False)})

    outcome = on_spec_push(created(BUNDLE_KEY, None), runtime)

    assert resources(outcome) == []
    assert "no earlier specs" in outcome.skipped[0].detail
    assert recorder.alerts == []


def test_the_rule_pattern_names_only_spec_buckets():
    assert spec_event_pattern(BUCKET) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [BUCKET]}},
    }
    # at import time the account (part of the name) is unknown: every Setpoint spec bucket
    assert spec_event_pattern()["detail"] == {"bucket": {"name": [{"prefix": "setpoint-specs-"}]}}
    assert BUCKET.startswith("setpoint-specs-")


def test_a_reformatted_push_says_nothing(estate: dict[str, Any]):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)})
    runtime.specs()

    moved = {
        "policies/sg/web.yaml": "# moved, with a comment\n" + web_spec(vpc, ssh=False),
        DB_PATH: db_spec(vpc),
    }
    outcome = on_spec_push(created(BUNDLE_KEY, push(estate, moved)), runtime)

    assert resources(outcome) == [] and recorder.alerts == []


def test_a_spec_without_vpc_or_region_finds_its_group_wherever_it_is(estate: dict[str, Any]):
    """The event path looks names up in the default VPC; a spec change must not report a
    group in another VPC (or region) as missing."""
    recorder = Recorder()
    runtime = make_runtime(recorder)
    runtime.regions = ["us-east-1", REGION]
    vpc = estate["vpc"]

    def loose(ssh: bool) -> str:
        lines = web_spec(vpc, ssh=ssh).splitlines(keepends=True)
        return "".join(line for line in lines if not line.startswith(("vpc_id", "region")))

    push(estate, {WEB_PATH: loose(ssh=True)})
    runtime.specs()
    outcome = on_spec_push(created(BUNDLE_KEY, push(estate, {WEB_PATH: loose(False)})), runtime)

    assert [(f.id, f.region, f.status) for f in outcome.findings if f.kind is not GUARD] == [
        (estate["web"], REGION, Status.DRIFTED)
    ]
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]


def test_a_spec_by_group_id_without_region_is_not_missing_elsewhere(estate: dict[str, Any]):
    recorder = Recorder()
    runtime = make_runtime(recorder)
    runtime.regions = ["us-east-1", REGION]

    def by_id(port: int) -> str:
        return f"""kind: security_group
group_id: {estate["db"]}
description: Database
ingress:
  - proto: tcp
    ports: {port}
    cidr: 10.20.0.0/16
"""

    push(estate, {DB_PATH: by_id(5432)})
    runtime.specs()
    outcome = on_spec_push(created(BUNDLE_KEY, push(estate, {DB_PATH: by_id(6432)})), runtime)

    assert [(f.region, f.status) for f in outcome.findings if f.kind is not GUARD] == [
        (REGION, Status.DRIFTED)
    ]
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]


def test_iam_specs_go_pending_too(estate: dict[str, Any]):
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    logs = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
    }
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="app", PolicyName="logs", PolicyDocument=json.dumps(logs))
    role = {"kind": "iam_role", "name": "app", "trust_policy": trust}
    path = "policies/iam/app.yaml"
    recorder = Recorder()
    runtime = make_runtime(recorder)
    push(estate, {path: json.dumps({**role, "inline_policies": {"logs": logs}})})
    runtime.specs()

    # the inline policy is dropped from the spec; the role still has it
    outcome = on_spec_push(created(BUNDLE_KEY, push(estate, {path: json.dumps(role)})), runtime)

    assert resources(outcome) == [("app", Status.DRIFTED)]
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]
    assert recorder.alerts[0].finding.id == f"arn:aws:iam::{ACCOUNT}:role/app"


def test_works_with_the_runtimes_own_spec_provider(
    estate: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    """Whatever `runtime.spec_provider` returns for s3:// (its source hidden or not), the
    handler finds the location in SETPOINT_SPECS and the history in the bucket."""
    uri = f"s3://{BUCKET}/{BUNDLE_KEY}"
    monkeypatch.setenv("SETPOINT_SPECS", uri)
    recorder = Recorder()
    runtime = make_runtime(recorder)
    runtime.specs = spec_provider(uri, runtime.clients)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=True)})
    runtime.specs()

    version = push(estate, {WEB_PATH: web_spec(vpc, ssh=False)})
    outcome = on_spec_push(created(BUNDLE_KEY, version), runtime)

    assert resources(outcome) == [("web", Status.DRIFTED)]
    assert recorder.kinds() == [AlertKind.PENDING_APPLY]


def test_a_payload_that_is_not_an_s3_event_is_an_error_not_a_crash(estate: dict[str, Any]):
    runtime = make_runtime(Recorder())
    not_s3 = {"source": "aws.ec2", "detail": {}}
    no_key = created(BUNDLE_KEY, "v1")
    del no_key["detail"]["object"]["key"]

    for payload in (not_s3, no_key, {"source": "aws.s3"}):
        outcome = on_spec_push(payload, runtime)
        assert outcome.findings == []
        assert outcome.errors and outcome.errors[0].startswith("malformed_event: ")


def test_a_hand_change_not_yet_seen_is_not_called_pending_by_a_push(estate: dict[str, Any]):
    """Port 3389 opened by hand; a push lands before CloudTrail delivers that call."""
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    runtime.specs()
    open_port(estate["ec2"], estate["web"], 3389, "0.0.0.0/0")  # its event is still in flight
    version = push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)})

    outcome = on_spec_push(created(BUNDLE_KEY, version), runtime)

    # off the old spec as well: unapproved, said plainly, never the calm "pending apply"
    assert recorder.kinds() == [AlertKind.NEW]
    (alert,) = outcome.alerts
    assert alert_headline(alert).startswith("Drift")
    assert {c.actual["ports"] for c in alert.finding.changes if c.actual} == {"22", "3389"}
    # the late event changes nothing: that drift was already posted
    late = cloud_change(runtime, authorize_record(estate["web"], port=3389))
    assert late.alerts == [] and recorder.kinds() == [AlertKind.NEW]


def test_a_forged_bundle_is_refused_and_the_last_verified_specs_stay_in_force(
    estate: dict[str, Any],
):
    """Reproduces issue 13 item 1: a bundle written with plain put_object (not `setpoint
    push --sign-key`) called the group that allows SSH "pending apply"."""
    from chalicelib.specs.signing import KmsSigner, KmsVerifier

    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    recorder = Recorder()
    clients = ClientCache()
    runtime = make_runtime(recorder)
    runtime.specs = S3SpecProvider(
        lambda: clients.client("s3"),
        f"s3://{BUCKET}/{BUNDLE_KEY}",
        lambda: KmsVerifier(clients.client("kms"), key),
    )
    vpc = estate["vpc"]
    files = {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)}
    body = json.dumps({"format_version": "1", "specs": files}).encode()
    signature = KmsSigner(kms, key).sign(body).metadata()
    estate["s3"].put_object(Bucket=BUCKET, Key=BUNDLE_KEY, Body=body, Metadata=signature)
    runtime.specs()

    # the forger approves SSH: an unsigned bundle, pushed by hand
    version = push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    outcome = on_spec_push(created(BUNDLE_KEY, version), runtime)

    (finding,) = outcome.findings
    assert finding.kind is GUARD and finding.status is Status.UNKNOWN
    assert "refused: unsigned" in (finding.reason or "")
    assert AlertKind.PENDING_APPLY not in recorder.kinds()
    assert recorder.kinds() == [AlertKind.NEW]
    # the signed specs still judge the cloud: web's SSH rule is drift, not approved
    drift = cloud_change(runtime, authorize_record(estate["web"], port=22, cidr="10.0.0.0/8"))
    assert [(f.name, f.status) for f in drift.findings] == [("web", Status.DRIFTED)]


def test_pushing_an_exception_for_an_open_drift_closes_it_once(estate: dict[str, Any]):
    """Only the spec's `exceptions:` change: the spec diff must still re-read the group."""
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    runtime.specs()
    open_port(estate["ec2"], estate["web"], 3389, "0.0.0.0/0")
    cloud_change(runtime, authorize_record(estate["web"], port=3389))
    assert recorder.kinds() == [AlertKind.NEW]

    until = (date.today() + timedelta(days=14)).isoformat()
    accepted = web_spec(vpc, ssh=True) + (
        "exceptions:\n"
        "  - change: {op: add, path: ingress, actual: {ports: '3389'}}\n"
        f"    until: {until}\n    reason: vendor remote support, CHG-2211\n"
    )
    version = push(estate, {WEB_PATH: accepted, DB_PATH: db_spec(vpc)})
    outcome = on_spec_push(created(BUNDLE_KEY, version), runtime)

    (web,) = [f for f in outcome.findings if f.name == "web"]
    assert web.status is Status.IN_SYNC and [e.until for e in web.excepted] == [until]
    assert recorder.kinds() == [AlertKind.NEW, AlertKind.BACK_TO_NORMAL]
    # the same push delivered again, and the next event, say nothing more
    on_spec_push(created(BUNDLE_KEY, version), runtime)
    cloud_change(runtime, authorize_record(estate["web"], port=3389))
    assert recorder.kinds() == [AlertKind.NEW, AlertKind.BACK_TO_NORMAL]


def test_a_push_from_an_account_no_publisher_lives_in_is_a_critical_alert_and_nothing_pending(
    estate: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    """Specs decide what is drift: a write by someone other than the publisher could
    approve any change, so it is named in a critical alert and compared with nothing."""
    monkeypatch.setenv("SETPOINT_SPECS", f"s3://{BUCKET}/{BUNDLE_KEY}")
    monkeypatch.setenv("SETPOINT_SPEC_PUBLISHERS", f"arn:aws:iam::{ACCOUNT}:role/spec-publisher")
    recorder = Recorder()
    runtime = make_runtime(recorder)
    vpc = estate["vpc"]
    push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)})
    runtime.specs()

    version = push(estate, {WEB_PATH: web_spec(vpc, ssh=True), DB_PATH: db_spec(vpc)})
    event = created(BUNDLE_KEY, version)
    event["detail"]["requester"] = "210987654321"
    outcome = on_spec_push(event, runtime)

    (finding,) = outcome.findings
    assert finding.kind is GUARD and finding.status is Status.DRIFTED
    assert finding.actor is not None and finding.actor.arn == "account 210987654321"
    (change,) = finding.changes
    assert "account 210987654321 wrote s3://" in change.summary
    assert "not a spec publisher" in change.summary
    assert "Nothing was compared against them on this write" in change.summary
    assert recorder.kinds() == [AlertKind.NEW]
    assert alert_headline(recorder.alerts[0]).startswith("Critical: ")

    # the publisher's own account cannot be told apart by this event: read as usual
    event = created(
        BUNDLE_KEY, push(estate, {WEB_PATH: web_spec(vpc, ssh=False), DB_PATH: db_spec(vpc)})
    )
    outcome = on_spec_push(event, runtime)
    assert all(f.status is not Status.DRIFTED or f.kind is not GUARD for f in outcome.findings)
