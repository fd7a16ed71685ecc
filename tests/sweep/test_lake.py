"""Who probably made drift only the sweep saw, from a CloudTrail Lake event data store.

moto does not implement CloudTrail Lake queries (`StartQuery`, `GetQueryResults`), so these
tests answer them with botocore's Stubber, which checks every request and response against
botocore's own service model for cloudtrail: `QueryId` from StartQuery; `QueryStatus`,
`QueryResultRows` (rows of one-column string maps) and `NextToken` from GetQueryResults.
Rows are built from the real CloudTrail records in tests/fixtures/cloudtrail, with
`requestparameters` and `responseelements` as Lake keeps them (maps of strings, nested
objects as JSON text) and the event time in Lake's `YYYY-MM-DD HH:MM:SS.000`. Everything
else in the end-to-end test (the group, the sweep, the state, chat) is moto and
tests/chat_server.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chalicelib.aws import ClientCache
from chalicelib.errors import ConfigError
from chalicelib.model import ACTOR_FROM_LOOKUP, Actor, Finding
from chalicelib.notify.delivery import notifier_for
from chalicelib.runtime import spec_provider, sweep_service
from chalicelib.state import MemoryStateStore
from chalicelib.sweep.lake import (
    EventDataStore,
    LakeLookup,
    LakeQueryError,
    build_query,
    parse_event_data_store,
)
from chalicelib.sweep.lookup import CloudTrailLookup, FirstFound, LookupResult
from chalicelib.sweep.settings import SweepSettings, settings_from_env
from chalicelib.sweep.worker import sweep_in_process
from tests.runtime_builder import build_runtime
from tests.sleeps import Sleeps
from tests.sweep.test_lookup import (
    ACCOUNT,
    NOW,
    REGION,
    drifted,
    ingress_record,
    open_ssh_by_hand,
)

STORE_REGION = "us-west-2"  # not the sweep's: the query must go where the store lives
STORE_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
STORE_ARN = f"arn:aws:cloudtrail:{STORE_REGION}:{ACCOUNT}:eventdatastore/{STORE_ID}"
STORE = EventDataStore(STORE_ID, STORE_REGION, STORE_ARN)
QUERY_ID = "5f0e7a1c-2b3d-4e5f-9a8b-7c6d5e4f3a2b"
GROUP = "sg-0a1b2c3d4e5f60718"


def _as_map(value: Any) -> str | None:
    """A request or response as Lake returns `json_format(CAST(map AS JSON))`."""
    if not isinstance(value, dict):
        return None
    return json.dumps(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()},
        separators=(",", ":"),
    )


def lake_row(record: dict[str, Any]) -> list[dict[str, str]]:
    """One `QueryResultRows` row for `record`, in the query's column order; Lake leaves
    null columns out of a row."""
    identity = record.get("userIdentity", {})
    when = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
    columns = {
        "eventid": record.get("eventID"),
        "eventtime": when.strftime("%Y-%m-%d %H:%M:%S.000"),
        "eventversion": record.get("eventVersion"),
        "eventtype": record.get("eventType"),
        "eventsource": record["eventSource"],
        "eventname": record["eventName"],
        "awsregion": record["awsRegion"],
        "recipientaccountid": record["recipientAccountId"],
        "readonly": str(record.get("readOnly", False)).lower(),
        "errorcode": record.get("errorCode"),
        "sourceipaddress": record.get("sourceIPAddress"),
        "useragent": record.get("userAgent"),
        "identity_type": identity.get("type"),
        "identity_arn": identity.get("arn"),
        "identity_account": identity.get("accountId"),
        "identity_principal": identity.get("principalId"),
        "issuer_arn": identity.get("sessionContext", {}).get("sessionIssuer", {}).get("arn"),
        "request_parameters": _as_map(record.get("requestParameters")),
        "response_elements": _as_map(record.get("responseElements")),
    }
    return [{key: value} for key, value in columns.items() if value is not None]


def stubbed(region: str = STORE_REGION) -> tuple[Any, Stubber]:
    client = boto3.client(
        "cloudtrail",
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client, Stubber(client)


def results(status: str, rows: list[Any] | None = None, token: str | None = None) -> Any:
    answer: dict[str, Any] = {"QueryStatus": status}
    if status == "FINISHED":
        answer["QueryResultRows"] = rows or []
        answer["QueryStatistics"] = {"ResultsCount": len(rows or []), "TotalResultsCount": 0}
    if token:
        answer["NextToken"] = token
    return answer


def polled(token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"QueryId": QUERY_ID, "MaxQueryResults": 50}
    if token:
        params["NextToken"] = token
    return params


# -- the setting and the query --------------------------------------------------------


def test_the_setting_takes_an_arn_or_an_id_and_refuses_anything_else() -> None:
    name = "SETPOINT_ACTOR_LAKE_EVENT_DATA_STORE"
    assert parse_event_data_store(name, STORE_ARN) == STORE
    assert parse_event_data_store(name, STORE_ID) == EventDataStore(STORE_ID)
    assert parse_event_data_store(name, " ") is None
    with pytest.raises(ConfigError, match=f"{name}=.*neither an event data store ARN"):
        parse_event_data_store(name, "eds'; DROP")
    settings = settings_from_env({name: STORE_ARN, "SETPOINT_ACTOR_LAKE_DAYS": "730"})
    assert (settings.lake_store, settings.lake_days) == (STORE, 730)
    assert settings_from_env({}).lake_store is None
    assert settings_from_env({}).lake_days == 365
    with pytest.raises(ConfigError, match=r"SETPOINT_ACTOR_LAKE_DAYS=4000 is outside 1\.\.3653"):
        settings_from_env({"SETPOINT_ACTOR_LAKE_DAYS": "4000"})


def test_the_query_asks_for_this_resources_successful_writes_in_its_window() -> None:
    since = NOW - timedelta(days=365)
    query = build_query(
        STORE_ID,
        name=GROUP,
        account=ACCOUNT,
        region=REGION,
        sources=("ec2.amazonaws.com",),
        events=("AuthorizeSecurityGroupIngress", "CreateTags"),
        since=since,
        until=NOW,
    )
    assert f"FROM {STORE_ID} " in query
    assert "eventtime >= '2025-12-01 09:00:00' AND eventtime <= '2026-12-01 09:00:00'" in query
    assert "errorcode IS NULL" in query
    assert f"recipientaccountid = '{ACCOUNT}' AND awsregion = '{REGION}'" in query
    assert "eventname IN ('AuthorizeSecurityGroupIngress', 'CreateTags')" in query
    assert f"strpos(json_format(CAST(requestparameters AS JSON)), '{GROUP}') > 0" in query
    assert query.endswith("ORDER BY eventtime DESC LIMIT 50")
    # a name that could close the quote never reaches the SQL text
    with pytest.raises(LakeQueryError, match=r"resource name .* cannot be put in a query"):
        build_query(
            STORE_ID,
            name="x' OR '1'='1",
            account=ACCOUNT,
            region=REGION,
            sources=("ec2.amazonaws.com",),
            events=("CreateTags",),
            since=since,
            until=NOW,
        )


# -- the lookup -----------------------------------------------------------------------


def test_the_query_is_polled_with_a_growing_wait_paged_and_names_the_newest_write() -> None:
    client, stub = stubbed()
    older = ingress_record(GROUP, time="2025-03-02T02:07:41Z", who="alice", event_id="e-old")
    newer = ingress_record(GROUP, time="2025-06-30T05:00:00Z", who="bob", event_id="e-new")
    other = ingress_record("sg-0ffff", time="2025-07-01T00:00:00Z", who="eve", event_id="e-o")
    stub.add_response("start_query", {"QueryId": QUERY_ID}, {"QueryStatement": ANY})
    stub.add_response("get_query_results", results("QUEUED"), polled())
    stub.add_response("get_query_results", results("RUNNING"), polled())
    stub.add_response("get_query_results", results("RUNNING"), polled())
    page_one = [lake_row(other), lake_row(newer)]
    stub.add_response("get_query_results", results("FINISHED", page_one, "page-2-token"), polled())
    stub.add_response(
        "get_query_results", results("FINISHED", [lake_row(older)]), polled("page-2-token")
    )
    sleeps = Sleeps()
    regions: list[str | None] = []

    def client_for(region: str | None) -> Any:
        regions.append(region)
        return client

    lookup = LakeLookup(STORE, client_for, own_account=ACCOUNT, sleep=sleeps)
    with stub:
        result = lookup.find(drifted(GROUP), NOW - timedelta(days=365), NOW)
        stub.assert_no_pending_responses()

    assert result.error is None
    assert result.requests == 6
    assert sleeps == [0.5, 1.0, 2.0]  # doubling while queued or running
    assert regions == [STORE_REGION]
    actor = result.actor
    assert actor is not None
    assert (actor.arn, actor.event_id, actor.source) == (
        f"arn:aws:iam::{ACCOUNT}:user/bob",
        "e-new",
        ACTOR_FROM_LOOKUP,
    )
    assert (actor.event_name, actor.event_time) == (
        "AuthorizeSecurityGroupIngress",
        "2025-06-30T05:00:00Z",
    )
    assert actor.source_ip == newer["sourceIPAddress"]


def test_a_store_of_another_account_is_named_by_its_owner_in_every_call() -> None:
    """An organization's store belongs to the management account; a delegated
    administrator queries it naming that owner."""
    client, stub = stubbed()
    owner = {"EventDataStoreOwnerAccountId": ACCOUNT}
    stub.add_response("start_query", {"QueryId": QUERY_ID}, {"QueryStatement": ANY, **owner})
    stub.add_response("get_query_results", results("FINISHED", []), {**polled(), **owner})
    lookup = LakeLookup(STORE, lambda _: client, own_account="210987654321", sleep=Sleeps())
    with stub:
        result = lookup.find(drifted(GROUP), NOW - timedelta(days=30), NOW)
        stub.assert_no_pending_responses()
    assert (result.actor, result.error) == (None, None)


def test_a_query_still_running_at_its_bound_names_nobody_and_says_so() -> None:
    client, stub = stubbed()
    stub.add_response("start_query", {"QueryId": QUERY_ID}, {"QueryStatement": ANY})
    for _ in range(4):
        stub.add_response("get_query_results", results("RUNNING"), polled())
    sleeps = Sleeps()
    lookup = LakeLookup(STORE, lambda _: client, max_wait=4.0, sleep=sleeps)
    with stub:
        result = lookup.find(drifted(GROUP), NOW - timedelta(days=30), NOW)
    assert result.actor is None
    assert result.error == f"CloudTrail Lake: query {QUERY_ID} still running after 3.5 s"
    assert sum(sleeps) <= 4.0


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            {"QueryStatus": "FAILED", "ErrorMessage": "Column 'x' cannot be resolved"},
            f"CloudTrail Lake: query {QUERY_ID} failed: Column 'x' cannot be resolved",
        ),
        ({"QueryStatus": "TIMED_OUT"}, f"CloudTrail Lake: query {QUERY_ID} timed_out: no reason"),
    ],
)
def test_a_query_that_fails_names_nobody_and_gives_lakes_reason(
    answer: dict[str, Any], error: str
) -> None:
    client, stub = stubbed()
    stub.add_response("start_query", {"QueryId": QUERY_ID}, {"QueryStatement": ANY})
    stub.add_response("get_query_results", answer, polled())
    with stub:
        result = LakeLookup(STORE, lambda _: client, sleep=Sleeps()).find(
            drifted(GROUP), NOW - timedelta(days=30), NOW
        )
    assert result.actor is None
    assert result.error is not None and result.error.startswith(error)


def test_too_many_queries_at_once_is_waited_out_and_a_refusal_is_reported() -> None:
    client, stub = stubbed()
    stub.add_client_error("start_query", "MaxConcurrentQueriesException", "10 running")
    stub.add_response("start_query", {"QueryId": QUERY_ID}, {"QueryStatement": ANY})
    stub.add_response("get_query_results", results("FINISHED", []), polled())
    stub.add_client_error("start_query", "EventDataStoreNotFoundException", "no such store")
    sleeps = Sleeps()
    lookup = LakeLookup(STORE, lambda _: client, sleep=sleeps)
    with stub:
        first = lookup.find(drifted(GROUP), NOW - timedelta(days=30), NOW)
        second = lookup.find(drifted(GROUP), NOW - timedelta(days=30), NOW)
    assert (first.actor, first.error, first.requests) == (None, None, 3)
    assert sleeps == [1.0]
    assert second.error == "CloudTrail Lake refused (EventDataStoreNotFoundException)"


class Answers:
    """A lookup with a fixed answer, recording the windows it was asked for."""

    def __init__(self, lookback: timedelta, result: LookupResult) -> None:
        self.lookback = lookback
        self.max_lookups = 25
        self.result = result
        self.windows: list[tuple[datetime, datetime]] = []

    def find(self, finding: Finding, since: datetime, until: datetime) -> LookupResult:
        self.windows.append((since, until))
        return self.result


def test_lake_comes_first_and_event_history_answers_when_it_names_nobody() -> None:
    alice = Actor("arn:aws:iam::123456789012:user/alice", "CreateTags", None, "e-1")
    lake = Answers(timedelta(days=365), LookupResult(None, 2, "CloudTrail Lake: query failed"))
    events = Answers(timedelta(days=90), LookupResult(alice, 1))
    chained = FirstFound([lake, events])
    assert chained.lookback == timedelta(days=365)

    result = chained.find(drifted(), NOW - chained.lookback, NOW)

    assert (result.actor, result.requests) == (alice, 3)
    assert result.error == "CloudTrail Lake: query failed"
    assert lake.windows == [(NOW - timedelta(days=365), NOW)]
    assert events.windows == [(NOW - timedelta(days=90), NOW)]  # its own 90 days, no more


# -- the sweep, end to end on moto ----------------------------------------------------


def test_the_sweep_with_a_lake_store_names_who_made_year_old_drift(
    aws: None, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """LookupEvents keeps 90 days; a change made 200 days ago is found in the store."""
    clients = ClientCache()
    group = open_ssh_by_hand(clients.client("ec2", REGION))
    specs = tmp_path / "policies" / "security_groups"
    specs.mkdir(parents=True)
    (specs / "web.yaml").write_text(
        f"kind: security_group\nname: web\nregion: {REGION}\ndescription: web\ningress: []\n"
    )
    url, received = webhook
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(str(tmp_path / "policies"), clients),
        notifiers=[notifier_for(url, "json", sleep=lambda _: None)],
        regions=[REGION],
        state=MemoryStateStore(),
        clock=lambda: NOW,
    )
    settings = SweepSettings(regions=(REGION,), lake_store=STORE, lake_days=365)
    service = sweep_service(runtime, settings)
    assert isinstance(service.lookup, LakeLookup)  # LookupEvents off (0 hours), Lake on
    service.lookup._sleep = Sleeps()
    # the very client the sweep's lookup will ask: the store's region, this account
    stub = Stubber(clients.client("cloudtrail", STORE_REGION))
    when = (NOW - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = ingress_record(group, time=when, who="alice", event_id="e-lake")
    asked: list[str] = []

    def started(params: dict[str, Any], **_: Any) -> None:
        asked.append(params["QueryStatement"])

    # two new drifts, two queries: ours, and moto's default group (unmanaged here); the
    # store answers both with alice's write, which routes to our group only
    for _ in range(2):
        stub.add_response("start_query", {"QueryId": QUERY_ID}, {"QueryStatement": ANY})
        stub.add_response("get_query_results", results("RUNNING"), polled())
        stub.add_response("get_query_results", results("FINISHED", [lake_row(record)]), polled())
    clients.client("cloudtrail", STORE_REGION).meta.events.register(
        "provide-client-params.cloudtrail.StartQuery", started
    )
    with stub:
        sweep_in_process(service)
        stub.assert_no_pending_responses()
    (alert,) = [r for r in received if r.get("id") == group]
    assert alert["actor"]["source"] == "lookup"
    assert alert["actor"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert alert["actor"]["event_id"] == "e-lake"
    assert alert["actor"]["event_time"] == when
    assert "(probably:" in alert["text"]
    assert "CloudTrail event: e-lake" in alert["text"]
    digest = [r for r in received if r.get("type") == "sweep_digest"][-1]
    assert f"probably arn:aws:iam::{ACCOUNT}:user/alice" in digest["text"]
    (ours,) = [q for q in asked if f"'{group}'" in q]
    since = (NOW - timedelta(days=365)).strftime("%Y-%m-%d %H:%M:%S")
    assert f"eventtime >= '{since}'" in ours and f"FROM {STORE_ID} " in ours


def test_the_lambda_settings_chain_lake_before_event_history(aws: None) -> None:
    clients = ClientCache()
    runtime = build_runtime(clients=clients, regions=[REGION], clock=lambda: NOW)
    env = {"SETPOINT_ACTOR_LAKE_EVENT_DATA_STORE": STORE_ARN, "SETPOINT_REGIONS": REGION}
    service = sweep_service(runtime, settings_from_env(env), runs=None)
    lookup = service.lookup
    assert isinstance(lookup, FirstFound)
    lake, events = lookup.lookups
    assert isinstance(lake, LakeLookup) and isinstance(events, CloudTrailLookup)
    assert lake.lookback == timedelta(days=365) and events.lookback == timedelta(days=90)
    assert lake.store.region == STORE_REGION
