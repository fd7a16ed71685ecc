"""Routing by a tag on the resource, configured as the Lambda reads SETPOINT_NOTIFIERS."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.errors import ConfigError
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.config import notifier_from_config, notifier_from_json
from tests.chat_server import ChatServer
from tests.notify.alert_samples import BACK, NEW
from tests.report.samples import DRIFTED, MISSING

PAYMENTS = replace(DRIFTED, tags=(("env", "prod"), ("team", "payments")))


def _hooks(server: ChatServer) -> dict[str, Any]:
    return {
        "notifiers": {
            "payments": {"type": "json", "url": f"{server.base}/payments", "name": "pay"},
            "ops": {"type": "json", "url": f"{server.base}/ops", "name": "ops"},
        },
        "routes": [{"tags": {"team": "payments"}, "notify": "payments"}],
        "default": ["ops"],
    }


def test_a_finding_tagged_team_payments_goes_only_to_the_payments_notifier(server):
    routed = notifier_from_json(json.dumps(_hooks(server)))
    (ref,) = routed.post_alert(Alert(AlertKind.NEW, PAYMENTS))
    assert ref.notifier == "pay"
    assert [r["path"] for r in server.requests] == ["/payments"]
    body = server.bodies()[0]
    assert body["id"] == "sg-0abc" and body["tags"] == {"env": "prod", "team": "payments"}


def test_untagged_and_unread_resources_go_to_the_default(server):
    routed = notifier_from_config(_hooks(server))
    routed.post_alert(NEW)  # tagged nothing
    routed.post_alert(Alert(AlertKind.NEW, MISSING))  # not there: no tags to read
    routed.post_alert(Alert(AlertKind.NEW, replace(DRIFTED, tags=(("team", "web"),))))
    assert [r["path"] for r in server.requests] == ["/ops"] * 3


def test_a_route_may_list_several_tag_values(server):
    config = _hooks(server)
    config["routes"] = [{"tags": {"team": ["payments", "billing"]}, "notify": "payments"}]
    routed = notifier_from_config(config)
    routed.post_alert(Alert(AlertKind.NEW, replace(DRIFTED, tags=(("team", "billing"),))))
    routed.post_alert(Alert(AlertKind.NEW, PAYMENTS))
    assert [r["path"] for r in server.requests] == ["/payments"] * 2


def _slack(server: ChatServer) -> None:
    server.default = lambda n: {
        "ok": True,
        "channel": server.requests[-1]["body"]["channel"],
        "ts": f"1714557600.{n:06d}",
    }


def test_a_bot_whose_channel_a_tag_picks_threads_the_back_to_normal(server):
    _slack(server)
    routed = notifier_from_config(
        {
            "type": "slack_bot",
            "token": "xoxb-1-2-s3cr3t",
            "channel": "C0OPS",
            "channel_tag": "team",
            "channels": {"payments": "C0PAY"},
            "api_base": f"{server.base}/api",
        }
    )
    (first,) = routed.post_alert(Alert(AlertKind.NEW, PAYMENTS))
    routed.post_alert(
        replace(BACK, finding=replace(BACK.finding, tags=PAYMENTS.tags), thread=(first,))
    )
    (untagged,) = routed.post_alert(NEW)
    assert first == MessageRef("slack-bot:C0PAY", "1714557600.000001")
    alert, back, other = server.bodies()
    assert alert["channel"] == back["channel"] == "C0PAY"
    assert back["thread_ts"] == first.ref and "thread_ts" not in alert
    assert other["channel"] == "C0OPS" and untagged.notifier == "slack-bot:C0OPS"
    assert {r["path"] for r in server.requests} == {"/api/chat.postMessage"}


def _named(**bot: Any) -> dict[str, Any]:
    spec = {"type": "slack_bot", "token": "xoxb-s3cr3t", "channel": "C0OPS", **bot}
    return {"notifiers": {"ops": spec}}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"notifiers": {"a": {"type": "console"}}, "routes": [{"tags": {}, "notify": "a"}]},
            'route 1: tags must map tag keys to values, like {"team": "payments"}',
        ),
        (
            {
                "notifiers": {"a": {"type": "console"}},
                "routes": [{"tags": {"team": []}, "notify": "a"}],
            },
            "route 1: tags.team must be a tag value or a non-empty list of values",
        ),
        (
            {
                "notifiers": {"a": {"type": "console"}},
                "routes": [{"tags": {"": "x"}, "notify": "a"}],
            },
            "route 1: tags has an empty tag key",
        ),
        (
            {
                "notifiers": {"a": {"type": "console"}},
                "routes": [{"kinds": "s3_bucket", "notify": "a"}, {"tag": {"team": "x"}}],
            },
            "route 2: unknown key(s) tag; did you mean tag → tags?",
        ),
        (
            {"notifiers": {"a": {"type": "console"}}, "routes": [{"tags": {"team": "x"}}]},
            "route 1 needs `notify`",
        ),
        (
            {
                "notifiers": {"a": {"type": "console"}},
                "routes": [{"tags": {"team": "x"}, "notify": "payments"}],
            },
            "route 1 notify names unknown notifier(s): payments",
        ),
        (_named(channels={"payments": "C0PAY"}), "notifier ops: channels needs channel_tag"),
        (_named(channel_tag=""), "notifier ops: channel_tag must be a non-empty string"),
        (
            _named(channel_tag="team", channels={"payments": ""}),
            "notifier ops: channels.payments must be a non-empty channel",
        ),
        (
            _named(channel_tag="team", channels=["C0PAY"]),
            "notifier ops: channels must map tag values to channels",
        ),
        (_named(chanel_tag="team"), "did you mean chanel_tag → channel_tag?"),
    ],
)
def test_bad_tag_routing_config_names_the_field(config, message):
    with pytest.raises(ConfigError) as caught:
        notifier_from_config(config)
    assert message in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_a_bot_may_carry_a_name_of_its_own():
    routed = notifier_from_config(_named(name="ops-bot"))
    assert [n.name for n in routed.default] == ["ops-bot"]
