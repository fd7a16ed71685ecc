"""What Setpoint remembers about one resource between invocations.

One `StateRecord` per resource that is (or was just) off its spec: enough to tell a
duplicate from a new drift (the fingerprint), to thread follow-ups under the first alert
(the message refs), to say what changed since (the changes as last alerted) and how long it
was off (first seen). Resources in sync have no record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.model import Actor, Change, Finding, Kind, Status
from chalicelib.notify.alert import MessageRef

MAX_ACTORS = 5
_NO_ACCOUNT = "-"
_NO_NAME = "?"


@dataclass(frozen=True)
class StateRecord:
    """The remembered state of one resource.

    `fingerprint` is the drift last alerted (see `fingerprint.py`); `unread` is the
    fingerprint of an `unknown` reported on top of an open drift (the drift stays open).
    `pending` marks drift caused by a spec change (code ahead of cloud), not an unapproved
    cloud change. `version` grows by one on every write, for conditional writes.
    Times are ISO 8601 in UTC.
    """

    key: str
    kind: Kind
    account: str | None
    region: str
    resource_id: str | None
    name: str | None
    status: Status
    fingerprint: str
    first_seen: str
    last_alert_at: str
    updated_at: str
    last_actors: tuple[str, ...] = ()
    messages: tuple[MessageRef, ...] = ()
    last_changes: tuple[Change, ...] = ()
    pending: bool = False
    unread: str | None = None
    version: int = 1
    # who made the drift as last known (an event's actor, or a looked-up one): the sweep's
    # report shows it on every later run, when the finding itself carries none
    last_actor: Actor | None = None


def _key(finding: Finding, label: str) -> str:
    return "#".join((finding.account or _NO_ACCOUNT, finding.region, finding.kind.value, label))


def record_key(finding: Finding) -> str:
    """account#region#kind#id; the name stands in when the id is not known."""
    return _key(finding, finding.id or finding.name or _NO_NAME)


def alias_key(finding: Finding) -> str | None:
    """The key this resource had while only its name was known (a `missing` found by name).

    Only a finding naming both id and name has one; it lets the record of "the spec names a
    group that does not exist" follow the resource once it exists and has an id.
    """
    if finding.id and finding.name and finding.name != finding.id:
        return _key(finding, finding.name)
    return None


def iso(moment: datetime) -> str:
    """`moment` in UTC, to the second; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def push_actor(actors: tuple[str, ...], arn: str | None) -> tuple[str, ...]:
    """Newest first, each ARN once, at most `MAX_ACTORS`."""
    if not arn:
        return actors
    return (arn, *(a for a in actors if a != arn))[:MAX_ACTORS]


def with_messages(record: StateRecord, refs: Iterable[MessageRef]) -> StateRecord:
    """The record once its alert was delivered: where it went, for follow-ups to thread.

    The version moves on, so write it with `expected_version=record.version`.
    """
    return dataclasses.replace(record, messages=tuple(refs), version=record.version + 1)
