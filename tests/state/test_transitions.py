"""The alert rules as scenarios: each step is a finding arriving, and what chat hears."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

import pytest

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Finding, ResourceRef, Status, gone_finding
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.state import Cause, StateRecord, decide, with_messages
from chalicelib.state.record import MAX_ACTORS
from tests.state.helpers import (
    ACCOUNT,
    OPEN_22,
    OPEN_22_SWEEP_WORDING,
    OPEN_3389,
    REGION,
    SG,
    T0,
    WANT_80,
    WANT_443,
    actor,
    drifted,
    finding,
    in_sync,
    unknown,
)

FOLLOW_UPS = {
    AlertKind.CHANGED,
    AlertKind.REMINDER,
    AlertKind.BACK_TO_NORMAL,
    AlertKind.APPLIED,
    AlertKind.GONE,
}
GONE = gone_finding(ResourceRef(SECURITY_GROUP, ACCOUNT, REGION, SG, "web"), actor("dave"))
UNMANAGED = finding(Status.UNMANAGED, OPEN_22, spec=None, reason="no spec names this group")
MISSING = finding(Status.MISSING, reason="the spec names a group that does not exist")
DENIED = "AccessDenied: ec2:DescribeSecurityGroups"
THROTTLED = "Throttling past retries"


@dataclass(frozen=True)
class Step:
    finding: Finding
    expect: AlertKind | None
    cause: Cause = "event"
    minutes: int = 0  # after T0
    pending: bool | None = None  # the record's pending flag afterwards, when checked
    kept: bool = True  # whether a record remains afterwards


def run(steps: list[Step], reminder: timedelta | None = None) -> list[Alert | None]:
    """Feed the steps through `decide`, delivering each alert to a fake chat."""
    record: StateRecord | None = None
    thread: tuple[MessageRef, ...] = ()
    posted = 0
    seen: list[Alert | None] = []
    for number, step in enumerate(steps, 1):
        now = T0 + timedelta(minutes=step.minutes)
        decision = decide(record, step.finding, now=now, cause=step.cause, reminder=reminder)
        alert = decision.alert
        seen.append(alert)
        assert (alert.kind if alert else None) == step.expect, f"step {number}: {alert}"
        if alert is not None and alert.kind in FOLLOW_UPS:
            assert alert.thread == thread, f"step {number}: not threaded to the first alert"
        record = decision.record
        if decision.starts_thread:
            assert record is not None
            posted += 1
            thread = (MessageRef("slack-bot:C1", f"ts-{posted}"),)
            record = with_messages(record, thread)
        assert (record is not None) == step.kept, f"step {number}: record {record}"
        if step.pending is not None:
            assert record is not None and record.pending is step.pending, f"step {number}"
    return seen


SCENARIOS: dict[str, list[Step]] = {
    "in sync, drifted, drifted again differently, back in sync": [
        Step(in_sync(), None, kept=False),
        Step(drifted(OPEN_22, actor=actor("alice")), AlertKind.NEW, pending=False),
        Step(drifted(OPEN_22, actor=actor("alice")), None, minutes=1),
        Step(drifted(OPEN_22_SWEEP_WORDING), None, cause="sweep", minutes=5),
        Step(drifted(OPEN_22, OPEN_3389, actor=actor("bob")), AlertKind.CHANGED, minutes=10),
        Step(drifted(OPEN_3389, OPEN_22), None, cause="sweep", minutes=15),
        Step(in_sync(actor=actor("carol")), AlertKind.BACK_TO_NORMAL, minutes=30, kept=False),
        Step(in_sync(), None, cause="sweep", minutes=35, kept=False),
    ],
    "duplicate: the event and then the sweep see one drift": [
        Step(drifted(OPEN_22, actor=actor("alice")), AlertKind.NEW),
        Step(drifted(OPEN_22_SWEEP_WORDING, spec="policies/web.yaml"), None, cause="sweep"),
        Step(drifted(OPEN_22, actor=actor("alice")), None, cause="recheck"),
    ],
    "unmanaged group deleted": [
        Step(UNMANAGED, AlertKind.NEW, cause="sweep"),
        Step(UNMANAGED, None, cause="sweep", minutes=60),
        Step(GONE, AlertKind.GONE, minutes=90, kept=False),
        Step(GONE, None, minutes=91, kept=False),
    ],
    "a deleted group nobody knew about says nothing": [
        Step(GONE, None, kept=False),
    ],
    "missing, then created as the spec says": [
        Step(MISSING, AlertKind.NEW, cause="sweep"),
        Step(
            in_sync(actor=actor("erin", "CreateSecurityGroup")),
            AlertKind.BACK_TO_NORMAL,
            kept=False,
        ),
    ],
    "a spec'd group's delete seen without its spec is not gone": [
        Step(drifted(OPEN_22), AlertKind.NEW),
        Step(GONE, None, minutes=3),
        Step(MISSING, AlertKind.CHANGED, cause="sweep", minutes=60),
    ],
    "missing, then its spec removed by a push: the alert closes": [
        Step(MISSING, AlertKind.NEW, cause="sweep"),
        Step(GONE, AlertKind.GONE, cause="spec_change", minutes=30, kept=False),
    ],
    "drifted group deleted while its spec still wants it": [
        Step(drifted(OPEN_22), AlertKind.NEW),
        Step(MISSING, AlertKind.CHANGED, minutes=3),
    ],
    "spec change pending, then applied": [
        Step(drifted(WANT_443), AlertKind.PENDING_APPLY, cause="spec_change", pending=True),
        Step(drifted(WANT_443), None, cause="sweep", minutes=60, pending=True),
        Step(in_sync(actor=actor("ops")), AlertKind.APPLIED, minutes=70, kept=False),
    ],
    "spec change pending, applied in two steps": [
        Step(drifted(WANT_443, WANT_80), AlertKind.PENDING_APPLY, cause="spec_change"),
        Step(drifted(WANT_80), AlertKind.CHANGED, minutes=5, pending=True),
        Step(in_sync(), AlertKind.APPLIED, minutes=6, kept=False),
    ],
    "unapproved change on top of a pending one": [
        Step(drifted(WANT_443), AlertKind.PENDING_APPLY, cause="spec_change", pending=True),
        Step(drifted(WANT_443, OPEN_22, actor=actor("mallory")), AlertKind.CHANGED, pending=False),
        Step(in_sync(actor=actor("ops")), AlertKind.BACK_TO_NORMAL, minutes=30, kept=False),
    ],
    "spec change on top of an unapproved drift keeps it unapproved": [
        Step(drifted(OPEN_22), AlertKind.NEW, pending=False),
        Step(drifted(OPEN_22, WANT_443), AlertKind.CHANGED, cause="spec_change", pending=False),
    ],
    "spec changed again while pending": [
        Step(drifted(WANT_443), AlertKind.PENDING_APPLY, cause="spec_change"),
        Step(
            drifted(WANT_443, WANT_80), AlertKind.PENDING_APPLY, cause="spec_change", pending=True
        ),
    ],
    "the spec adopts an unapproved change: back to normal, not applied": [
        Step(drifted(OPEN_22), AlertKind.NEW),
        Step(in_sync(), AlertKind.BACK_TO_NORMAL, cause="spec_change", kept=False),
    ],
    "unknown during an open drift never closes it": [
        Step(drifted(OPEN_22), AlertKind.NEW),
        Step(unknown(DENIED), AlertKind.NEW, minutes=1),
        Step(unknown(DENIED), None, cause="sweep", minutes=2),
        Step(unknown(THROTTLED), AlertKind.NEW, minutes=3),
        Step(drifted(OPEN_22), None, minutes=4),
        Step(unknown(DENIED), AlertKind.NEW, minutes=5),
        Step(in_sync(actor=actor("carol")), AlertKind.BACK_TO_NORMAL, minutes=6, kept=False),
    ],
    "unknown alone: once per reason, then readable and in sync": [
        Step(unknown(DENIED), AlertKind.NEW),
        Step(unknown(DENIED), None, minutes=1),
        Step(unknown(THROTTLED), AlertKind.NEW, minutes=2),
        Step(in_sync(), AlertKind.BACK_TO_NORMAL, minutes=3, kept=False),
    ],
    "unknown, then readable and drifted: a new alert for the drift": [
        Step(unknown(DENIED), AlertKind.NEW),
        Step(drifted(OPEN_22), AlertKind.NEW, minutes=1),
        Step(drifted(OPEN_22), None, minutes=2),
    ],
}


@pytest.mark.parametrize("steps", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_scenario(steps: list[Step]) -> None:
    run(steps)


def test_reminder_comes_when_due_and_not_before() -> None:
    alerts = run(
        [
            Step(drifted(OPEN_22), AlertKind.NEW),
            Step(drifted(OPEN_22), None, cause="sweep", minutes=59),
            Step(drifted(OPEN_22), AlertKind.REMINDER, cause="sweep", minutes=60),
            Step(drifted(OPEN_22), None, cause="sweep", minutes=90),
            Step(drifted(OPEN_22), AlertKind.REMINDER, cause="sweep", minutes=121),
        ],
        reminder=timedelta(hours=1),
    )
    reminder = alerts[2]
    assert reminder is not None and reminder.since == "2025-03-01T09:00:00+00:00"


def test_without_a_reminder_interval_open_drift_is_posted_once() -> None:
    steps = [Step(drifted(OPEN_22), AlertKind.NEW)]
    steps += [Step(drifted(OPEN_22), None, cause="sweep", minutes=60 * h) for h in range(1, 48)]
    run(steps, reminder=None)


def test_changed_alert_says_what_it_was_before() -> None:
    first = decide(None, drifted(OPEN_22), now=T0, cause="event", reminder=None)
    second = decide(first.record, drifted(OPEN_22, OPEN_3389), now=T0, cause="event", reminder=None)
    assert second.alert is not None
    assert second.alert.previous_changes == (OPEN_22,)
    assert second.alert.finding.changes == (OPEN_22, OPEN_3389)


def test_back_to_normal_names_the_fixer_and_how_long_it_was_off() -> None:
    opened = decide(
        None, drifted(OPEN_22, actor=actor("alice")), now=T0, cause="event", reminder=None
    )
    fixer = actor("carol", "RevokeSecurityGroupIngress")
    closed = decide(
        opened.record,
        in_sync(actor=fixer),
        now=T0 + timedelta(hours=2, minutes=5),
        cause="event",
        reminder=None,
    )
    assert closed.alert is not None and closed.record is None
    assert closed.alert.fixed_by == fixer
    assert closed.alert.duration_seconds == 2 * 3600 + 5 * 60
    assert closed.alert.since == "2025-03-01T09:00:00+00:00"
    assert closed.alert.previous_changes == (OPEN_22,)


def test_unknown_keeps_the_drift_it_cannot_see() -> None:
    opened = decide(None, drifted(OPEN_22), now=T0, cause="event", reminder=None)
    assert opened.record is not None
    record = with_messages(opened.record, (MessageRef("slack-bot:C1", "1.1"),))
    blind = decide(record, unknown(DENIED), now=T0, cause="sweep", reminder=None)
    assert blind.alert is not None and blind.record is not None
    assert blind.alert.thread == (MessageRef("slack-bot:C1", "1.1"),)
    assert blind.record.status is Status.DRIFTED
    assert blind.record.fingerprint == record.fingerprint
    assert blind.record.last_changes == (OPEN_22,)
    assert blind.record.messages == record.messages


def test_pending_apply_and_applied_record_who_applied_it() -> None:
    pending = decide(None, drifted(WANT_443), now=T0, cause="spec_change", reminder=None)
    assert pending.alert is not None and pending.alert.kind is AlertKind.PENDING_APPLY
    applied = decide(
        pending.record, in_sync(actor=actor("ops")), now=T0, cause="event", reminder=None
    )
    assert applied.alert is not None and applied.alert.fixed_by == actor("ops")


def test_nothing_new_means_nothing_to_write() -> None:
    opened = decide(
        None, drifted(OPEN_22, actor=actor("alice")), now=T0, cause="event", reminder=None
    )
    again = decide(
        opened.record,
        drifted(OPEN_22, actor=actor("alice")),
        now=T0 + timedelta(minutes=5),
        cause="event",
        reminder=None,
    )
    assert again.alert is None and again.record is opened.record


def test_a_quiet_record_is_refreshed_so_it_does_not_expire() -> None:
    opened = decide(None, drifted(OPEN_22), now=T0, cause="sweep", reminder=None)
    assert opened.record is not None
    later = decide(
        opened.record, drifted(OPEN_22), now=T0 + timedelta(days=8), cause="sweep", reminder=None
    )
    assert later.alert is None and later.record is not None
    assert later.record.updated_at == "2025-03-09T09:00:00+00:00"
    assert later.record.version == opened.record.version + 1
    assert later.record.first_seen == opened.record.first_seen


def test_last_actors_newest_first_each_once_and_capped() -> None:
    record = decide(
        None, drifted(OPEN_22, actor=actor("u0")), now=T0, cause="event", reminder=None
    ).record
    for name in ["u1", "u2", "u0", "u3", "u4", "u5", "u6"]:
        assert record is not None
        record = decide(
            record, drifted(OPEN_22, actor=actor(name)), now=T0, cause="event", reminder=None
        ).record
    assert record is not None
    names = [arn.rsplit("/", 1)[1] for arn in record.last_actors]
    assert names == ["u6", "u5", "u4", "u3", "u0"][:MAX_ACTORS]


def test_new_record_holds_what_was_alerted() -> None:
    decision = decide(
        None, drifted(OPEN_22, actor=actor("alice")), now=T0, cause="event", reminder=None
    )
    record = decision.record
    assert record is not None
    assert record.key == f"{ACCOUNT}#{REGION}#security_group#{SG}"
    assert (record.status, record.first_seen, record.last_alert_at) == (
        Status.DRIFTED,
        "2025-03-01T09:00:00+00:00",
        "2025-03-01T09:00:00+00:00",
    )
    assert record.last_changes == (OPEN_22,) and record.messages == () and record.version == 1
    assert record.last_actors == (f"arn:aws:iam::{ACCOUNT}:user/alice",)
    assert decision.starts_thread


def test_naive_now_is_taken_as_utc() -> None:
    naive = T0.replace(tzinfo=None)
    record = decide(None, drifted(OPEN_22), now=naive, cause="event", reminder=None).record
    assert record is not None and record.first_seen == "2025-03-01T09:00:00+00:00"


def test_follow_up_of_a_drift_whose_first_alert_left_no_reference_starts_the_thread() -> None:
    opened = decide(None, drifted(OPEN_22), now=T0, cause="event", reminder=None)
    changed = decide(opened.record, drifted(OPEN_3389), now=T0, cause="event", reminder=None)
    assert changed.alert is not None and changed.alert.thread == ()
    assert changed.starts_thread
    record = changed.record
    assert record is not None
    threaded = dataclasses.replace(record, messages=(MessageRef("x", "1"),))
    assert not dataclasses.replace(changed, record=threaded).starts_thread
