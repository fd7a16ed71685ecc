"""Who probably made drift only the sweep saw, from a CloudTrail Lake event data store.

`LookupEvents` keeps 90 days of one account and region. An event data store keeps what it
was given for as long as it is retained (years), often for a whole organization in one
place. With SETPOINT_ACTOR_LAKE_EVENT_DATA_STORE set, `LakeLookup` runs one SQL query per
new drift (`StartQuery`), waits for it with a bounded backoff and reads its rows
(`GetQueryResults`, paged by `NextToken`). Each row is turned back into a CloudTrail record
and handed to the same `choose_actor` LookupEvents' answers go through, so the actor is
"probably" the newest successful write the event table routes to this very resource, with
the event it came from.

The query is a prefilter (the account, the region, the kind's watched eventSource and
eventNames, no errorCode, the resource's name somewhere in the request or response);
`choose_actor` decides. Every value placed in the SQL text is checked against a strict
pattern first, so a resource name cannot change the query. boto3 stays out: the client
comes from the caller.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError
from chalicelib.kinds.registry import FAMILY_OF
from chalicelib.model import GLOBAL_REGION, Finding
from chalicelib.sweep.lookup import DEFAULT_MAX_LOOKUPS, LookupResult, choose_actor

DEFAULT_LAKE_DAYS = 365
MAX_LAKE_DAYS = 3653  # ten years: the longest an event data store retains
ROW_LIMIT = 50  # newest first: the match is nearly always among the first rows
PAGE_SIZE = 50
MAX_PAGES = 3
MAX_WAIT_SECONDS = 60.0  # per query; the shard goes on without an actor after that
FIRST_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 8.0
RETRIES = 4  # throttled or too many queries at once: back off, then give up
_RETRIED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "MaxConcurrentQueriesException",
    }
)
_RUNNING = frozenset({"QUEUED", "RUNNING"})

_STORE_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):cloudtrail:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":eventdatastore/(?P<id>[A-Za-z0-9-]{1,64})"
)
_STORE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
# what may appear between quotes in the SQL text: ids, names, ARNs (no quote, no backslash)
_SAFE = re.compile(r"[A-Za-z0-9_+=,.@:/*-]{1,512}")
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_ACCOUNT = re.compile(r"\d{12}")


@dataclass(frozen=True)
class EventDataStore:
    """The event data store as the setting names it: its id (the SQL table) and, from an
    ARN, the region its queries run in (None: the Lambda's own)."""

    id: str
    region: str | None = None
    arn: str | None = None

    @property
    def account(self) -> str | None:
        """The owner's account, from an ARN (an organization's store may be the
        management account's, queried from a delegated administrator)."""
        return self.arn.split(":")[4] if self.arn else None


def parse_event_data_store(name: str, text: str | None) -> EventDataStore | None:
    """SETPOINT_ACTOR_LAKE_EVENT_DATA_STORE: an event data store ARN or its id; blank: none."""
    value = (text or "").strip()
    if not value:
        return None
    match = _STORE_ARN.fullmatch(value)
    if match:
        return EventDataStore(match["id"], match["region"], value)
    if _STORE_ID.fullmatch(value):
        return EventDataStore(value)
    raise ConfigError(
        f"{name}={value!r} is neither an event data store ARN "
        "(arn:aws:cloudtrail:REGION:ACCOUNT:eventdatastore/ID) nor its id"
    )


class LakeQueryError(Exception):
    """The query could not run or did not finish: said in the lookup's log, never raised
    past `LakeLookup.find`."""


def _quoted(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        raise LakeQueryError(f"{what} {value!r} cannot be put in a query")
    return f"'{value}'"


def _sql_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def build_query(
    store: str,
    *,
    name: str,
    account: str,
    region: str,
    sources: Sequence[str],
    events: Sequence[str],
    since: datetime,
    until: datetime,
) -> str:
    """The SQL for one resource's successful writes between `since` and `until`, newest
    first. Raises LakeQueryError when any value is not safe to quote."""
    if not _STORE_ID.fullmatch(store):
        raise LakeQueryError(f"event data store id {store!r} cannot name a table")
    quoted = _quoted(name, _SAFE, "resource name")
    source_list = ", ".join(_quoted(s, _SAFE, "eventSource") for s in sources)
    event_list = ", ".join(_quoted(e, _SAFE, "eventName") for e in events)
    request = "json_format(CAST(requestparameters AS JSON))"
    response = "json_format(CAST(responseelements AS JSON))"
    return (
        "SELECT eventid, eventtime, eventversion, eventtype, eventsource, eventname, "
        "awsregion, recipientaccountid, readonly, errorcode, sourceipaddress, useragent, "
        "useridentity.type AS identity_type, useridentity.arn AS identity_arn, "
        "useridentity.accountid AS identity_account, "
        "useridentity.principalid AS identity_principal, "
        "useridentity.invokedby AS identity_invoked_by, "
        "useridentity.sessioncontext.sessionissuer.arn AS issuer_arn, "
        f"{request} AS request_parameters, {response} AS response_elements "
        f"FROM {store} "
        f"WHERE eventtime >= '{_sql_time(since)}' AND eventtime <= '{_sql_time(until)}' "
        "AND errorcode IS NULL "
        f"AND recipientaccountid = {_quoted(account, _ACCOUNT, 'account')} "
        f"AND awsregion = {_quoted(region, _REGION, 'region')} "
        f"AND eventsource IN ({source_list}) AND eventname IN ({event_list}) "
        f"AND (strpos({request}, {quoted}) > 0 OR strpos({response}, {quoted}) > 0) "
        f"ORDER BY eventtime DESC LIMIT {ROW_LIMIT}"
    )


def _nested(value: Any) -> Any:
    """Lake keeps request and response values as strings, nested objects as JSON text."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _map(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    return {str(k): _nested(v) for k, v in loaded.items()}


def _iso(text: str | None) -> str | None:
    """Lake's `2026-10-23 02:00:00.000` as the record's `2026-10-23T02:00:00Z`."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return text
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_to_record(row: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """One `QueryResultRows` row (a list of one-column maps) as a CloudTrail record."""
    columns: dict[str, str | None] = {}
    for cell in row:
        for key, value in cell.items():
            columns[key.lower()] = value
    identity: dict[str, Any] = {
        "type": columns.get("identity_type"),
        "arn": columns.get("identity_arn"),
        "accountId": columns.get("identity_account"),
        "principalId": columns.get("identity_principal"),
    }
    if columns.get("identity_invoked_by"):
        identity["invokedBy"] = columns["identity_invoked_by"]
    if columns.get("issuer_arn"):
        identity["sessionContext"] = {"sessionIssuer": {"arn": columns["issuer_arn"]}}
    return {
        "eventVersion": columns.get("eventversion") or "1.08",
        "userIdentity": {k: v for k, v in identity.items() if v is not None},
        "eventTime": _iso(columns.get("eventtime")),
        "eventSource": columns.get("eventsource"),
        "eventName": columns.get("eventname"),
        "awsRegion": columns.get("awsregion"),
        "sourceIPAddress": columns.get("sourceipaddress"),
        "userAgent": columns.get("useragent"),
        "errorCode": columns.get("errorcode"),
        "requestParameters": _map(columns.get("request_parameters")),
        "responseElements": _map(columns.get("response_elements")),
        "readOnly": columns.get("readonly"),
        "eventID": columns.get("eventid"),
        "eventType": columns.get("eventtype") or "AwsApiCall",
        "recipientAccountId": columns.get("recipientaccountid"),
    }


def _entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record in the shape `choose_actor` reads (LookupEvents' `Events[]` entry)."""
    return {"CloudTrailEvent": json.dumps(record), "EventTime": record.get("eventTime")}


class LakeLookup:
    """One CloudTrail Lake query per new drift, in the event data store's region.

    `client_for(region)` returns a CloudTrail client there (the sweeping account's own
    credentials: the store is queried where it lives, for every account it holds).
    """

    def __init__(
        self,
        store: EventDataStore,
        client_for: Callable[[str | None], Any],
        *,
        lookback: timedelta = timedelta(days=DEFAULT_LAKE_DAYS),
        max_lookups: int = DEFAULT_MAX_LOOKUPS,
        max_wait: float = MAX_WAIT_SECONDS,
        own_account: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        # another account's store is named by its owner in every call (own_account None:
        # the store is taken to be this account's)
        owner = store.account
        differs = owner is not None and own_account is not None and owner != own_account
        self._owner = {"EventDataStoreOwnerAccountId": owner} if differs else {}
        self._client_for = client_for
        self.lookback = lookback
        self.max_lookups = max_lookups
        self.max_wait = max_wait
        self._sleep = sleep

    def find(self, finding: Finding, since: datetime, until: datetime) -> LookupResult:
        """The likely actor of `finding`'s drift between `since` and `until`."""
        family = FAMILY_OF.get(finding.kind)
        name = family.history_name(finding) if family is not None else None
        if family is None or not name:
            return LookupResult(None, 0, "no name to look the resource up by")
        region = finding.region
        if region == GLOBAL_REGION or not region:
            region = family.events_region or "us-east-1"
        events = sorted({row.event_name for row in family.rows if row.kind == finding.kind})
        requests = 0
        try:
            query = build_query(
                self.store.id,
                name=name,
                account=finding.account or "",
                region=region,
                sources=family.event_sources,
                events=events,
                since=since,
                until=until,
            )
            client = self._client_for(self.store.region)
            started, count = self._call(client.start_query, QueryStatement=query, **self._owner)
            requests += count
            rows, count = self._rows(client, str(started["QueryId"]))
            requests += count
        except LakeQueryError as exc:
            return LookupResult(None, requests, f"CloudTrail Lake: {exc}")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            return LookupResult(None, requests, f"CloudTrail Lake refused ({code})")
        except BotoCoreError as exc:
            return LookupResult(None, requests, f"CloudTrail Lake failed: {exc}")
        except NotImplementedError:  # an emulator (moto) that lacks Lake queries
            return LookupResult(None, requests, "CloudTrail Lake is not implemented here")
        actor = choose_actor(finding, [_entry(row_to_record(row)) for row in rows])
        return LookupResult(actor, requests)

    def _rows(self, client: Any, query_id: str) -> tuple[list[Any], int]:
        """Every row of the finished query (at most MAX_PAGES pages), polling with a
        doubling wait while it is queued or running, for at most `max_wait` seconds."""
        requests = 0
        waited = 0.0
        delay = FIRST_POLL_SECONDS
        params: dict[str, Any] = {
            "QueryId": query_id,
            "MaxQueryResults": PAGE_SIZE,
            **self._owner,
        }
        rows: list[Any] = []
        pages = 0
        while True:
            answer, count = self._call(client.get_query_results, **params)
            requests += count
            status = answer.get("QueryStatus")
            if status in _RUNNING:
                if waited + delay > self.max_wait:
                    raise LakeQueryError(
                        f"query {query_id} still {str(status).lower()} after {waited:g} s"
                    )
                self._sleep(delay)
                waited += delay
                delay = min(delay * 2, MAX_POLL_SECONDS)
                continue
            if status != "FINISHED":
                why = answer.get("ErrorMessage") or "no reason given"
                raise LakeQueryError(f"query {query_id} {str(status).lower()}: {why}")
            rows.extend(answer.get("QueryResultRows") or [])
            pages += 1
            token = answer.get("NextToken")
            if not token or pages >= MAX_PAGES:
                return rows, requests
            params["NextToken"] = token

    def _call(self, operation: Callable[..., Any], **params: Any) -> tuple[Any, int]:
        """The call, retried with a doubling wait while throttled or over Lake's limit of
        concurrent queries."""
        for attempt in range(RETRIES + 1):
            try:
                return operation(**params), attempt + 1
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in _RETRIED or attempt == RETRIES:
                    raise
                self._sleep(min(MAX_POLL_SECONDS, FIRST_POLL_SECONDS * 2 ** (attempt + 1)))
        raise AssertionError("unreachable")  # the loop returns or raises
