"""Alert rules: from the last remembered state and a fresh finding, what chat is told.

`decide` is pure (no clock, no I/O): the same inputs always give the same decision, so the
rules are tested as a table. `apply_finding` is the thin loop around it that reads the
record, decides, and writes conditionally; a writer that loses the race re-reads and
decides again, so two Lambdas seeing the same new drift post it once.

The rules, in short (previous = the stored record, fp = the finding's fingerprint):

* in sync, nothing stored -> nothing (no alert, no record).
* became drifted / unmanaged / missing -> NEW; PENDING_APPLY instead when a spec change
  caused it (`cause="spec_change"`; the record is then `pending`).
* same fp again (another event, a duplicate delivery, a sweep) -> nothing, unless the
  reminder interval has passed since the last alert -> REMINDER.
* different fp -> CHANGED (with the previously alerted changes). On a pending drift, a cloud
  change that adds anything outside the pending changes is unapproved: CHANGED and no longer
  pending; a spec change on top of drift with no unapproved change left -> PENDING_APPLY.
* back in sync -> BACK_TO_NORMAL, or APPLIED when the drift was pending and the cloud caught
  up; the record is deleted (a resource in sync has nothing worth remembering).
* a `missing` finding without a spec (see `model.gone_finding`) -> GONE (APPLIED if pending);
  on a drifted or missing record (a spec names the resource) it says nothing: the record
  stays open until a read that knows the spec reports the resource missing.
* critical findings (`model.is_critical`: what blinds Setpoint) are never deduplicated
  away: the same drift again from a new event (someone stops a stopped trail) -> NEW in
  the drift's thread, naming the new actor; sweeps and re-checks stay quiet as usual.
* unknown -> NEW once per distinct reason; on top of an open drift it never closes or
  replaces it (the drift's fingerprint and thread stay; only `unread` remembers the reason).

Every follow-up is threaded to the record's messages: the first alert of the drift.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from chalicelib.model import Finding, Status, is_critical, is_gone
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.state.errors import StateConflictError
from chalicelib.state.fingerprint import change_keys, fingerprint
from chalicelib.state.record import (
    StateRecord,
    alias_key,
    iso,
    parse_iso,
    push_actor,
    record_key,
    with_messages,
)
from chalicelib.state.store import StateStore

Cause = Literal["event", "sweep", "spec_change", "recheck"]

OPEN = frozenset({Status.DRIFTED, Status.MISSING, Status.UNMANAGED})
# statuses only a resource some spec names can have
SPECCED = frozenset({Status.DRIFTED, Status.MISSING})
# a quiet record is rewritten this often, so the store's expiry never forgets open drift
REFRESH_AFTER = timedelta(days=7)
DEFAULT_ATTEMPTS = 3


@dataclass(frozen=True)
class Decision:
    """What to tell chat (`alert`) and what to remember (`record`; None = delete the row).

    `previous` is the record the decision was made from; when `record is previous`
    nothing needs writing.
    """

    alert: Alert | None
    record: StateRecord | None
    previous: StateRecord | None = None

    @property
    def starts_thread(self) -> bool:
        """True when the alert's message refs should be stored with `with_messages`."""
        return self.alert is not None and self.record is not None and not self.record.messages


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _seconds_since(now: datetime, stamp: str) -> int:
    return max(0, int((now - parse_iso(stamp)).total_seconds()))


def decide(
    previous: StateRecord | None,
    finding: Finding,
    *,
    now: datetime,
    cause: Cause,
    reminder: timedelta | None,
) -> Decision:
    """Apply the alert rules (module docstring) to one finding."""
    now = _utc(now)
    fp = fingerprint(finding)
    if previous is None:
        return _first(finding, fp, now, cause)
    if (
        is_gone(finding)
        and previous.status in SPECCED
        and not previous.pending
        and cause != "spec_change"  # the push removed the spec that wanted it: it closes
    ):
        # a spec wanted it: "gone" (nobody wants it) would be wrong; the open drift stays
        # until a read with the spec in hand says `missing`
        return _quiet(previous, finding, now, None, unread=previous.unread)
    if finding.status is Status.IN_SYNC or is_gone(finding):
        return _close(previous, finding, now, cause)
    if finding.status is Status.UNKNOWN:
        return _unreadable(previous, finding, fp, now, reminder)
    return _open(previous, finding, fp, now, cause, reminder)


def _fresh(
    finding: Finding, fp: str, now: datetime, *, pending: bool, previous: StateRecord | None
) -> StateRecord:
    stamp = iso(now)
    return StateRecord(
        key=record_key(finding),
        kind=finding.kind,
        account=finding.account,
        region=finding.region,
        resource_id=finding.id,
        name=finding.name,
        status=finding.status,
        fingerprint=fp,
        first_seen=stamp,
        last_alert_at=stamp,
        updated_at=stamp,
        last_actors=push_actor(previous.last_actors if previous else (), _arn(finding)),
        last_actor=finding.actor or (previous.last_actor if previous else None),
        last_changes=finding.changes,
        pending=pending,
        version=previous.version + 1 if previous else 1,
    )


def _advance(
    previous: StateRecord, finding: Finding, now: datetime, **changes: object
) -> StateRecord:
    """The next version of a record: identity from the finding, the given fields changed."""
    fields: dict[str, object] = {
        "key": record_key(finding),
        "account": finding.account,
        "region": finding.region,
        "resource_id": finding.id,
        "name": finding.name,
        "last_actors": push_actor(previous.last_actors, _arn(finding)),
        "last_actor": finding.actor or previous.last_actor,
        "updated_at": iso(now),
        "version": previous.version + 1,
    }
    fields.update(changes)
    return dataclasses.replace(previous, **fields)  # type: ignore[arg-type]


def _arn(finding: Finding) -> str | None:
    return finding.actor.arn if finding.actor else None


def _first(finding: Finding, fp: str, now: datetime, cause: Cause) -> Decision:
    if finding.status is Status.IN_SYNC or is_gone(finding):
        return Decision(None, None)
    pending = cause == "spec_change" and finding.status in OPEN
    record = _fresh(finding, fp, now, pending=pending, previous=None)
    kind = AlertKind.PENDING_APPLY if pending else AlertKind.NEW
    return Decision(Alert(kind, finding, since=record.first_seen), record)


def _close(previous: StateRecord, finding: Finding, now: datetime, cause: Cause) -> Decision:
    if previous.pending and cause != "spec_change":
        kind = AlertKind.APPLIED
    elif is_gone(finding):
        kind = AlertKind.GONE
    else:
        kind = AlertKind.BACK_TO_NORMAL
    alert = Alert(
        kind,
        finding,
        thread=previous.messages,
        since=previous.first_seen,
        duration_seconds=_seconds_since(now, previous.first_seen),
        fixed_by=finding.actor,
        previous_changes=previous.last_changes,
    )
    return Decision(alert, None, previous)


def _unreadable(
    previous: StateRecord,
    finding: Finding,
    fp: str,
    now: datetime,
    reminder: timedelta | None,
) -> Decision:
    """An unknown: said once per reason; an open drift stays open underneath it."""
    seen = previous.fingerprint if previous.status is Status.UNKNOWN else previous.unread
    if fp == seen:
        return _quiet(previous, finding, now, reminder, unread=previous.unread)
    alert = Alert(AlertKind.NEW, finding, thread=previous.messages, since=previous.first_seen)
    if previous.status is Status.UNKNOWN:
        record = _advance(
            previous, finding, now, fingerprint=fp, last_alert_at=iso(now), last_changes=()
        )
    else:
        record = _advance(previous, finding, now, unread=fp, last_alert_at=iso(now))
    return Decision(alert, record, previous)


def _open(
    previous: StateRecord,
    finding: Finding,
    fp: str,
    now: datetime,
    cause: Cause,
    reminder: timedelta | None,
) -> Decision:
    if previous.status is Status.UNKNOWN:
        # the first drift we could actually see: a new story, with its own thread
        decision = _first(finding, fp, now, cause)
        record = decision.record
        assert record is not None
        record = dataclasses.replace(
            record,
            version=previous.version + 1,
            last_actors=push_actor(previous.last_actors, _arn(finding)),
            last_actor=finding.actor or previous.last_actor,
        )
        return Decision(decision.alert, record, previous)
    if fp == previous.fingerprint:
        if is_critical(finding) and cause == "event" and finding.actor is not None:
            return _told_again(previous, finding, now)
        return _quiet(previous, finding, now, reminder, unread=None)
    now_keys = change_keys(finding.changes)
    before_keys = change_keys(previous.last_changes)
    if cause == "spec_change":
        unapproved_left = not previous.pending and bool(now_keys & before_keys)
        pending = not unapproved_left
        kind = AlertKind.PENDING_APPLY if pending else AlertKind.CHANGED
    else:
        # on pending drift, only a change outside what was pending is unapproved
        pending = previous.pending and finding.status is previous.status and now_keys <= before_keys
        kind = AlertKind.CHANGED
    alert = Alert(
        kind,
        finding,
        thread=previous.messages,
        since=previous.first_seen,
        previous_changes=previous.last_changes,
        unapproved_over_pending=previous.pending and not pending and cause != "spec_change",
    )
    record = _advance(
        previous,
        finding,
        now,
        status=finding.status,
        fingerprint=fp,
        last_changes=finding.changes,
        last_alert_at=iso(now),
        pending=pending,
        unread=None,
    )
    return Decision(alert, record, previous)


def _told_again(previous: StateRecord, finding: Finding, now: datetime) -> Decision:
    """A critical drift acted on again: posted again, in its thread, with the new actor."""
    alert = Alert(AlertKind.NEW, finding, thread=previous.messages, since=previous.first_seen)
    return Decision(alert, _advance(previous, finding, now, last_alert_at=iso(now)), previous)


def _quiet(
    previous: StateRecord,
    finding: Finding,
    now: datetime,
    reminder: timedelta | None,
    *,
    unread: str | None,
) -> Decision:
    """Nothing new: a reminder if one is due, else remember only what is worth a write."""
    if reminder is not None and now - parse_iso(previous.last_alert_at) >= reminder:
        alert = Alert(
            AlertKind.REMINDER, finding, thread=previous.messages, since=previous.first_seen
        )
        record = _advance(previous, finding, now, last_alert_at=iso(now), unread=unread)
        return Decision(alert, record, previous)
    moved = (
        record_key(finding) != previous.key
        or push_actor(previous.last_actors, _arn(finding)) != previous.last_actors
        or unread != previous.unread
        or now - parse_iso(previous.updated_at) >= REFRESH_AFTER
    )
    if not moved:
        return Decision(None, previous, previous)
    return Decision(None, _advance(previous, finding, now, unread=unread), previous)


def apply_finding(
    store: StateStore,
    finding: Finding,
    *,
    now: datetime,
    cause: Cause,
    reminder: timedelta | None,
    attempts: int = DEFAULT_ATTEMPTS,
) -> Decision:
    """Read, decide, write conditionally; on a lost race read again and decide again.

    The write happens before anything is posted: it is the claim that this invocation,
    and no other, tells chat. Running out of attempts raises only when the last decision
    wanted to alert; a quiet one just reports "nothing to say". If the post then fails,
    hand the alert to the outbox, or call `release` so that a retry decides (and alerts)
    again.
    """
    key = record_key(finding)
    alias = alias_key(finding)
    for _ in range(attempts):
        previous = store.get(key)
        if previous is None and alias is not None:
            previous = store.get(alias)
        decision = decide(previous, finding, now=now, cause=cause, reminder=reminder)
        try:
            _write(store, decision)
        except StateConflictError:
            continue
        return decision
    if decision.alert is None:
        # decided on a fresh read that chat hears nothing; only bookkeeping (an actor, a
        # refresh) lost the race, and a burst of events on one resource must not fail for it
        return Decision(None, decision.previous, decision.previous)
    raise StateConflictError(f"{key}: still contended after {attempts} attempts")


def _write(store: StateStore, decision: Decision) -> None:
    previous, record = decision.previous, decision.record
    if record is None:
        if previous is not None:
            store.delete(previous.key, previous.version)
        return
    if record is previous:
        return
    if previous is None:
        store.put(record, expected_version=None)
    elif previous.key == record.key:
        store.put(record, expected_version=previous.version)
    else:
        store.put(record, expected_version=None)
        # another writer may have moved the name-keyed row on; ours is claimed either way
        with contextlib.suppress(StateConflictError):
            store.delete(previous.key, previous.version)


def remember_messages(
    store: StateStore,
    record: StateRecord,
    refs: tuple[MessageRef, ...],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> StateRecord | None:
    """Store where the first alert of a drift went, so follow-ups thread under it.

    Returns the stored record, or None when the drift moved on meanwhile (then there is no
    thread left to attach to).
    """
    if not refs:
        return record
    target = record
    for _ in range(attempts):
        updated = with_messages(target, refs)
        try:
            store.put(updated, expected_version=target.version)
            return updated
        except StateConflictError:
            current = store.get(record.key)
            if current is None or current.fingerprint != record.fingerprint or current.messages:
                return None
            target = current
    return None


def release(store: StateStore, decision: Decision) -> bool:
    """Undo the claim of an alert that could not be delivered, so a retry decides again.

    Returns False when someone else wrote in between (their decision stands).
    """
    previous, record = decision.previous, decision.record
    if record is previous or decision.alert is None:
        return False
    try:
        if record is None:
            assert previous is not None
            store.put(dataclasses.replace(previous, version=previous.version + 1), None)
        elif previous is None or previous.key != record.key:
            store.delete(record.key, record.version)
            if previous is not None:
                store.put(dataclasses.replace(previous, version=previous.version + 1), None)
        else:
            restored = dataclasses.replace(previous, version=record.version + 1)
            store.put(restored, expected_version=record.version)
    except StateConflictError:
        return False
    return True
