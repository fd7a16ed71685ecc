"""Hand-built alerts, one per kind, on top of the report samples."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.model import Change, Status
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from tests.report.samples import ACCOUNT, ALICE, DRIFTED, OPEN_SSH, TEAM_TAG, UNMANAGED

SINCE = "2024-05-01T10:00:00Z"
FIRST = MessageRef("webhook:hooks.slack.com", "a1b2c3")
BOB = replace(
    ALICE,
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/bob",
    session_issuer=None,
    via=None,
    event_name="RevokeSecurityGroupIngress",
    event_time="2024-05-01T12:13:00Z",
    event_id="ev-fix-0001",
    source_ip="198.51.100.9",
    user_agent="terraform/1.8",
)
OPEN_RDP = Change(
    op="add",
    path="ingress",
    expected=None,
    actual={"proto": "tcp", "ports": "3389", "cidr": "0.0.0.0/0"},
    summary="ingress tcp/3389 from 0.0.0.0/0 — not in spec",
    world_open=True,
)
FIXED = replace(DRIFTED, status=Status.IN_SYNC, changes=(), actor=BOB)

NEW = Alert(AlertKind.NEW, DRIFTED)
# Since the first alert, RDP was opened too and the missing HTTPS rule came back.
CHANGED = Alert(
    AlertKind.CHANGED,
    replace(DRIFTED, changes=(OPEN_SSH, OPEN_RDP, TEAM_TAG)),
    thread=(FIRST,),
    since=SINCE,
    previous_changes=DRIFTED.changes,
)
REMINDER = Alert(
    AlertKind.REMINDER, DRIFTED, thread=(FIRST,), since=SINCE, duration_seconds=26 * 3600
)
BACK = Alert(
    AlertKind.BACK_TO_NORMAL,
    FIXED,
    thread=(FIRST,),
    since=SINCE,
    duration_seconds=2 * 3600 + 13 * 60,
    fixed_by=BOB,
)
PENDING = Alert(AlertKind.PENDING_APPLY, replace(DRIFTED, actor=None))
APPLIED = Alert(AlertKind.APPLIED, FIXED, thread=(FIRST,), since=SINCE, fixed_by=BOB)
GONE = Alert(
    AlertKind.GONE,
    replace(
        UNMANAGED,
        status=Status.IN_SYNC,
        changes=(),
        actor=replace(BOB, event_name="DeleteSecurityGroup"),
    ),
    thread=(FIRST,),
    since=SINCE,
)
ALL = (NEW, CHANGED, REMINDER, BACK, PENDING, APPLIED, GONE)
