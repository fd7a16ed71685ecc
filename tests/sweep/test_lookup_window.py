"""The actor lookup searches only since the resource was last seen in sync.

moto does not implement `cloudtrail.lookup_events`, so CloudTrail's event history here is
`EventHistory`: each call goes through botocore's Stubber, which checks the request and
the answer against botocore's service model, and answers what CloudTrail answers: the
entries naming the resource between `StartTime` and `EndTime`, newest first. The
records are the real ones of tests/fixtures/cloudtrail (`ingress_record`). Everything
else (the groups, the spec bucket, the state table, the queue, chat) is moto and
tests/chat_server.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import ANY, Stubber

from chalicelib.aws import ClientCache
from chalicelib.model import Finding, Kind, SourceLocation, Status
from chalicelib.noise.model import SpecException, SpecNoise
from chalicelib.notify.delivery import notifier_for
from chalicelib.revert.hand_off import LambdaHandOff
from chalicelib.runtime import build_reverter, spec_provider, sweep_service
from chalicelib.state import DynamoStateStore, MemoryStateStore, StateRecord, record_key
from chalicelib.state.record import iso
from chalicelib.sweep.lookup import IN_SYNC_MARGIN, CloudTrailLookup, attach_actors, in_sync_since
from chalicelib.sweep.queue import SqsSweepQueue
from chalicelib.sweep.runs import DynamoRunStore, SweptMark, swept_key
from chalicelib.sweep.settings import SweepSettings
from chalicelib.sweep.worker import (
    SweepService,
    enqueue_shards,
    handle_shard_batch,
    sweep_in_process,
)
from tests.runtime_builder import build_runtime
from tests.sweep.conftest import TABLE
from tests.sweep.test_lookup import ACCOUNT, REGION, ingress_record
from tests.sweep.test_worker import drain

BUCKET = "acme-specs"
LOOKBACK = timedelta(days=90)
FIRST = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the sweep that sees everything in sync
SECOND = FIRST + timedelta(hours=1)  # the next one, after someone opened SSH by hand
OLD_WRITE = FIRST - timedelta(days=30)  # mallory's, long before: not this drift's author
SG = Kind("security_group")
WEB_SPEC = f"kind: security_group\nname: web\nregion: {REGION}\ndescription: web\ningress: []\n"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class EventHistory:
    """CloudTrail's event history holding `records` (see the module docstring)."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "cloudtrail",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.stub = Stubber(self.client)
        self.records: list[tuple[str, dict[str, Any]]] = []  # (resource name, record)
        self.asked: list[dict[str, Any]] = []

    def add(self, name: str, record: dict[str, Any]) -> None:
        self.records.append((name, record))

    def lookup_events(self, **params: Any) -> dict[str, Any]:
        self.asked.append(params)
        name = params["LookupAttributes"][0]["AttributeValue"]
        start, end = params["StartTime"], params["EndTime"]
        entries = [
            {
                "EventId": record["eventID"],
                "EventName": record["eventName"],
                "ReadOnly": "false",
                "EventTime": at,
                "EventSource": record["eventSource"],
                "Resources": [{"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": name}],
                "CloudTrailEvent": json.dumps(record),
            }
            for named, record in self.records
            if named == name and start <= (at := _time(record["eventTime"])) <= end
        ]
        entries.sort(key=lambda entry: entry["EventTime"], reverse=True)
        self.stub.add_response("lookup_events", {"Events": entries}, params)
        with self.stub:
            answer: dict[str, Any] = self.client.lookup_events(**params)
        return answer

    def windows(self, name: str) -> list[tuple[datetime, datetime]]:
        """(StartTime, EndTime) of every lookup of `name`, in order."""
        return [
            (p["StartTime"], p["EndTime"])
            for p in self.asked
            if p["LookupAttributes"][0]["AttributeValue"] == name
        ]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def put_spec(name: str, text: str) -> None:
    """A spec as `setpoint push` leaves it: an object under the spec prefix."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key=f"policies/security_groups/{name}.yaml", Body=text.encode())


class Estate:
    """The group `web` (in sync with its spec), the specs in S3, the state table."""

    def __init__(self, chat: tuple[str, list[dict[str, Any]]], state: DynamoStateStore) -> None:
        self.clients = ClientCache()
        ec2 = self.clients.client("ec2", REGION)
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        self.group: str = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)[
            "GroupId"
        ]
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        put_spec("web", WEB_SPEC)
        self.clock = Clock(FIRST)
        self.received = chat[1]
        self.dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        self.runs = DynamoRunStore(TABLE, self.dynamodb)
        self.history = EventHistory()
        runtime = build_runtime(
            clients=self.clients,
            specs=spec_provider(f"s3://{BUCKET}/policies", self.clients),
            notifiers=[notifier_for(chat[0], "json", sleep=lambda _: None)],
            regions=[REGION],
            state=state,
            clock=self.clock,
        )
        self.runtime = runtime
        self.service: SweepService = sweep_service(
            runtime,
            SweepSettings(regions=(REGION,), lookup_hours=int(LOOKBACK.total_seconds() // 3600)),
            runs=self.runs,
        )
        history = self.history
        self.service.lookup = CloudTrailLookup(lambda a, r: history, sleep=lambda _: None)

    def open_ssh_by_hand(self) -> None:
        """The change no event announced (the trail was off): only the sweep sees it."""
        self.clients.client("ec2", REGION).authorize_security_group_ingress(
            GroupId=self.group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )

    def old_write(self) -> None:
        """Mallory's write to the group a month ago (since undone): in the history."""
        record = ingress_record(
            self.group, time=iso(OLD_WRITE).replace("+00:00", "Z"), who="mallory", event_id="e-old"
        )
        self.history.add(self.group, record)

    def alert(self) -> dict[str, Any]:
        (alert,) = [r for r in self.received if r.get("id") == self.group]
        return alert


@pytest.fixture
def estate(
    aws: None, webhook: tuple[str, list[dict[str, Any]]], state_table: DynamoStateStore
) -> Estate:
    return Estate(webhook, state_table)


def test_drift_after_a_sweep_saw_it_in_sync_is_looked_up_only_since_that_sweep(
    estate: Estate, caplog: pytest.LogCaptureFixture
) -> None:
    estate.old_write()
    sweep_in_process(estate.service)  # web is in sync: nothing to look up for it
    assert estate.history.windows(estate.group) == []
    estate.clock.now = SECOND
    estate.open_ssh_by_hand()

    caplog.clear()  # the first sweep's lookups log too when `setpoint` already logs INFO
    with caplog.at_level(logging.INFO, logger="setpoint"):
        sweep_in_process(estate.service)

    assert estate.history.windows(estate.group) == [(FIRST - IN_SYNC_MARGIN, SECOND)]
    alert = estate.alert()
    assert alert["status"] == "drifted"
    # mallory's month-old write is outside the window: nobody is named "probably"
    assert alert.get("actor") is None
    assert "probably" not in alert["text"] and "mallory" not in json.dumps(alert)
    (logged,) = [r for r in caplog.records if r.getMessage() == "actor_lookup"]
    assert logged.narrowed == 1 and logged.errors == []  # type: ignore[attr-defined]


def test_the_window_still_names_a_write_made_after_the_group_was_seen_in_sync(
    estate: Estate,
) -> None:
    estate.old_write()
    sweep_in_process(estate.service)
    estate.clock.now = SECOND
    estate.open_ssh_by_hand()
    when = FIRST + timedelta(minutes=20)  # the trail recorded it; EventBridge lost it
    record = ingress_record(
        estate.group, time=iso(when).replace("+00:00", "Z"), who="alice", event_id="e-new"
    )
    estate.history.add(estate.group, record)

    sweep_in_process(estate.service)

    actor = estate.alert()["actor"]
    assert (actor["arn"], actor["event_id"], actor["source"]) == (
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        "e-new",
        "lookup",
    )


def test_specs_pushed_after_the_last_sweep_search_the_whole_lookback(estate: Estate) -> None:
    estate.old_write()
    sweep_in_process(estate.service)
    estate.clock.now = SECOND
    ec2 = estate.clients.client("ec2", REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    ec2.create_security_group(GroupName="api", Description="api", VpcId=vpc)
    # a new spec: what the last sweep compared was not these specs
    put_spec("api", WEB_SPEC.replace("web", "api"))
    estate.open_ssh_by_hand()

    sweep_in_process(estate.service)

    assert estate.history.windows(estate.group) == [(SECOND - LOOKBACK, SECOND)]
    actor = estate.alert()["actor"]  # the cost of a changed spec: the whole window again
    assert actor["arn"] == f"arn:aws:iam::{ACCOUNT}:user/mallory"


def test_without_a_previous_sweep_the_whole_lookback_is_searched(estate: Estate) -> None:
    estate.old_write()
    estate.open_ssh_by_hand()

    sweep_in_process(estate.service)

    assert estate.history.windows(estate.group) == [(FIRST - LOOKBACK, FIRST)]
    assert estate.alert()["actor"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/mallory"


def test_an_unreadable_mark_is_logged_and_the_whole_lookback_searched(
    estate: Estate, caplog: pytest.LogCaptureFixture
) -> None:
    estate.old_write()
    sweep_in_process(estate.service)
    shard = f"{ACCOUNT}/{REGION}/security_group"
    estate.dynamodb.update_item(  # a damaged item: started_at is no time
        TableName=TABLE,
        Key={"pk": {"S": swept_key(shard)}},
        UpdateExpression="SET started_at = :bad",
        ExpressionAttributeValues={":bad": {"S": "yesterday"}},
    )
    estate.clock.now = SECOND
    estate.open_ssh_by_hand()

    with caplog.at_level(logging.INFO, logger="setpoint"):
        swept = sweep_in_process(estate.service)

    assert estate.history.windows(estate.group) == [(SECOND - LOOKBACK, SECOND)]
    (logged,) = [r for r in caplog.records if r.getMessage() == "swept_mark_unreadable"]
    assert logged.levelno == logging.ERROR
    assert logged.code == "MalformedItem" and logged.shard == shard  # type: ignore[attr-defined]
    assert estate.alert()["status"] == "drifted"  # the sweep went on
    assert swept.digest.counts["drifted"] >= 1


def test_a_previous_unknown_record_searches_the_whole_lookback(aws: None) -> None:
    """The resource could not be read last time: it was never seen in sync."""
    history = EventHistory()
    lookup = CloudTrailLookup(lambda a, r: history, sleep=lambda _: None)
    finding = Finding(SG, "sg-0a1b2c3d4e5f60718", "web", ACCOUNT, REGION, Status.DRIFTED)
    state = MemoryStateStore()
    stamp = iso(FIRST)
    state.put(
        StateRecord(
            record_key(finding),
            SG,
            ACCOUNT,
            REGION,
            finding.id,
            "web",
            Status.UNKNOWN,
            "fp",
            stamp,
            stamp,
            stamp,
        ),
        None,
    )

    attached = attach_actors(lookup, state, [finding], SECOND, seen_since=lambda _: FIRST)

    assert attached.looked_up == 1 and attached.narrowed == 0
    assert history.windows("sg-0a1b2c3d4e5f60718") == [(SECOND - LOOKBACK, SECOND)]


# -- since when, pure ------------------------------------------------------------------


def mark(**changes: Any) -> SweptMark:
    fields: dict[str, Any] = {
        "shard": f"{ACCOUNT}/{REGION}/security_group",
        "started_at": iso(FIRST),
        "specs": "sha256:v1",
        "kinds": ("security_group",),
        "regions": (REGION,),
        **changes,
    }
    return SweptMark(**fields)


def web(spec: str | None = "policies/security_groups/web.yaml:1") -> Finding:
    return Finding(SG, "sg-1", "web", ACCOUNT, REGION, Status.DRIFTED, spec=spec)


def lapsing(until: str) -> dict[str, SpecNoise]:
    exception = SpecException(
        SourceLocation("policies/security_groups/web.yaml", 9), {"op": "add"}, until, "ticket"
    )
    return {"policies/security_groups/web.yaml:1": SpecNoise(exceptions=(exception,))}


TODAY = FIRST.date() + timedelta(days=2)  # the mark is two days old here
SINCE_CASES: list[tuple[str, Callable[[], Any], datetime | None]] = [
    ("same specs", lambda: in_sync_since(web(), mark(), "sha256:v1", {}, TODAY), FIRST),
    ("no mark", lambda: in_sync_since(web(), None, "sha256:v1", {}, TODAY), None),
    ("specs changed", lambda: in_sync_since(web(), mark(), "sha256:v2", {}, TODAY), None),
    ("no version", lambda: in_sync_since(web(), mark(), None, {}, TODAY), None),
    (
        "kind not swept then",
        lambda: in_sync_since(web(), mark(kinds=("s3_bucket",)), "sha256:v1", {}, TODAY),
        None,
    ),
    (
        "region not swept then",
        lambda: in_sync_since(web(), mark(regions=("eu-west-1",)), "sha256:v1", {}, TODAY),
        None,
    ),
    (
        "an exception lapsed since",
        lambda: in_sync_since(web(), mark(), "sha256:v1", lapsing(str(FIRST.date())), TODAY),
        None,
    ),
    (
        "an exception that lapsed before",
        lambda: in_sync_since(
            web(), mark(), "sha256:v1", lapsing(str(FIRST.date() - timedelta(days=1))), TODAY
        ),
        FIRST,
    ),
    (
        "an exception still in force",
        lambda: in_sync_since(web(), mark(), "sha256:v1", lapsing(str(date(2027, 1, 1))), TODAY),
        FIRST,
    ),
]


@pytest.mark.parametrize(
    ("case", "since", "expected"), SINCE_CASES, ids=[c[0] for c in SINCE_CASES]
)
def test_since_when_a_resource_was_seen_in_sync(
    case: str, since: Callable[[], datetime | None], expected: datetime | None
) -> None:
    assert since() == (expected - IN_SYNC_MARGIN if expected else None)


# -- the mark, written by the shard worker ---------------------------------------------


def refuse(client: Any, operation: str) -> None:
    """Every `operation` call on `client` is refused, as a missing permission would be."""

    def denied(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = {
            "Error": {"Code": "UnauthorizedOperation", "Message": "not allowed"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        return AWSResponse("https://ec2.eu-west-1.amazonaws.com/", 403, {}, None), body

    client.meta.events.register(f"before-call.ec2.{operation}", denied)


def test_each_complete_shard_writes_its_mark_once_and_a_failed_one_none(
    aws: None, webhook: tuple[str, list[dict[str, Any]]], state_table: DynamoStateStore
) -> None:
    clients = ClientCache()
    ec2 = clients.client("ec2", REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    for name in ("web", "api", "db"):  # three resources, still one write for their shard
        ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    put_spec("web", WEB_SPEC)
    refuse(clients.client("ec2", "eu-west-1"), "DescribeSecurityGroups")
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    marks: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        key = params["Item"]["pk"]["S"]
        if key.startswith("swept#"):
            marks.append(key)

    dynamodb.meta.events.register("provide-client-params.dynamodb.PutItem", count)
    regions = ("eu-west-1", REGION)
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(f"s3://{BUCKET}/policies", clients),
        notifiers=[notifier_for(webhook[0], "json", sleep=lambda _: None)],
        regions=list(regions),
        state=state_table,
        clock=Clock(FIRST),
    )
    sqs = boto3.client("sqs", region_name="eu-west-1")
    queue = sqs.create_queue(QueueName="setpoint-sweep")["QueueUrl"]
    settings = SweepSettings(
        regions=regions, window_seconds=0, queue_url=queue, lookup_hours=24, accounts=[ACCOUNT]
    )
    service = sweep_service(runtime, settings, runs=DynamoRunStore(TABLE, dynamodb))
    history = EventHistory()
    service.lookup = CloudTrailLookup(lambda a, r: history, sleep=lambda _: None)

    enqueued = enqueue_shards(service, SqsSweepQueue(sqs, queue))
    records = drain(queue)
    for record in records:
        assert handle_shard_batch({"Records": [record]}, service) == {"batchItemFailures": []}

    shards = [json.loads(r["body"]) for r in records]
    assert len(shards) == enqueued.shards
    failed = f"swept#{ACCOUNT}#eu-west-1#security_group"
    expected = sorted(swept_key(f"{s['account']}/{s['region']}/{s['family']}") for s in shards)
    assert failed in expected
    expected.remove(failed)
    assert sorted(marks) == expected  # each complete shard once, the failed one never
    item = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"swept#{ACCOUNT}#{REGION}#security_group"}}
    )["Item"]
    assert item["started_at"]["S"] == iso(FIRST)
    assert int(item["expires_at"]["N"]) > FIRST.timestamp()
    assert service.runs.last_swept(f"{ACCOUNT}/eu-west-1/security_group") is None


def test_a_mark_that_cannot_be_written_is_logged_and_costs_the_sweep_nothing(
    estate: Estate, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse_marks(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = params.get("body", b"")
        if b'"swept#' not in (body if isinstance(body, bytes) else body.encode()):
            return None
        error = {
            "Error": {"Code": "AccessDeniedException", "Message": "not authorized"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://dynamodb.eu-west-1.amazonaws.com/", 400, {}, None), error

    estate.dynamodb.meta.events.register("before-call.dynamodb.PutItem", refuse_marks)
    estate.old_write()
    with caplog.at_level(logging.INFO, logger="setpoint"):
        sweep_in_process(estate.service)
    failed = [r.__dict__ for r in caplog.records if r.getMessage() == "swept_mark_failed"]
    assert failed and all(r["code"] == "AccessDeniedException" for r in failed)
    assert [r for r in estate.received if r.get("type") == "sweep_digest"]
    estate.clock.now = SECOND
    estate.open_ssh_by_hand()

    sweep_in_process(estate.service)

    assert estate.history.windows(estate.group) == [(SECOND - LOOKBACK, SECOND)]


def test_a_shard_that_hands_drift_to_the_revert_function_writes_no_mark(estate: Estate) -> None:
    """The revert function writes that drift's record, or never does if it fails: the shard
    cannot vouch that every resource without a record was in sync."""
    sweep_in_process(estate.service)  # in sync: every shard marked at FIRST
    shard = f"{ACCOUNT}/{REGION}/security_group"
    first = estate.service.runs.last_swept(shard)
    assert first is not None and first.started_at == iso(FIRST)
    put_spec("web", WEB_SPEC + "on_drift: revert\n")
    estate.clock.now = SECOND
    estate.open_ssh_by_hand()
    lam = estate.clients.client("lambda", REGION)
    estate.service.reverter = build_reverter(
        estate.runtime, apply=True, hand_off=LambdaHandOff(lam, "setpoint-test-on_revert")
    )
    with Stubber(lam) as stub:
        expected = {"FunctionName": "setpoint-test-on_revert", "InvocationType": "Event"}
        stub.add_response("invoke", {"StatusCode": 202}, {**expected, "Payload": ANY})
        sweep_in_process(estate.service)
        stub.assert_no_pending_responses()

    assert estate.service.runs.last_swept(shard) == first  # not rewritten at SECOND
    balancers = estate.service.runs.last_swept(f"{ACCOUNT}/{REGION}/load_balancer")
    assert balancers is not None and balancers.started_at == iso(SECOND)  # the others are
