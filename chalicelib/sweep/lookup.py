"""Who probably made drift that only the sweep saw: CloudTrail's event history, searched.

When the sweep finds new drift that no event announced (the trail was off, the event was
lost, the change predates Setpoint), `CloudTrailLookup` asks `LookupEvents` for the
management events naming that resource (`ResourceName`), newest first, and
`choose_actor` (pure) keeps the newest successful write whose eventName is one of the
kind's event rows and that, routed through the event table, names this very resource.
That actor is attached with `source="lookup"`: chat and reports call it "probably".

`LookupEvents` allows 2 requests per second per account and region, so every request
waits its turn on a `Pacer` (injected clock and sleep), a throttled one backs off and
is retried, and `attach_actors` looks up only findings the state has no record of (a
new drift): once alerted, the record remembers it, so a later sweep never asks again.
boto3 stays in the adapter, which takes a client factory in its constructor.

The window is the whole lookback unless the resource was seen in sync: its shard's last
complete sweep (`SweptMark`) compared it, against the very specs in force now, and left no
record. Then its drift is younger than that sweep, and `in_sync_since` starts the search
there, so an older write to the resource is never named as the probable author.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import EventError
from chalicelib.events.record import parse_payload
from chalicelib.events.route import Routed, route
from chalicelib.kinds.registry import FAMILY_OF
from chalicelib.model import ACTOR_FROM_LOOKUP, GLOBAL_REGION, GUARD, Actor, Finding, Status
from chalicelib.noise.model import SpecNoise
from chalicelib.ports import StateStore
from chalicelib.state import StateStoreError, record_key
from chalicelib.state.record import StateRecord, parse_iso
from chalicelib.sweep.runs import SweptMark

logger = logging.getLogger("setpoint")

# LookupEvents: 2 requests per second per account and region (CloudTrail quotas)
REQUESTS_PER_SECOND = 2.0
PAGE_SIZE = 50  # the most LookupEvents returns per page
DEFAULT_MAX_PAGES = 3  # newest first: a match is nearly always on the first page
DEFAULT_MAX_LOOKUPS = 25  # per shard, so a burst of new drift cannot outrun the timeout
DEFAULT_LOOKBACK = timedelta(days=90)  # all the history LookupEvents keeps
THROTTLE_RETRIES = 4
_THROTTLED = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
# drift a person made: a missing resource may have been deleted, an unmanaged one created
LOOKED_UP = frozenset({Status.DRIFTED, Status.UNMANAGED, Status.MISSING})
# a narrowed window starts this long before the previous sweep started reading: a write
# made just before it may not have shown in a read made just after (eventual consistency)
IN_SYNC_MARGIN = timedelta(minutes=1)


def _matches(finding: Finding, routed: Routed) -> bool:
    for ref in routed.refs:
        if ref.kind is not finding.kind:
            continue
        if ref.id and finding.id:
            if ref.id == finding.id:
                return True
        elif ref.name and ref.name == finding.name:
            return True
    return False


def choose_actor(finding: Finding, events: Iterable[Mapping[str, Any]]) -> Actor | None:
    """The newest successful write among `events` (LookupEvents `Events` entries) that
    the event table routes to `finding`'s resource, as an Actor with source "lookup".

    Failed and read-only calls, calls no kind watches, other resources, and entries whose
    `CloudTrailEvent` is not a record are passed over: history is a hint, never an error.
    """
    best: tuple[str, Actor] | None = None
    for event in events:
        text = event.get("CloudTrailEvent")
        if not isinstance(text, str):
            continue
        try:
            records = parse_payload(json.loads(text))
        except (ValueError, EventError):
            continue
        for record in records:
            routed = route(record)
            if not isinstance(routed, Routed) or not _matches(finding, routed):
                continue
            when = routed.actor.event_time or _iso(event.get("EventTime")) or ""
            if best is None or when > best[0]:
                best = (when, dataclasses.replace(routed.actor, source=ACTOR_FROM_LOOKUP))
    return best[1] if best else None


def _iso(value: object) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, str) else None


class Pacer:
    """At most `rate` requests a second per key (account, region), across threads."""

    def __init__(
        self,
        rate: float = REQUESTS_PER_SECOND,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def wait(self, key: tuple[str, str]) -> None:
        """Take the next free slot for `key`, sleeping until it comes."""
        with self._lock:
            now = self._monotonic()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + self.interval
        if slot > now:
            self._sleep(slot - now)

    def back_off(self, key: tuple[str, str], seconds: float) -> None:
        """AWS throttled us anyway (another process shares the quota): push the key back."""
        with self._lock:
            now = self._monotonic()
            self._next[key] = max(self._next.get(key, now), now + seconds)


@dataclass(frozen=True)
class LookupResult:
    actor: Actor | None
    requests: int
    error: str | None = None


class CloudTrailLookup:
    """`LookupEvents` by ResourceName in the resource's account and region.

    `client_for(account, region)` returns a CloudTrail client there (the sweep's assumed
    read-only role in member accounts); it is built by the caller, never here.
    """

    def __init__(
        self,
        client_for: Callable[[str | None, str], Any],
        *,
        pacer: Pacer | None = None,
        lookback: timedelta = DEFAULT_LOOKBACK,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_lookups: int = DEFAULT_MAX_LOOKUPS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client_for = client_for
        self.pacer = pacer or Pacer(sleep=sleep)
        self.lookback = lookback
        self.max_pages = max_pages
        self.max_lookups = max_lookups
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
        key = (finding.account or "", region)
        events: list[Mapping[str, Any]] = []
        requests = 0
        token: str | None = None
        try:
            client = self._client_for(finding.account, region)
            for _ in range(self.max_pages):
                page = self._page(client, key, name, since, until, token)
                requests += page[1]
                answer = page[0]
                events = list(answer.get("Events", []))
                actor = choose_actor(finding, events)
                if actor is not None:  # newest first: the first page with one has the newest
                    return LookupResult(actor, requests)
                token = answer.get("NextToken")
                if not token:
                    break
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            return LookupResult(None, requests, f"LookupEvents refused ({code})")
        except (BotoCoreError, EventError) as exc:
            return LookupResult(None, requests, f"LookupEvents failed: {exc}")
        except NotImplementedError:  # an emulator (moto in process) that lacks the call
            return LookupResult(None, requests, "LookupEvents is not implemented here")
        return LookupResult(None, requests)

    def _page(
        self,
        client: Any,
        key: tuple[str, str],
        name: str,
        since: datetime,
        until: datetime,
        token: str | None,
    ) -> tuple[Mapping[str, Any], int]:
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": name}],
            "StartTime": since,
            "EndTime": until,
            "MaxResults": PAGE_SIZE,
        }
        if token:
            params["NextToken"] = token
        for attempt in range(THROTTLE_RETRIES + 1):
            self.pacer.wait(key)
            try:
                answer: Mapping[str, Any] = client.lookup_events(**params)
                return answer, attempt + 1
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in _THROTTLED or attempt == THROTTLE_RETRIES:
                    raise
                self.pacer.back_off(key, min(8.0, 0.5 * 2**attempt))
        raise AssertionError("unreachable")  # the loop returns or raises


class ActorLookup(Protocol):
    """A history searched for who made a finding's drift: `LookupEvents` here, CloudTrail
    Lake in `sweep.lake`, or several in turn (`FirstFound`)."""

    lookback: timedelta
    max_lookups: int

    def find(self, finding: Finding, since: datetime, until: datetime) -> LookupResult: ...


class FirstFound:
    """Each history in turn until one names an actor: CloudTrail Lake's years first, then
    LookupEvents' 90 days (a store created last month knows less than the event history).
    Each searches its own window: `since`, or its own lookback if that is shorter."""

    def __init__(self, lookups: Sequence[ActorLookup]) -> None:
        if not lookups:
            raise ValueError("FirstFound needs at least one lookup")
        self.lookups = tuple(lookups)
        self.lookback = max(lookup.lookback for lookup in self.lookups)
        self.max_lookups = min(lookup.max_lookups for lookup in self.lookups)

    def find(self, finding: Finding, since: datetime, until: datetime) -> LookupResult:
        requests = 0
        errors: list[str] = []
        for lookup in self.lookups:
            result = lookup.find(finding, max(since, until - lookup.lookback), until)
            requests += result.requests
            if result.error:
                errors.append(result.error)
            if result.actor is not None:
                return LookupResult(result.actor, requests, "; ".join(errors) or None)
        return LookupResult(None, requests, "; ".join(errors) or None)


def needs_lookup(finding: Finding, previous: StateRecord | None) -> bool:
    """New drift no event explains: nothing remembered yet (or only an unreadable spell)."""
    if finding.actor is not None or finding.status not in LOOKED_UP:
        return False
    if finding.kind not in FAMILY_OF or finding.kind is GUARD:
        # Setpoint's own sight ("CloudTrail coverage") is no resource event history names
        return False
    return previous is None or (previous.status is Status.UNKNOWN and not previous.last_actors)


def in_sync_since(
    finding: Finding,
    mark: SweptMark | None,
    specs_version: str | None,
    noise: Mapping[str, SpecNoise],
    today: date,
) -> datetime | None:
    """Since when `finding`'s resource (with no alert record) is known to have been in
    sync: the start of its shard's last complete sweep, less `IN_SYNC_MARGIN`. None (search
    the whole lookback) when there is no such sweep, the specs are not the ones it compared
    against (changed, added, deleted, or of a source that cannot tell), it did not cover
    the finding's kind or region, or an exception of the finding's spec has lapsed since
    (what it hid then shows now, however old)."""
    if mark is None or specs_version is None or mark.specs != specs_version:
        return None
    if finding.kind.value not in mark.kinds or finding.region not in mark.regions:
        return None
    started = parse_iso(mark.started_at)
    spec_noise = noise.get(finding.spec or "")
    for exception in spec_noise.exceptions if spec_noise is not None else ():
        try:
            until = date.fromisoformat(exception.until)
        except ValueError:
            return None
        if started.date() <= until < today:
            return None
    return started - IN_SYNC_MARGIN


@dataclass
class Attached:
    """The findings (looked-up actors attached), the records read on the way (the digest
    reuses them for "since when"), and what the lookups did, for the log."""

    findings: list[Finding]
    records: dict[str, StateRecord | None]
    looked_up: int = 0
    found: int = 0
    requests: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    skipped: int = 0  # over the per-shard cap
    narrowed: int = 0  # searched only since the resource was last seen in sync


def attach_actors(
    lookup: ActorLookup,
    state: StateStore,
    findings: Sequence[Finding],
    now: datetime,
    seen_since: Callable[[Finding], datetime | None] | None = None,
) -> Attached:
    """Each new drift without an actor, with the one CloudTrail's history names, if any.

    `seen_since(finding)`: when a resource with no record was last seen in sync (see
    `in_sync_since`), or None; its lookup then searches only from there.
    """
    out = Attached(list(findings), {})
    for index, finding in enumerate(findings):
        if finding.actor is not None or finding.status not in LOOKED_UP:
            continue
        key = record_key(finding)
        try:
            previous = state.get(key)
        except StateStoreError:
            continue  # delivery will meet the same error and report it
        out.records[key] = previous
        if not needs_lookup(finding, previous):
            continue
        if out.looked_up >= lookup.max_lookups:
            out.skipped += 1
            continue
        out.looked_up += 1
        since = now - lookup.lookback
        if previous is None and seen_since is not None:  # an unknown record: never seen
            seen = seen_since(finding)
            if seen is not None and since < seen < now:
                since = seen
                out.narrowed += 1
        result = lookup.find(finding, since, now)
        out.requests += result.requests
        if result.error:
            out.errors.append(f"{finding.kind}:{finding.id or finding.name}: {result.error}")
        if result.actor is not None:
            out.found += 1
            out.findings[index] = dataclasses.replace(finding, actor=result.actor)
    if out.looked_up or out.skipped:
        logger.info(
            "actor_lookup",
            extra={
                "looked_up": out.looked_up,
                "found": out.found,
                "requests": out.requests,
                "skipped": out.skipped,
                "narrowed": out.narrowed,
                "errors": out.errors[:10],
            },
        )
    return out
