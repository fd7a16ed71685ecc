"""Coalescing: changes to one resource within a short window update one message.

Fifty-five rule changes on one group used to be one alert and 54 "drift changed" posts.
Now a message posted about a resource (the alert, or a follow-up) opens a window of
`SETPOINT_COALESCE_SECONDS`; a further change inside it is *folded*:

* a notifier that can edit (the Slack bot, `chat.update`) rewrites the message it posted
  in place: the drift as it is now, and "N further changes since the last message";
* the others hear nothing until the window ends; then one follow-up says how many
  changes arrived and shows the drift as it is. It is posted by the first read of the
  resource after the window (the re-check scheduled for the window's end, the next
  event, or the sweep): at most one follow-up per window.

What was folded is kept in a row beside the alert record (`coalesce#<record key>`, see
`state/rows.py`): the count, the changes chat last saw, the messages to edit. Writes are
conditional, so the count is exact with several Lambdas at once; the alert record still
takes the fingerprint of every change, so a retried event deduplicates as before.
"Back to normal" is never folded; it carries the count and closes the window.
A change that opens something to the world (or grants admin) that chat has not seen is
never folded either.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from chalicelib.model import Change, Finding
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.codec import from_data, to_data
from chalicelib.notify.quiet import is_alarming_change
from chalicelib.ports import Clock, RecheckQueue
from chalicelib.state.errors import StateConflictError
from chalicelib.state.record import iso, parse_iso, record_key
from chalicelib.state.rows import Row, RowStore, change_row
from chalicelib.state.transitions import Decision

logger = logging.getLogger("setpoint")

PREFIX = "coalesce#"
LINGER = timedelta(days=1)
FOLDABLE = frozenset({AlertKind.CHANGED})
# posting one of these opens a window on the resource
OPENS = frozenset({AlertKind.NEW, AlertKind.CHANGED, AlertKind.PENDING_APPLY, AlertKind.REMINDER})
CLOSES = frozenset({AlertKind.BACK_TO_NORMAL, AlertKind.APPLIED, AlertKind.GONE})

Leaves = Callable[[], Sequence[Any]]  # every notifier below the configured ones
LabelOf = Callable[[Any], str]  # a notifier's stable label (alerting.target_label)


@dataclasses.dataclass(frozen=True)
class Flush:
    """A follow-up owed for a window that ended: the alert, to whom (None: everyone that
    posts), and the row as it was before this claim (to give the claim back)."""

    alert: Alert
    only: tuple[str, ...] | None
    key: str
    before: Row
    claimed: Row


def window_key(alert_or_key: Alert | str) -> str:
    key = alert_or_key if isinstance(alert_or_key, str) else record_key(alert_or_key.finding)
    return PREFIX + key


def _changes(body: dict[str, Any]) -> tuple[Change, ...]:
    changes: tuple[Change, ...] = from_data(
        tuple[Change, ...], body.get("changes", []), "coalesce.changes"
    )
    return changes


class Coalescer:
    """Folds CHANGED alerts on a resource into the message its window opened with."""

    def __init__(
        self,
        rows: RowStore,
        seconds: int,
        *,
        clock: Clock,
        leaves: Leaves,
        label_of: LabelOf,
        recheck: RecheckQueue | None = None,
    ) -> None:
        self._rows = rows
        self._window = timedelta(seconds=seconds)
        self._clock = clock
        self._leaves = leaves
        self._label_of = label_of
        self._recheck = recheck

    def screen(self, alert: Alert, decision: Decision) -> Alert | None:
        """The alert to post (maybe carrying a count), or None when it was folded."""
        key = window_key(alert)
        if alert.kind in CLOSES:
            row = self._rows.read(key)
            if row is None:
                return alert
            self._rows.remove(key)
            folded = int(row.body.get("folded", 0))
            if folded <= 0:
                return alert
            return dataclasses.replace(alert, coalesced=folded, updated_at=row.body.get("latest"))
        if alert.kind not in FOLDABLE or alert.unapproved_over_pending:
            return alert
        now = self._clock()
        seen = self._rows.read(key)
        if seen is None or now >= parse_iso(seen.body["until"]):
            return alert
        if _newly_alarming(alert.finding.changes, _changes(seen.body)):
            return alert  # chat must see this one now

        def fold(body: dict[str, Any] | None) -> dict[str, Any] | None:
            if body is None or now >= parse_iso(body["until"]):
                return None
            body["folded"] = int(body.get("folded", 0)) + 1
            body["latest"] = iso(now)
            return body

        before, after = change_row(self._rows, key, fold, now + self._window + LINGER)
        if after is None or after is before:
            return alert  # the window closed meanwhile: post as usual
        edited = self._edit(alert, after.body, now)
        self._remember_edits(key, after, edited, now)
        if int(after.body["folded"]) == 1:
            self._schedule_flush(alert, parse_iso(after.body["until"]) - now)
        return None

    def owed(self, finding: Finding, decision: Decision) -> Flush | None:
        """On a quiet read of an open drift: the follow-up a finished window owes, claimed
        (the row's count goes back to 0 first, so only one invocation posts it)."""
        record = decision.record
        if decision.alert is not None or record is None:
            return None
        key = window_key(record.key)
        row = self._rows.read(key)
        now = self._clock()
        if row is None or int(row.body.get("folded", 0)) <= 0:
            return None
        if now < parse_iso(row.body["until"]):
            return None
        targets = [str(t) for t in row.body.get("targets", [])]
        edited = {str(e) for e in row.body.get("edited", [])}
        only = tuple(t for t in targets if t not in edited) if targets else None
        if only == ():
            self._rows.remove(key)  # every message was edited in place: nothing owed
            return None
        claimed_body = {**row.body, "folded": 0}
        try:
            claimed = self._rows.write(key, claimed_body, row.version, now + LINGER)
        except StateConflictError:
            return None  # another invocation took it
        alert = Alert(
            AlertKind.CHANGED,
            finding,
            thread=record.messages,
            since=record.first_seen,
            previous_changes=_changes(row.body),
            coalesced=int(row.body["folded"]),
            updated_at=row.body.get("latest"),
        )
        return Flush(alert, only, key, row, claimed)

    def give_back(self, flush: Flush) -> None:
        """The follow-up could not be posted (and not parked): owe it again."""
        try:
            self._rows.write(flush.key, flush.before.body, flush.claimed.version, self._expiry())
        except StateConflictError:
            logger.warning("coalesce_give_back_lost", extra={"key": flush.key})

    def posted(self, alert: Alert, decision: Decision, refs: Sequence[MessageRef]) -> None:
        """A message went out: open (or restart) the window, or close it for good."""
        key = window_key(alert)
        if alert.kind in CLOSES or decision.record is None:
            self._rows.remove(key)
            return
        if alert.kind not in OPENS:
            return
        now = self._clock()
        body = {
            "kind": alert.kind.value,
            "opened": iso(now),
            "until": iso(now + self._window),
            "folded": 0,
            "changes": to_data(list(alert.finding.changes)),
            "posted": [{"notifier": r.notifier, "ref": r.ref} for r in refs],
            "targets": sorted({self._label_of(n) for n in self._owners(refs)}),
            "edited": [],
        }
        change_row(self._rows, key, lambda _old: body, now + self._window + LINGER)

    def _expiry(self) -> datetime:
        return self._clock() + self._window + LINGER

    def _owners(self, refs: Sequence[MessageRef]) -> list[Any]:
        return [n for ref in refs for n in self._leaves() if _owns(n, ref)]

    def _edit(self, alert: Alert, body: dict[str, Any], now: datetime) -> list[str]:
        """Rewrite each message of the window in place where its notifier can; the
        labels of the notifiers that did."""
        kind = AlertKind(body.get("kind", AlertKind.CHANGED.value))
        shown = dataclasses.replace(
            alert,
            kind=kind,
            thread=() if kind is AlertKind.NEW else alert.thread,
            previous_changes=_changes(body) if kind is AlertKind.CHANGED else (),
            coalesced=int(body["folded"]),
            updated_at=iso(now),
        )
        edited: list[str] = []
        for raw in body.get("posted", []):
            ref = MessageRef(str(raw["notifier"]), str(raw["ref"]))
            for notifier in self._leaves():
                update = getattr(notifier, "update_alert", None)
                if update is None or not _owns(notifier, ref):
                    continue
                try:
                    update(shown, ref)
                except Exception as exc:  # the follow-up at the window's end covers it
                    logger.warning(
                        "coalesce_edit_failed",
                        extra={"finding_id": alert.finding.id, "error": str(exc)},
                    )
                    continue
                edited.append(self._label_of(notifier))
        return edited

    def _remember_edits(self, key: str, after: Row, edited: list[str], now: datetime) -> None:
        folded = after.body["folded"]

        def note(body: dict[str, Any] | None) -> dict[str, Any] | None:
            if body is None or body.get("folded") != folded:
                return None  # a later fold edits again and records its own
            body["edited"] = sorted(set(edited))
            return body

        try:
            change_row(self._rows, key, note, now + self._window + LINGER)
        except StateConflictError:
            logger.warning("coalesce_edits_unrecorded", extra={"key": key})

    def _schedule_flush(self, alert: Alert, wait: timedelta) -> None:
        """Ask for a read at the window's end, so its follow-up is not left to the sweep."""
        if self._recheck is None:
            return
        delay = max(1, min(900, int(wait.total_seconds()) + 1))  # SQS delays stop at 15 min
        try:
            self._recheck.schedule([alert.finding.ref], None, delay)
        except Exception as exc:  # the next event or the sweep still posts it
            logger.warning("coalesce_recheck_failed", extra={"error": str(exc)})


def _owns(notifier: Any, ref: MessageRef) -> bool:
    owns = getattr(notifier, "owns", None)
    return getattr(notifier, "name", None) == ref.notifier or (callable(owns) and bool(owns(ref)))


def _newly_alarming(now: Sequence[Change], seen: Sequence[Change]) -> bool:
    shown = {(c.op, c.path, repr(c.actual)) for c in seen if is_alarming_change(c)}
    return any(is_alarming_change(c) and (c.op, c.path, repr(c.actual)) not in shown for c in now)
