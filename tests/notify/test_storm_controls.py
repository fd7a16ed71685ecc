"""The storm cap's summary and the settings, without AWS: a memory row store, the clock
moved by the test, Slack's Web API played by the shared fake chat server."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chalicelib.errors import ConfigError
from chalicelib.model import Change
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.quiet import QuietSettings, is_critical, quiet_from_env
from chalicelib.notify.slack_bot import SlackBotNotifier
from chalicelib.notify.storm import StormCap
from chalicelib.state.rows import MemoryRowStore
from tests.chat_server import ChatServer
from tests.report.samples import DRIFTED
from tests.sleeps import Sleeps
from tests.state.world import Clock

QUIET = dataclasses.replace(DRIFTED, changes=())
OPEN = Change("add", "ingress", None, {"ports": "22"}, "tcp/22 from 0.0.0.0/0", world_open=True)


def test_settings_default_to_five_minutes_and_twenty_a_minute() -> None:
    assert quiet_from_env({}) == QuietSettings(300, 20, None)
    assert quiet_from_env(
        {"SETPOINT_COALESCE_SECONDS": "0", "SETPOINT_STORM_LIMIT": "5"}
    ) == QuietSettings(0, 5, None)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SETPOINT_COALESCE_SECONDS": "five"}, "SETPOINT_COALESCE_SECONDS"),
        ({"SETPOINT_STORM_LIMIT": "-1"}, "SETPOINT_STORM_LIMIT"),
        ({"SETPOINT_REPORT_URL": "javascript:alert(1)"}, "SETPOINT_REPORT_URL"),
    ],
)
def test_bad_settings_are_errors_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        quiet_from_env(env)


def test_world_open_admin_and_guard_findings_are_critical() -> None:
    assert not is_critical(QUIET)
    assert is_critical(dataclasses.replace(QUIET, changes=(OPEN,)))
    admin = dataclasses.replace(OPEN, world_open=False, flags=("admin",))
    assert is_critical(dataclasses.replace(QUIET, changes=(admin,)))
    removed = dataclasses.replace(OPEN, op="remove")  # a missing open rule is no threat
    assert not is_critical(dataclasses.replace(QUIET, changes=(removed,)))


def test_the_slack_bot_edits_the_storm_summary_in_place(chat_server: ChatServer) -> None:
    chat_server.default = lambda n: {"ok": True, "channel": "C0SEC", "ts": f"1700000000.{n:06d}"}
    bot = SlackBotNotifier("xoxb-t", "C0SEC", api_base=f"{chat_server.base}/api", sleep=Sleeps())
    clock = Clock()
    cap = StormCap(MemoryRowStore(), 20, clock=clock, report_url="https://r.example/")
    alert = Alert(AlertKind.NEW, QUIET)
    held = [cap.hold(alert) for _ in range(25)]
    assert held == [False] * 20 + [True] * 5
    assert not cap.hold(
        dataclasses.replace(alert, finding=dataclasses.replace(QUIET, changes=(OPEN,)))
    )
    assert cap.finish([bot]) == []
    for _ in range(10):  # another invocation in the same minute
        cap.hold(alert)
    assert cap.finish([bot]) == []
    clock.advance(60)
    assert cap.finish([bot]) == []
    assert cap.finish([bot]) == []  # nothing more to say
    paths = [r["path"] for r in chat_server.requests]
    assert paths == ["/api/chat.postMessage", "/api/chat.update", "/api/chat.update"]
    first, update, last = (r["body"] for r in chat_server.requests)
    assert "25 new alerts" in first["text"] and "5 more are summarised" in first["text"]
    assert update["ts"] == first_ts(chat_server) and "15 more are summarised" in update["text"]
    assert last["text"].startswith("Alert storm over: 35 new alerts")
    assert "security group: 15" in last["text"] and "https://r.example/" in last["text"]


def first_ts(chat_server: ChatServer) -> str:
    return "1700000000.000001"


def test_a_parked_alert_keeps_its_count_and_older_bodies_still_read() -> None:
    from chalicelib.notify.codec import decode_alert, encode_alert

    alert = Alert(AlertKind.CHANGED, QUIET, coalesced=54, updated_at="2026-03-01T09:00:55+00:00")
    assert decode_alert(encode_alert(alert)) == alert
    body = json.loads(encode_alert(Alert(AlertKind.CHANGED, QUIET)))
    del body["alert"]["coalesced"], body["alert"]["updated_at"]  # written before item 5
    assert decode_alert(json.dumps(body)).coalesced == 0
