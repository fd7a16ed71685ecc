"""A day before an exception expires, the hourly sweep reminds chat once (moto, chat stand-in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.aws import ClientCache
from chalicelib.notify.delivery import notifier_for
from chalicelib.runtime import Runtime, spec_provider, sweep_service
from chalicelib.state import DynamoStateStore
from chalicelib.sweep.settings import SweepSettings
from chalicelib.sweep.worker import run_scheduled_sweep
from tests.chat_server import ChatServer
from tests.conftest import REGION
from tests.runtime_builder import build_runtime
from tests.state.world import ACCOUNT, TABLE, Clock, state_table

# 09:00 UTC on the last day of the vendor's exception: it ends at midnight, in 15 h
NOW = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
SPEC = """\
kind: security_group
name: web
description: Public web
ingress:
  - {proto: tcp, ports: 443, cidr: 0.0.0.0/0}
exceptions:
  - change: {op: add, path: ingress, actual: {proto: tcp, ports: '3389'}}
    until: 2026-12-20
    reason: vendor remote support session
    ticket: CHG-2211
    approved_by: security@example.com
  - change: {op: add, path: ingress, actual: {proto: tcp, ports: '8443'}}
    until: 2026-12-28
    reason: load test
"""


def _world(tmp_path: Path, chat: ChatServer, fmt: str) -> tuple[Runtime, Clock]:
    specs = tmp_path / "policies"
    (specs / "security_groups").mkdir(parents=True)
    (specs / "security_groups" / "web.yaml").write_text(SPEC)
    clients = ClientCache()
    clock = Clock(NOW)
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(str(specs), clients),
        notifiers=[notifier_for(chat.base + "/services/T0/B0/hook", fmt, sleep=lambda _: None)],
        regions=[REGION],
        account=ACCOUNT,
        clock=clock,
        state=DynamoStateStore(TABLE, state_table()),
    )
    return runtime, clock


def _sweep(runtime: Runtime) -> dict[str, Any]:
    settings = SweepSettings(regions=(REGION,), state_uri=f"dynamodb://{TABLE}")
    return run_scheduled_sweep(sweep_service(runtime, settings))


def _reminders(chat: ChatServer) -> list[str]:
    return [
        body["text"]
        for body in chat.received
        if isinstance(body, dict) and str(body.get("text", "")).startswith("Exception expires")
    ]


def test_an_exception_ending_within_a_day_is_reminded_once_naming_its_line(
    aws: None, chat_server: ChatServer, tmp_path: Path
) -> None:
    runtime, clock = _world(tmp_path, chat_server, "slack")
    summary = _sweep(runtime)
    (text,) = _reminders(chat_server)
    spec = f"{tmp_path}/policies/security_groups/web.yaml"
    assert summary["reminded"] == [f"{spec}:7"]
    assert text.splitlines() == [
        f"Exception expires in 15 h: {spec}:7 for security_group web",
        'Change: add ingress {"actual": {"ports": "3389", "proto": "tcp"}}',
        "Until: 2026-12-20 (drift again from 2026-12-21 00:00 UTC)",
        "Reason: vendor remote support session",
        "Ticket: CHG-2211",
        "Approved by: security@example.com",
        "To keep it accepted, move `until` later in the spec (at most a year ahead); "
        "otherwise undo the change before then.",
    ]
    # the hourly sweeps of the rest of the day: no second reminder
    for _ in range(3):
        clock.now += timedelta(hours=1)
        _sweep(runtime)
    assert len(_reminders(chat_server)) == 1
    # the load test's exception (until the 28th) is reminded on its own last day only
    clock.now = datetime(2026, 12, 28, 0, 30, tzinfo=UTC)
    _sweep(runtime)
    assert [t.splitlines()[0] for t in _reminders(chat_server)][1:] == [
        f"Exception expires in 23 h: {spec}:12 for security_group web"
    ]


def test_a_reminder_nobody_heard_is_posted_by_the_next_sweep(
    aws: None, chat_server: ChatServer, tmp_path: Path
) -> None:
    runtime, clock = _world(tmp_path, chat_server, "json")
    chat_server.up = False  # every request refused until it comes back
    summary = _sweep(runtime)
    assert summary["reminder_errors"] and not _reminders(chat_server)
    chat_server.up = True
    clock.now += timedelta(hours=1)
    _sweep(runtime)
    (text,) = _reminders(chat_server)
    assert text.startswith("Exception expires in 14 h:")
    (body,) = [b for b in chat_server.received if b.get("notice") == "exception_expiring"]
    assert body["text"] == text


@pytest.mark.parametrize("hours_before", [48, 25])
def test_no_reminder_earlier_than_a_day_before(
    hours_before: int, aws: None, chat_server: ChatServer, tmp_path: Path
) -> None:
    runtime, clock = _world(tmp_path, chat_server, "slack")
    clock.now = datetime(2026, 12, 21, tzinfo=UTC) - timedelta(hours=hours_before)
    _sweep(runtime)
    assert _reminders(chat_server) == []
