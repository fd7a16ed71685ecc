"""What chat is told about a finding, once alert state decides it is worth telling.

A `Finding` says how a resource compares with its spec right now; an `Alert` says what
that means for the people watching: a new drift, a drift that changed, a reminder, or
"back to normal". State (`chalicelib/state/`) turns findings into alerts; notifiers turn
alerts into messages and return a reference, so follow-ups can go into the same thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chalicelib.model import Actor, Change, Finding


class AlertKind(StrEnum):
    NEW = "new"  # became drifted / unmanaged / missing / unknown
    CHANGED = "changed"  # still off, but differently (new fingerprint)
    REMINDER = "reminder"  # still off, unchanged, past the reminder interval
    BACK_TO_NORMAL = "back_to_normal"  # matches its spec again
    PENDING_APPLY = "pending_apply"  # the spec changed; the cloud has not caught up yet
    APPLIED = "applied"  # a pending change reached the cloud
    GONE = "gone"  # an unmanaged resource was deleted


@dataclass(frozen=True)
class MessageRef:
    """Where an alert was posted, so follow-ups can reply in its thread (or cite it)."""

    notifier: str  # e.g. "slack-bot:C0123", "webhook:hooks.slack.com"
    ref: str  # a Slack message ts, or an id Setpoint gave a webhook message


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    finding: Finding
    # the first alert's messages for this drift; follow-ups thread under or cite them
    thread: tuple[MessageRef, ...] = ()
    since: str | None = None  # ISO time the drift was first seen
    duration_seconds: int | None = None  # how long it was off, for back-to-normal
    fixed_by: Actor | None = None  # who made the change that ended it
    previous_changes: tuple[Change, ...] = ()  # what the previous alert listed
    # a hand change on a resource whose spec change was waiting to be applied
    unapproved_over_pending: bool = False
    # alert storms (notify/coalesce.py): changes folded into this message since the last
    # one chat saw, and when the latest of them arrived (ISO time)
    coalesced: int = 0
    updated_at: str | None = None
