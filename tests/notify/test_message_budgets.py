"""Every card and message fits its service by construction (issue 13 item 3).

Sizes are measured as the notifiers send them: the JSON body, UTF-8, after escaping.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from chalicelib.kinds.security_group.compare import tag_changes
from chalicelib.model import Change, Status, tag_pairs
from chalicelib.next_steps import aws_command, yaml_flow
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.alert_message import render_alert_json
from chalicelib.notify.budget import JSON_LIMIT, fit, json_bytes
from chalicelib.notify.delivery import JsonWebhookNotifier, TeamsWebhookNotifier
from chalicelib.notify.escape import escape_teams
from chalicelib.notify.message import render_json
from chalicelib.notify.sns import (
    CHATBOT_DESCRIPTION_LIMIT,
    CHATBOT_TITLE_LIMIT,
    MESSAGE_LIMIT,
    SnsNotifier,
)
from chalicelib.notify.teams import CARD_LIMIT, LINE_LIMIT, render_alert_teams
from chalicelib.report.common import alarming_first, change_line, one_line
from chalicelib.sweep.digest import (
    Digest,
    DigestItem,
    UnknownGroup,
    digest_json,
    render_digest_slack,
    render_digest_teams,
)
from tests.chat_server import ChatServer
from tests.notify.alert_samples import ALL, CHANGED, NEW
from tests.report.samples import DRIFTED

# What Teams accepts (about 28 KB); our own budget sits below it.
TEAMS_LIMIT = 28_000
REGION = "eu-west-1"


def _sent_size(payload: Any) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _card(payload: dict[str, Any]) -> dict[str, Any]:
    card: dict[str, Any] = payload["attachments"][0]["content"]
    return card


def _texts(card: dict[str, Any]) -> list[str]:
    return [b["text"] for b in card["body"] if b["type"] == "TextBlock"]


def _long_tags(count: int = 49) -> dict[str, str]:
    """AWS's longest tags (128-character keys, 256-character values), full of markdown
    that Teams escaping doubles."""
    return {f"team-{i:02d}-" + "k" * 120: "v*_[" * 64 for i in range(count)}


def _tagged_drift(tags: dict[str, str]) -> Alert:
    """A group whose spec has none of `tags`: the changes and next steps compare and the
    security group family produce for it."""
    changes = []
    for change in tag_changes({}, tags):
        key = change.path.removeprefix("tags.")
        revert = aws_command(
            "ec2",
            "delete-tags",
            ("resources", [DRIFTED.id]),
            ("tags", [{"Key": key}]),
            region=DRIFTED.region,
        )
        accept = f"add to tags: {yaml_flow({key: change.actual})}"
        changes.append(replace(change, revert=revert, accept=accept))
    finding = replace(DRIFTED, changes=tuple(changes), tags=tag_pairs(tags))
    return Alert(AlertKind.NEW, finding)


def test_49_long_tags_make_a_teams_card_within_the_limit_that_counts_what_it_left_out():
    alert = _tagged_drift(_long_tags())
    payload = render_alert_teams(alert, ref="f00d")
    assert _sent_size(payload) <= CARD_LIMIT < TEAMS_LIMIT
    texts = _texts(_card(payload))
    assert "**49 changes**" in texts
    shown = [t for t in texts if t.startswith("\\+ tags.team-")]
    (more,) = [t for t in texts if t.startswith("… and ")]
    assert shown and more == f"… and {49 - len(shown)} more changes"
    assert any(t.endswith("Alert f00d") for t in texts)  # the footer is never pushed out


def test_the_teams_notifier_posts_the_bounded_card(server: ChatServer):
    server.default = ""
    notifier = TeamsWebhookNotifier(f"{server.base}/workflows/x", sleep=lambda s: None)
    notifier.post_alert(_tagged_drift(_long_tags()))
    (body,) = server.bodies()
    assert _sent_size(body) <= CARD_LIMIT


def test_a_change_list_under_budget_is_shown_whole():
    texts = _texts(_card(render_alert_teams(NEW)))
    assert not any(t.startswith("… and ") for t in texts)
    assert sum(t.startswith(("\\+", "\\-", "\\~")) for t in texts) == 3


# --- property: any changes, tags and text ----------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8"),  # no lone surrogates: item 2 makes those encodable
    max_size=600,
)
_CHANGE = st.builds(
    Change,
    op=st.sampled_from(["add", "remove", "modify"]),
    path=_TEXT,
    expected=st.one_of(st.none(), _TEXT),
    actual=st.one_of(st.none(), _TEXT),
    summary=_TEXT,
    world_open=st.booleans(),
    revert=st.one_of(st.none(), _TEXT),
    accept=st.one_of(st.none(), _TEXT),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(_CHANGE, min_size=1, max_size=120),
    tags=st.dictionaries(_TEXT, _TEXT, max_size=50),
    name=_TEXT,
    user_agent=_TEXT,
    reason=st.one_of(st.none(), _TEXT),
    kind=st.sampled_from(ALL),
)
def test_any_teams_card_fits_and_names_the_resource_and_first_change(
    changes, tags, name, user_agent, reason, kind
):
    finding = replace(
        kind.finding,
        status=Status.DRIFTED,
        name=name or "n",
        changes=tuple(changes),
        tags=tag_pairs(tags),
        reason=reason,
        actor=replace(DRIFTED.actor, user_agent=user_agent) if DRIFTED.actor else None,
    )
    alert = replace(CHANGED, finding=finding)
    payload = render_alert_teams(alert, ref="f00d", cite="a1b2")
    assert _sent_size(payload) <= CARD_LIMIT
    card = _card(payload)
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet"
             for f in b["facts"]}  # fmt: skip
    assert facts["Security group"] == fit(one_line(finding.id), 600, escape_teams)
    first = change_line(alarming_first(finding.changes)[0])
    assert fit(one_line(first), LINE_LIMIT, escape_teams) in _texts(card)


def _digest(count: int, text: str) -> Digest:
    item = DigestItem("security_group", "sg-" + text, text, "123456789012", "eu-west-1", "drifted")
    items = tuple(replace(item, id=f"sg-{i}-{text}") for i in range(count))
    return Digest(
        run_id="run-1",
        shards=1,
        counts={"checked": count, "drifted": count},
        totals={"new_drift": count, "resolved": count, "still_open": count, "unknown": count},
        new_drift=items,
        resolved=items,
        still_open=items,
        unknown=(UnknownGroup(reason=text * 4, count=count, examples=items[:3]),),
        failed_deliveries=tuple(text for _ in range(count)),
        failed_delivery_total=count,
        dead_letters=tuple(f"setpoint-events-dlq: {text}" for _ in range(count)),
        dead_letter_total=count,
    )


@pytest.mark.parametrize("text", ["x" * 255, "*" * 255, "\u00e9\u4e2d" * 120, '`<&>\\"' * 40])
def test_a_digest_card_of_long_names_stays_within_the_limit(text):
    payload = render_digest_teams(_digest(15, text))
    assert _sent_size(payload) <= CARD_LIMIT
    texts = _texts(_card(payload))
    assert texts[0] == "Setpoint sweep digest" and texts[1].startswith("Setpoint sweep:")
    assert any(t.startswith("New drift (15)") for t in texts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(1, 15), text=_TEXT)
def test_any_digest_card_fits(count, text):
    payload = render_digest_teams(_digest(count, text))
    assert _sent_size(payload) <= CARD_LIMIT
    assert _texts(_card(payload))[1].startswith("Setpoint sweep:")


def test_a_slack_digest_section_is_cut_between_lines_never_inside_an_entity():
    payload = render_digest_slack(_digest(15, "&<>" * 85))
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    for text in sections:
        assert re.sub(r"&(amp|lt|gt);", "", text).count("&") == 0  # no "&am" left behind
    assert any(text.splitlines()[-1].startswith("… and ") for text in sections)


# --- SNS and Chatbot ---------------------------------------------------------------


@pytest.fixture
def sns(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("sns", region_name=REGION)


def _published(sns, topic: str, alert: Alert, *, chatbot: bool) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    SnsNotifier(sns, topic, chatbot=chatbot).post_alert(alert)
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    return str(json.loads(message["Body"])["Message"])


def _many_changes(count: int) -> Alert:
    changes = tuple(
        Change("add", "ingress", None, {"n": i}, f"ingress tcp/{i} from 10.{i}.0.0/16 " + "x" * 80)
        for i in range(count)
    )
    return replace(NEW, finding=replace(DRIFTED, changes=changes))


def test_an_sns_message_of_5000_changes_is_published_cut_to_the_sns_limit(sns):
    topic = sns.create_topic(Name="drift")["TopicArn"]
    message = _published(sns, topic, _many_changes(5000), chatbot=False)
    assert len(message.encode("utf-8")) <= MESSAGE_LIMIT
    assert message.startswith("Drift: security group jenkins (sg-0abc)")
    assert message.splitlines()[-1].startswith("… and ") and "more lines" in message


def test_a_chatbot_notification_keeps_title_and_description_within_their_budgets(sns):
    topic = sns.create_topic(Name="chatbot")["TopicArn"]
    alert = _many_changes(400)
    alert = replace(alert, finding=replace(alert.finding, name="n" * 400))
    content = json.loads(_published(sns, topic, alert, chatbot=True))["content"]
    assert json_bytes(content["title"]) - 2 <= CHATBOT_TITLE_LIMIT
    assert content["title"].startswith("Drift: security group nnn") and content["title"].endswith(
        "…"
    )
    assert json_bytes(content["description"]) - 2 <= CHATBOT_DESCRIPTION_LIMIT
    assert content["description"].splitlines()[-1].startswith("… and ")


# --- JSON webhooks -------------------------------------------------------------------


def test_a_json_payload_over_the_budget_drops_changes_from_the_end_and_counts_them():
    changes = tuple(
        Change("add", f"tags.k{i}", None, "v" * 256, f"tag k{i} — not in spec") for i in range(3000)
    )
    finding = replace(DRIFTED, changes=changes)
    for payload in (render_json(finding), render_alert_json(replace(NEW, finding=finding))):
        body = json.loads(json.dumps(payload, ensure_ascii=False))
        assert json_bytes(body) <= JSON_LIMIT
        kept = len(body["changes"])
        assert 0 < kept < 3000 and body["changes_omitted"] == 3000 - kept
        assert body["changes"][0]["path"] == "tags.k0"  # the order is kept: the tail goes
        assert len(body["text"].encode("utf-8")) <= 16_000
        assert body["text"].splitlines()[-1].startswith("… and ")


def test_the_json_webhook_notifier_posts_the_bounded_payload(server: ChatServer):
    changes = tuple(
        Change("add", f"tags.k{i}", None, "v" * 256, f"tag k{i} — not in spec") for i in range(3000)
    )
    notifier = JsonWebhookNotifier(f"{server.base}/hook", sleep=lambda s: None)
    notifier.post_alert(replace(NEW, finding=replace(DRIFTED, changes=changes)))
    (body,) = server.bodies()
    assert _sent_size(body) <= JSON_LIMIT and body["changes_omitted"] > 0


def test_a_json_payload_under_the_budget_is_unchanged():
    payload = render_json(DRIFTED)
    assert "changes_omitted" not in payload and len(payload["changes"]) == 3


@given(text=_TEXT, limit=st.integers(0, 700))
def test_fit_stays_within_its_limit_and_never_halves_an_escape(text, limit):
    cut = fit(text, limit, escape_teams)
    assert json_bytes(cut) - 2 <= limit
    if cut != escape_teams(text):
        assert cut == "" or cut.endswith("…")
        # what is kept is the escape of a prefix of the text, so every escape is whole
        assert cut == "" or any(escape_teams(text[:n] + "…") == cut for n in range(len(text) + 1))


def test_a_json_digest_keeps_its_text_within_budget():
    payload = digest_json(_digest(15, "r" * 3000))
    assert json_bytes(payload) <= JSON_LIMIT
    assert len(payload["text"].encode("utf-8")) <= 16_000
    assert payload["text"].startswith("Setpoint sweep: 15 checked")
