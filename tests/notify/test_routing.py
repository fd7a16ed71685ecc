from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Status
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.config import notifier_from_config, notifier_from_json
from chalicelib.notify.delivery import (
    ConsoleNotifier,
    JsonWebhookNotifier,
    SlackWebhookNotifier,
    SsmWebhookNotifier,
    TeamsWebhookNotifier,
)
from chalicelib.notify.routing import Route, RoutedDeliveryError, RoutedNotifier
from chalicelib.notify.slack_bot import SlackBotNotifier
from chalicelib.sweep.digest import Digest, merge_digest
from tests.chat_server import ChatServer, Reply
from tests.notify.alert_samples import BACK, NEW
from tests.report.samples import DRIFTED, UNMANAGED
from tests.sleeps import Sleeps


class Recorder:
    """A notifier that remembers what it was given, and may be told to fail."""

    def __init__(self, name: str, fail: Exception | None = None) -> None:
        self.name = name
        self.fail = fail
        self.posted: list[Alert] = []
        self.digests: list[Digest] = []

    def send(self, finding):
        self.post_alert(Alert(AlertKind.NEW, finding))

    def post_alert(self, alert: Alert) -> MessageRef:
        if self.fail is not None:
            raise self.fail
        self.posted.append(alert)
        return MessageRef(self.name, f"{self.name}-{len(self.posted)}")

    def post_digest(self, digest: Digest) -> None:
        if self.fail is not None:
            raise self.fail
        self.digests.append(digest)


TAGS = {"sg-0abc": {"team": "web"}, "sg-0def": {"team": "data"}}


def test_tag_route_sends_to_that_team_only():
    web, ops = Recorder("web"), Recorder("ops")
    routed = RoutedNotifier([Route([web], tags={"team": "web"})], [ops], tags_of=TAGS)
    assert routed.post_alert(NEW) == (MessageRef("web", "web-1"),)
    assert ops.posted == []
    assert routed.post_alert(Alert(AlertKind.NEW, UNMANAGED)) == (MessageRef("ops", "ops-1"),)
    assert [a.finding.id for a in web.posted] == ["sg-0abc"]


def test_tags_can_come_from_a_function_and_unknown_tags_go_to_default():
    web, ops = Recorder("web"), Recorder("ops")
    routed = RoutedNotifier(
        [Route([web], tags={"team": "web"})], [ops], tags_of=lambda f: {"team": f.name or ""}
    )
    routed.post_alert(replace(NEW, finding=replace(DRIFTED, name="web")))
    routed.post_alert(NEW)  # name "jenkins": no team=web
    assert len(web.posted) == 1 and len(ops.posted) == 1
    untagged = RoutedNotifier([Route([web], tags={"team": "web"})], [ops])
    untagged.post_alert(NEW)
    assert len(ops.posted) == 2


def test_routes_by_kind_status_and_alert_kind_and_every_match_posts_once():
    a, b, ops = Recorder("a"), Recorder("b"), Recorder("ops")
    routed = RoutedNotifier(
        [
            Route([a], kinds=frozenset({SECURITY_GROUP.value})),
            Route([a, b], statuses=frozenset({Status.UNMANAGED.value})),
            Route([b], alert_kinds=frozenset({AlertKind.BACK_TO_NORMAL.value})),
        ],
        [ops],
    )
    assert [r.notifier for r in routed.post_alert(Alert(AlertKind.NEW, UNMANAGED))] == ["a", "b"]
    assert [r.notifier for r in routed.post_alert(BACK)] == ["a", "b"]
    s3 = Alert(AlertKind.NEW, replace(DRIFTED, kind=S3_BUCKET))
    assert [r.notifier for r in routed.post_alert(s3)] == ["ops"]


def test_a_failing_notifier_does_not_block_the_others_and_the_error_lists_it():
    broken = Recorder("webhook:broken", DeliveryError("could not deliver to broken: HTTP 500", 500))
    also = Recorder("sns:x", RuntimeError("boom"))
    good = Recorder("slack-bot:C1")
    routed = RoutedNotifier([], [broken, good, also])
    with pytest.raises(RoutedDeliveryError) as caught:
        routed.post_alert(NEW)
    error = caught.value
    assert isinstance(error, DeliveryError)
    assert len(good.posted) == 1
    assert error.refs == (MessageRef("slack-bot:C1", "slack-bot:C1-1"),)
    assert [f.name for f in error.failures] == ["webhook:broken", "sns:x"]
    assert [f.notifier for f in error.failures] == [broken, also]
    assert str(error).startswith("2 of 3 notifiers failed: webhook:broken: could not deliver")
    assert "sns:x: boom" in str(error)
    assert error.status is None  # 500 and no status: not one status for all


def test_send_routes_a_bare_finding_as_a_new_alert():
    web, ops = Recorder("web"), Recorder("ops")
    RoutedNotifier([Route([web], tags={"team": "web"})], [ops], tags_of=TAGS).send(DRIFTED)
    assert [a.kind for a in web.posted] == [AlertKind.NEW] and ops.posted == []


# --- real notifiers behind routes -------------------------------------------------------


def test_a_webhook_route_that_fails_does_not_stop_a_working_one(server: ChatServer):
    server.script = [Reply(404, "no_service")]
    hook = f"{server.base}/services/T0/B0/s3cr3t"
    failing = SlackWebhookNotifier(hook, sleep=Sleeps(), name="webhook:ops")
    working = JsonWebhookNotifier(hook, sleep=Sleeps(), name="webhook:web")
    routed = RoutedNotifier([Route([failing]), Route([working])])
    with pytest.raises(RoutedDeliveryError) as caught:
        routed.post_alert(NEW)
    assert len(server.requests) == 2
    assert [r.notifier for r in caught.value.refs] == ["webhook:web"]
    assert caught.value.status == 404
    assert "s3cr3t" not in str(caught.value) and "HTTP 404" in str(caught.value)


def test_webhook_post_returns_a_ref_shown_in_the_message_and_cited_later(server: ChatServer):
    notifier = SlackWebhookNotifier(f"{server.base}/hook", sleep=Sleeps())
    first = notifier.post_alert(NEW)
    assert first.notifier == "webhook:127.0.0.1" and len(first.ref) == 32
    second = notifier.post_alert(replace(BACK, thread=(MessageRef("slack-bot:C1", "1.2"), first)))
    assert second.ref != first.ref
    new_body, back_body = server.bodies()
    assert new_body["text"].endswith(f"Alert id: {first.ref}")
    assert f"re: alert {first.ref} at 2024-05-01T10:00:00Z" in back_body["text"]
    json_body = JsonWebhookNotifier(f"{server.base}/hook", sleep=Sleeps()).post_alert(BACK)
    assert server.bodies()[2]["alert"]["id"] == json_body.ref


def test_webhook_deliver_posts_a_ready_payload_as_it_is(server: ChatServer):
    assert SlackWebhookNotifier(f"{server.base}/hook").deliver({"text": "hi"}) == b'"ok"'
    assert server.bodies() == [{"text": "hi"}]


def test_console_post_prints_and_has_no_ref():
    stream = io.StringIO()
    assert ConsoleNotifier(stream).post_alert(BACK) is None
    assert stream.getvalue().startswith("Back to normal: security group jenkins (sg-0abc)")


# --- configuration --------------------------------------------------------------------


def test_one_notifier_config():
    routed = notifier_from_config({"type": "slack_webhook", "url": "https://hooks.slack.com/x"})
    assert isinstance(routed, RoutedNotifier) and routed.routes == ()
    (only,) = routed.default
    assert type(only) is SlackWebhookNotifier


def test_routed_config_builds_each_type(server: ChatServer):
    stream = io.StringIO()
    config: dict[str, Any] = {
        "notifiers": {
            "ops": {"type": "slack_bot", "token_param": "/setpoint/slack", "channel": "C0OPS"},
            "web": {"type": "teams", "url": f"{server.base}/teams", "max_attempts": 2},
            "raw": {"type": "json", "url_param": "/setpoint/json-url", "name": "webhook:raw"},
            "mail": {"type": "sns", "topic_arn": "arn:aws:sns:eu-west-1:123456789012:drift"},
            "log": {"type": "console"},
        },
        "routes": [
            {"tags": {"team": "web"}, "notify": ["web"]},
            {"statuses": "unmanaged", "alert_kinds": ["new", "gone"], "notify": ["mail", "log"]},
        ],
        "default": ["ops"],
    }
    routed = notifier_from_json(json.dumps(config), sns_client=object(), stream=stream)
    web_route, mail_route = routed.routes
    (teams,) = web_route.notifiers
    assert type(teams) is TeamsWebhookNotifier and teams.max_attempts == 2
    assert web_route.tags == {"team": "web"}
    assert mail_route.statuses == {"unmanaged"} and mail_route.alert_kinds == {"new", "gone"}
    (bot,) = routed.default
    assert type(bot) is SlackBotNotifier and bot.name == "slack-bot:C0OPS"
    # SSM-held URLs are not read while building: a cold start that never alerts never reads
    raw = {"type": "json", "url_param": "/setpoint/json-url", "name": "webhook:raw"}
    ssm = notifier_from_config({"notifiers": {"raw": raw}}).default[0]
    assert type(ssm) is SsmWebhookNotifier and ssm.name == "webhook:raw"
    mail, log = mail_route.notifiers
    assert mail.name == "sns:drift"
    log.post_alert(NEW)
    assert stream.getvalue().startswith("Drift:")


def test_without_default_unrouted_alerts_go_to_every_notifier():
    config = {
        "notifiers": {
            "a": {"type": "console"},
            "b": {"type": "json", "url": "https://example.com/hook"},
        },
        "routes": [{"kinds": ["s3_bucket"], "notify": "b"}],
    }
    assert [n.name for n in notifier_from_config(config).default] == [
        "console",
        "webhook:example.com",
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "irc"}, "type must be one of"),
        ({"type": "slack_webhook"}, "exactly one of url or url_param"),
        ({"type": "slack_webhook", "url": "https://h/x", "url_param": "/p"}, "exactly one"),
        ({"type": "slack_bot", "token": "xoxb-1"}, "channel"),
        ({"type": "json", "url": "https://h/x", "urll": 1}, "unknown key(s) urll"),
        ({"type": "json", "url": "https://h/x", "max_attempts": 0}, "max_attempts"),
        ({"type": "sns", "topic_arn": "arn:aws:sns:eu-west-1:1:t", "chatbot": "yes"}, "chatbot"),
        ({"notifiers": {}}, "needs `type`"),
        ({"notifiers": {"a": {"type": "console"}}, "default": ["b"]}, "unknown notifier(s): b"),
        (
            {
                "notifiers": {"a": {"type": "console"}},
                "routes": [{"status": ["drifted"], "notify": "a"}],
            },
            "unknown key(s) status",
        ),
        (
            {
                "notifiers": {"a": {"type": "console"}},
                "routes": [{"statuses": ["drift"], "notify": "a"}],
            },
            "unknown statuses drift",
        ),
        ({"notifiers": {"a": {"type": "console"}}, "routes": [{"kinds": "sg"}]}, "needs `notify`"),
        (
            {
                "notifiers": {"a": {"type": "console"}},
                "routes": [{"tags": {"team": 1}, "notify": "a"}],
            },
            "route 1: tags.team must be a tag value",
        ),
    ],
)
def test_bad_config_is_a_config_error(config, message):
    with pytest.raises(ConfigError) as caught:
        notifier_from_config(config, sns_client=object())
    assert message in str(caught.value)


def test_config_errors_never_quote_secrets():
    with pytest.raises(ConfigError) as caught:
        notifier_from_config({"type": "slack_webhook", "url": "ftp://hooks/s3cr3t"})
    assert "s3cr3t" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        notifier_from_config({"type": "slack_bot", "token": "xoxb-s3cr3t", "channel": "C1", "x": 1})
    assert "s3cr3t" not in str(caught.value)
    with pytest.raises(ConfigError, match="not valid JSON"):
        notifier_from_json("{'type': 'console'}")


PAYMENTS = replace(DRIFTED, tags=(("env", "prod"), ("team", "payments")))


def test_routes_read_the_tags_the_finding_carries():
    payments, ops = Recorder("payments"), Recorder("ops")
    routed = RoutedNotifier([Route([payments], tags={"team": "payments"})], [ops])
    routed.post_alert(Alert(AlertKind.NEW, PAYMENTS))
    assert [a.finding.id for a in payments.posted] == ["sg-0abc"] and ops.posted == []
    routed.post_alert(NEW)  # DRIFTED carries no tags
    routed.post_alert(Alert(AlertKind.NEW, replace(DRIFTED, tags=(("team", "web"),))))
    assert len(payments.posted) == 1 and len(ops.posted) == 2


def test_a_tag_route_may_accept_any_of_several_values_and_needs_every_key():
    money, ops = Recorder("money"), Recorder("ops")
    route = Route([money], tags={"team": frozenset({"payments", "billing"}), "env": "prod"})
    routed = RoutedNotifier([route], [ops])
    routed.post_alert(Alert(AlertKind.NEW, PAYMENTS))
    billing = replace(DRIFTED, tags=(("env", "prod"), ("team", "billing")))
    routed.post_alert(Alert(AlertKind.NEW, billing))
    routed.post_alert(
        Alert(AlertKind.NEW, replace(DRIFTED, tags=(("team", "payments"),)))
    )  # no env
    assert len(money.posted) == 2 and len(ops.posted) == 1


def test_tags_of_overrides_the_findings_own_tags():
    web, ops = Recorder("web"), Recorder("ops")
    routed = RoutedNotifier([Route([web], tags={"team": "web"})], [ops], tags_of=TAGS)
    routed.post_alert(Alert(AlertKind.NEW, PAYMENTS))  # sg-0abc is team=web in TAGS
    assert len(web.posted) == 1 and ops.posted == []


def test_a_tag_route_keeps_the_thread_when_the_follow_up_has_no_tags():
    payments, ops = Recorder("payments"), Recorder("ops")
    routed = RoutedNotifier([Route([payments], tags={"team": "payments"})], [ops])
    (first,) = routed.post_alert(Alert(AlertKind.NEW, PAYMENTS))
    # the sweep that saw the fix read no tags (or someone retagged the resource)
    routed.post_alert(replace(BACK, thread=(first,)))
    routed.post_alert(
        replace(BACK, finding=replace(BACK.finding, tags=(("team", "web"),)), thread=(first,))
    )
    assert [a.kind for a in payments.posted] == [AlertKind.NEW] + [AlertKind.BACK_TO_NORMAL] * 2
    assert ops.posted == []
    routed.post_alert(BACK)  # a thread some other notifier holds: tags decide, so the default
    assert len(ops.posted) == 1


def test_keeping_the_thread_never_overrides_the_routes_other_conditions():
    mail, ops = Recorder("mail"), Recorder("ops")
    route = Route([mail], alert_kinds=frozenset({"new"}), tags={"team": "payments"})
    routed = RoutedNotifier([route], [ops])
    (first,) = routed.post_alert(Alert(AlertKind.NEW, PAYMENTS))
    routed.post_alert(replace(BACK, thread=(first,)))
    assert [a.kind for a in mail.posted] == [AlertKind.NEW]
    assert [a.kind for a in ops.posted] == [AlertKind.BACK_TO_NORMAL]


DIGEST = merge_digest("run-1", [])


def test_a_digest_goes_to_the_defaults_once_each():
    web, ops = Recorder("web"), Recorder("ops")
    routed = RoutedNotifier([Route([web], tags={"team": "web"})], [ops, ops], tags_of=TAGS)
    routed.post_digest(DIGEST)
    assert (web.digests, ops.digests) == ([], [DIGEST])


def test_without_defaults_a_digest_goes_to_every_routed_notifier_once():
    web, ops = Recorder("web"), Recorder("ops")
    routes = [Route([web], tags={"team": "web"}), Route([web, ops], kinds=frozenset({"x"}))]
    RoutedNotifier(routes).post_digest(DIGEST)
    assert (web.digests, ops.digests) == ([DIGEST], [DIGEST])


def test_a_digest_one_notifier_refuses_still_reaches_the_others_and_names_it():
    web, dead = Recorder("web"), Recorder("dead", fail=DeliveryError("HTTP 500"))
    with pytest.raises(RoutedDeliveryError) as caught:
        RoutedNotifier([], [dead, web]).post_digest(DIGEST)
    assert web.digests == [DIGEST]
    assert [f.name for f in caught.value.failures] == ["dead"] and caught.value.attempted == 2
