from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.notify.alert import AlertKind, MessageRef
from chalicelib.notify.slack_bot import SlackApiError, SlackBotNotifier
from tests.chat_server import ChatServer, Reply
from tests.notify.alert_samples import BACK, CHANGED, NEW, REMINDER
from tests.report.samples import DRIFTED
from tests.sleeps import Sleeps

TOKEN = "xoxb-1111-2222-s3cr3tT0ken"


def _slack(n: int) -> dict[str, object]:
    return {"ok": True, "channel": "C0123", "ts": f"1714557600.{n:06d}"}


@pytest.fixture
def slack(server: ChatServer) -> ChatServer:
    server.default = _slack
    return server


def _bot(server: ChatServer, sleep: Sleeps | None = None, **options: Any) -> SlackBotNotifier:
    return SlackBotNotifier(
        TOKEN,
        "C0123",
        api_base=f"{server.base}/api",
        sleep=Sleeps() if sleep is None else sleep,
        **options,
    )


def test_posts_with_the_token_in_the_header_and_returns_the_ts(slack):
    ref = _bot(slack).post_alert(NEW)
    assert ref == MessageRef("slack-bot:C0123", "1714557600.000001")
    (request,) = slack.requests
    assert request["path"] == "/api/chat.postMessage"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    body = request["body"]
    assert body["channel"] == "C0123"
    assert "thread_ts" not in body and "token" not in body
    assert body["blocks"][0]["text"]["text"].endswith(
        "Drift: security group jenkins (sg-0abc) departs from its spec"
    )
    assert body["text"].startswith("Drift: security group jenkins")


def test_follow_up_goes_into_the_thread_of_the_first_post(slack):
    bot = _bot(slack)
    first = bot.post_alert(NEW)
    reminder = replace(REMINDER, thread=(MessageRef("webhook:other", "zzz"), first))
    second = bot.post_alert(reminder)
    assert second.ref == "1714557600.000002"
    body = slack.bodies()[1]
    assert body["thread_ts"] == first.ref
    assert "reply_broadcast" not in body
    # in the thread the message needs no "re: alert …"
    assert "re: alert" not in body["text"]
    assert body["blocks"][0]["text"]["text"].startswith(":hourglass: Reminder:")


def test_back_to_normal_is_broadcast_to_the_channel_from_the_thread(slack):
    bot = _bot(slack)
    first = bot.post_alert(NEW)
    bot.post_alert(replace(BACK, thread=(first,)))
    body = slack.bodies()[1]
    assert body["thread_ts"] == first.ref and body["reply_broadcast"] is True
    assert body["text"].startswith("Back to normal: security group jenkins (sg-0abc)")


def test_without_its_own_first_post_a_follow_up_starts_fresh_and_cites(slack):
    _bot(slack).post_alert(CHANGED)  # the thread only holds a webhook message
    body = slack.bodies()[0]
    assert "thread_ts" not in body
    assert "re: alert a1b2c3" in body["text"]


def test_invalid_auth_fails_at_once_without_the_token(slack):
    slack.script = [Reply(200, {"ok": False, "error": "invalid_auth"})]
    sleep = Sleeps()
    with pytest.raises(SlackApiError) as caught:
        _bot(slack, sleep).post_alert(NEW)
    assert len(slack.requests) == 1 and sleep == []
    assert caught.value.error == "invalid_auth" and caught.value.status == 200
    assert "invalid_auth" in str(caught.value) and "C0123" in str(caught.value)
    assert TOKEN not in str(caught.value) and "s3cr3t" not in repr(caught.value)


def test_channel_not_found_fails_at_once(slack):
    slack.script = [Reply(200, {"ok": False, "error": "channel_not_found"})]
    with pytest.raises(DeliveryError, match="channel_not_found"):
        _bot(slack).post_alert(NEW)
    assert len(slack.requests) == 1


def test_rate_limited_429_waits_retry_after_then_posts_once(slack):
    slack.script = [Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"})]
    sleep = Sleeps()
    ref = _bot(slack, sleep).post_alert(NEW)
    assert sleep == [3.0]
    assert len(slack.requests) == 2
    assert ref.ref == "1714557600.000002"


def test_ratelimited_in_a_200_answer_is_retried_too(slack):
    slack.script = [Reply(200, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})]
    sleep = Sleeps()
    _bot(slack, sleep).post_alert(NEW)
    assert sleep == [1.0] and len(slack.requests) == 2


def test_persistent_rate_limit_gives_up_with_a_delivery_error(slack):
    slack.script = [Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})] * 3
    with pytest.raises(DeliveryError) as caught:
        _bot(slack, max_attempts=3).post_alert(NEW)
    assert caught.value.status == 429 and len(slack.requests) == 3


def test_an_answer_without_ts_is_not_taken_for_success(slack):
    slack.script = [Reply(200, {"ok": True})]
    with pytest.raises(DeliveryError, match="no ts"):
        _bot(slack).post_alert(NEW)


def test_a_token_from_a_source_is_read_once_and_reread_after_revocation(slack):
    reads: list[bool] = []
    tokens = iter(["xoxb-old", "xoxb-new"])

    def source(force: bool) -> str:
        reads.append(force)
        return next(tokens)

    slack.script = [Reply(200, {"ok": False, "error": "token_revoked"})]
    bot = SlackBotNotifier(source, "C0123", api_base=f"{slack.base}/api", sleep=Sleeps())
    assert repr(bot) == "SlackBotNotifier(channel='C0123')"
    bot.post_alert(NEW)
    bot.send(DRIFTED)
    assert reads == [False, True]
    auth = [r["headers"]["Authorization"] for r in slack.requests]
    assert auth == ["Bearer xoxb-old", "Bearer xoxb-new", "Bearer xoxb-new"]


def test_send_keeps_the_old_api(slack):
    _bot(slack).send(DRIFTED)
    assert slack.bodies()[0]["channel"] == "C0123"


def test_a_channel_is_required():
    with pytest.raises(ConfigError, match="channel"):
        SlackBotNotifier(TOKEN, " ")


def test_kinds_are_all_postable(slack):
    bot = _bot(slack)
    first = bot.post_alert(NEW)
    for kind in AlertKind:
        bot.post_alert(replace(NEW, kind=kind, thread=(first,)))
    assert len(slack.requests) == 1 + len(AlertKind)


def test_config_with_a_token_in_ssm_posts_into_the_thread(slack, monkeypatch):
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from chalicelib.notify.config import notifier_from_config

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    parameters.clear_caches()
    config = {
        "type": "slack_bot",
        "token_param": "/setpoint/slack-token",
        "channel": "C0123",
        "api_base": f"{slack.base}/api",
    }
    try:
        with mock_aws():
            boto3.client("ssm", region_name="us-east-1").put_parameter(
                Name="/setpoint/slack-token", Value=TOKEN, Type="SecureString"
            )
            routed = notifier_from_config(config)
            (first,) = routed.post_alert(NEW)
            routed.post_alert(replace(BACK, thread=(first,)))
    finally:
        parameters.clear_caches()
    assert first == MessageRef("slack-bot:C0123", "1714557600.000001")
    assert slack.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert slack.bodies()[1]["thread_ts"] == first.ref


PAYMENTS = replace(DRIFTED, tags=(("team", "payments"),))


def _answer_in_channel(server: ChatServer) -> None:
    """Slack answers with the channel it was asked to post to, like the real API."""
    server.default = lambda n: {
        "ok": True,
        "channel": server.requests[-1]["body"]["channel"],
        "ts": f"1714557600.{n:06d}",
    }


def test_a_tag_picks_the_channel_and_untagged_resources_go_to_the_default(slack):
    _answer_in_channel(slack)
    bot = _bot(slack, channel_tag="team", channels={"payments": "C0PAY"})
    paid = bot.post_alert(replace(NEW, finding=PAYMENTS))
    plain = bot.post_alert(NEW)
    other = bot.post_alert(replace(NEW, finding=replace(DRIFTED, tags=(("team", "web"),))))
    assert [b["channel"] for b in slack.bodies()] == ["C0PAY", "C0123", "C0123"]
    assert paid.notifier == "slack-bot:C0PAY"
    assert plain.notifier == other.notifier == bot.name == "slack-bot:C0123"


def test_without_a_channel_map_the_tag_value_is_the_channel(slack):
    bot = _bot(slack, channel_tag="slack-channel")
    bot.post_alert(replace(NEW, finding=replace(DRIFTED, tags=(("slack-channel", "#payments"),))))
    bot.post_alert(replace(NEW, finding=replace(DRIFTED, tags=(("slack-channel", " "),))))
    assert [b["channel"] for b in slack.bodies()] == ["#payments", "C0123"]


def test_a_follow_up_stays_in_the_first_messages_channel_and_thread_even_if_retagged(slack):
    _answer_in_channel(slack)
    bot = _bot(slack, channel_tag="team", channels={"payments": "C0PAY", "web": "C0WEB"})
    first = bot.post_alert(replace(NEW, finding=PAYMENTS))
    retagged = replace(DRIFTED, status=BACK.finding.status, tags=(("team", "web"),))
    back = bot.post_alert(
        replace(BACK, finding=retagged, thread=(MessageRef("webhook:x", "1"), first))
    )
    body = slack.bodies()[1]
    assert body["channel"] == "C0PAY" and body["thread_ts"] == first.ref
    assert back.notifier == "slack-bot:C0PAY"


def test_a_refusal_names_the_channel_the_tag_chose(slack):
    slack.script = [Reply(200, {"ok": False, "error": "channel_not_found"})]
    bot = _bot(slack, channel_tag="team", channels={"payments": "C0PAY"})
    with pytest.raises(SlackApiError, match="C0PAY: channel_not_found"):
        bot.post_alert(replace(NEW, finding=PAYMENTS))


def test_channels_without_a_channel_tag_is_a_config_error():
    with pytest.raises(ConfigError, match="channel_tag"):
        SlackBotNotifier(TOKEN, "C0123", channels={"payments": "C0PAY"})


def test_a_name_of_its_own_names_its_messages(slack):
    bot = _bot(slack, name="payments-bot", channel_tag="team", channels={"payments": "C0PAY"})
    assert bot.post_alert(NEW).notifier == "payments-bot"
    assert bot.post_alert(replace(NEW, finding=PAYMENTS)).notifier == "payments-bot:C0PAY"


def test_with_the_tag_value_as_channel_a_follow_up_without_tags_finds_its_thread(slack):
    _answer_in_channel(slack)
    bot = _bot(slack, channel_tag="slack-channel")
    tagged = replace(DRIFTED, tags=(("slack-channel", "#payments"),))
    first = bot.post_alert(replace(NEW, finding=tagged))
    assert first.notifier == "slack-bot:#payments" and bot.owns(first)
    bot.post_alert(replace(BACK, thread=(first,)))  # BACK's finding carries no tags
    body = slack.bodies()[1]
    assert body["channel"] == "#payments" and body["thread_ts"] == first.ref


def test_a_bot_with_a_channel_map_owns_only_its_own_channels(slack):
    bot = _bot(slack, channel_tag="team", channels={"payments": "C0PAY"})
    assert bot.owns(MessageRef("slack-bot:C0PAY", "1")) and bot.owns(MessageRef(bot.name, "1"))
    assert not bot.owns(MessageRef("slack-bot:C0ELSE", "1"))
    assert not bot.owns(MessageRef("webhook:hooks.slack.com", "1"))
