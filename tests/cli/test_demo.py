"""`setpoint demo`'s local Slack stand-in, and the story it tells: in-process, so the
thread can be checked on what the stand-in received, not only on printed words."""

from __future__ import annotations

import argparse
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from chalicelib.cli import demo
from chalicelib.cli.demo import LocalChat, local_chat, webhook_receiver
from chalicelib.notify.alert import MessageRef
from chalicelib.notify.delivery import SlackWebhookNotifier
from chalicelib.notify.slack_bot import SlackApiError, SlackBotNotifier
from tests.notify.alert_samples import BACK, NEW


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)


def _bot(chat: LocalChat, channel: str = "#drift") -> SlackBotNotifier:
    return SlackBotNotifier("xoxb-test", channel, api_base=chat.api_base, sleep=lambda _: None)


def test_the_stand_in_answers_chat_post_message_and_keeps_the_thread() -> None:
    with local_chat() as chat:
        bot = _bot(chat)
        first = bot.post_alert(NEW)
        back = bot.post_alert(replace(BACK, thread=(first,)))
    alert, reply = chat.messages
    assert first.ref == alert["ts"] and back.ref == reply["ts"] != first.ref
    assert alert["channel"] == reply["channel"] == "#drift" and "thread_ts" not in alert
    assert reply["thread_ts"] == first.ref and reply["reply_broadcast"] is True
    assert chat.in_channel("#drift") == [alert] and chat.replies(alert) == [reply]


def test_the_stand_in_refuses_like_slack() -> None:
    with local_chat() as chat:
        bot = _bot(chat)
        ghost = replace(BACK, thread=(MessageRef(bot.name, "9.999999"),))
        with pytest.raises(SlackApiError, match="thread_not_found"):
            bot.post_alert(ghost)
        request = urllib.request.Request(
            chat.api_base + "/chat.postMessage",
            data=json.dumps({"channel": "#drift", "text": "hi"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            assert json.load(answer) == {"ok": False, "error": "not_authed"}
    assert chat.messages == []


def test_the_webhook_receiver_still_takes_plain_webhooks() -> None:
    with webhook_receiver() as (url, received):
        SlackWebhookNotifier(url).post_alert(NEW)
    assert received[0]["text"].startswith("Drift: security group jenkins")


@contextmanager
def _watching(seen: list[LocalChat]) -> Iterator[LocalChat]:
    with local_chat() as chat:
        seen.append(chat)
        yield chat


def test_the_demo_closes_each_alert_in_its_own_thread(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    seen: list[LocalChat] = []
    monkeypatch.setattr(demo, "local_chat", lambda: _watching(seen))
    assert demo.run_demo(argparse.Namespace(keep=False)) == 0
    out = capsys.readouterr().out
    (chat,) = seen
    alerts = [m for m in chat.messages if "thread_ts" not in m]
    replies = [m for m in chat.messages if "thread_ts" in m]
    # the group's alert went to its team's channel; the back to normal into its thread
    web_alert, web_back = chat.messages[0], chat.messages[1]
    assert web_alert["channel"] == "#team-web" and "security group web" in web_alert["text"]
    assert web_back["thread_ts"] == web_alert["ts"] and web_back["channel"] == "#team-web"
    assert web_back["text"].startswith("Back to normal: security group web")
    assert "user/bob" in web_back["text"] and "re: alert" not in web_back["text"]
    # the duplicate and the sweep added nothing: one alert and one reply per drift
    assert len(alerts) == len(replies) == 3
    assert sorted(r["thread_ts"] for r in replies) == sorted(a["ts"] for a in alerts)
    assert {a["channel"] for a in alerts[1:]} == {"#security-alerts"}
    assert f"in the thread of ts {web_alert['ts']} (the alert's)" in out
