from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.model import Change
from chalicelib.notify.alert_message import alert_headline
from chalicelib.notify.delivery import TeamsWebhookNotifier, notifier_for
from chalicelib.notify.escape import escape_teams
from chalicelib.notify.teams import render_alert_teams
from tests.chat_server import ChatServer
from tests.notify.alert_samples import ALL, BACK, CHANGED, NEW, PENDING
from tests.report.samples import DRIFTED


def _card(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card: dict[str, Any] = attachment["content"]
    return card


def _blocks(card: dict[str, Any]) -> list[str]:
    return [b["text"] for b in card["body"] if b["type"] == "TextBlock"]


def _facts(card: dict[str, Any]) -> dict[str, str]:
    return {
        f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]
    }


@pytest.mark.parametrize("alert", ALL)
def test_every_alert_is_an_adaptive_card_headed_by_its_headline(alert):
    card = _card(render_alert_teams(alert))
    assert card["type"] == "AdaptiveCard" and card["version"] in ("1.4", "1.5")
    first = card["body"][0]
    assert first["type"] == "TextBlock" and first["weight"] == "Bolder" and first["wrap"] is True
    assert first["text"] == escape_teams(alert_headline(alert))
    assert {b["type"] for b in card["body"]} <= {"TextBlock", "FactSet"}


def test_new_card_shows_resource_who_and_changes():
    card = _card(render_alert_teams(NEW, ref="f00d"))
    facts = _facts(card)
    assert facts["Security group"] == "sg-0abc"  # only a line-leading "-" is escaped
    assert facts["Name"] == "jenkins" and facts["Region"] == "us-east-1"
    assert facts["Who"] == (
        "arn:aws:sts::123456789012:assumed-role/Admin/alice"
        " (role arn:aws:iam::123456789012:role/Admin) via console"
    )
    texts = _blocks(card)
    assert "**3 changes**" in texts
    assert any("tcp/22 from 0.0.0.0/0" in t for t in texts)
    assert any(t.endswith("Alert f00d") for t in texts)


def test_back_to_normal_card_has_fixer_and_cites_the_alert():
    card = _card(render_alert_teams(BACK))
    facts = _facts(card)
    assert facts["Fixed by"] == "arn:aws:sts::123456789012:assumed-role/Ops/bob"
    assert facts["When"] == "2024-05-01T12:13:00Z (RevokeSecurityGroupIngress)"
    assert facts["Off since"] == "2024-05-01T10:00:00Z, for 2h 13m"
    assert "re: alert a1b2c3 at 2024-05-01T10:00:00Z" in _blocks(card)
    assert not any("changes**" in t for t in _blocks(card))


def test_changed_card_lists_what_is_new_and_gone():
    texts = _blocks(_card(render_alert_teams(CHANGED)))
    assert "**Since the last alert**" in texts
    assert any(t.startswith("new:") and "3389" in t for t in texts)
    assert any(t.startswith("no longer:") and "443" in t for t in texts)


def test_pending_apply_card_is_not_red():
    first = _card(render_alert_teams(PENDING))["body"][0]
    assert first["color"] != "Attention"
    assert first["text"].startswith("Pending apply: the spec for")


HOSTILE = "<at>everyone</at> **boss** [click](http://evil.example) {{DATE(2017-02-14T06:08:39Z)}}"


def test_names_and_tags_from_the_cloud_cannot_format_mention_or_link():
    tag = Change("modify", "tags.team", "web", HOSTILE, f'tags.team "web" -> "{HOSTILE}"')
    finding = replace(DRIFTED, name=HOSTILE, changes=(tag,))
    card = _card(render_alert_teams(replace(NEW, finding=finding)))
    everything = [*_blocks(card), *_facts(card).values(), card["fallbackText"]]
    joined = "\n".join(everything)
    assert "<at>" not in joined and "**boss**" not in joined
    assert "[click](" not in joined and "http://" not in joined and "{{DATE" not in joined
    assert _facts(card)["Name"].startswith("\\<at\\>everyone\\</at\\> \\*\\*boss\\*\\*")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("- not a list", "\\- not a list"),
        ("1. not a list", "1\\. not a list"),
        ("a_b*c", "a\\_b\\*c"),
        ("https://x.example/y", "https:\\/\\/x.example/y"),
        ("plain text", "plain text"),
    ],
)
def test_escape_teams(raw, escaped):
    assert escape_teams(raw) == escaped


def test_many_changes_are_capped_and_counted():
    many = tuple(Change("add", "ingress", None, {"n": i}, f"ingress tcp/{i}") for i in range(100))
    card = _card(render_alert_teams(replace(NEW, finding=replace(DRIFTED, changes=many))))
    texts = _blocks(card)
    assert "… and 60 more changes" in texts
    assert sum(1 for b in card["body"] if b.get("fontType") == "Monospace") == 40


def test_next_steps_take_only_the_card_lines_changes_leave():
    many = tuple(
        Change("add", "ingress", None, {"n": i}, f"ingress tcp/{i}", revert=f"aws ec2 revoke {i}")
        for i in range(100)
    )
    card = _card(render_alert_teams(replace(NEW, finding=replace(DRIFTED, changes=many))))
    texts = _blocks(card)
    assert "… and 60 more changes" in texts
    assert not any("↳" in t for t in texts)
    few = many[:10]
    card = _card(render_alert_teams(replace(NEW, finding=replace(DRIFTED, changes=few))))
    steps = [t for t in _blocks(card) if "↳ revert" in t]
    assert len(steps) == 10


def test_teams_notifier_posts_the_card_and_returns_a_webhook_ref(server: ChatServer):
    server.default = ""
    notifier = TeamsWebhookNotifier(f"{server.base}/workflows/secret", sleep=lambda s: None)
    ref = notifier.post_alert(NEW)
    assert ref.notifier == "webhook:127.0.0.1" and len(ref.ref) == 32
    (body,) = server.bodies()
    card = _card(body)
    assert any(t.endswith(f"Alert {ref.ref}") for t in _blocks(card))
    notifier.send(DRIFTED)  # the older API sends a card too
    assert _card(server.bodies()[1])["body"][0]["text"].startswith("Drift: security group")
    assert type(notifier_for(f"{server.base}/x", "teams")) is TeamsWebhookNotifier
