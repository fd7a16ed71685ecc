"""Text from the cloud can neither forge a line nor hide a character, in any renderer
(issue 13 item 8).

Every string a caller of the AWS API can set (names, ids, tags, reasons, user agents,
ARNs, change summaries and values) is drawn hostile: a line separator followed by a
forged status line, bidi overrides, zero-width characters, ESC and OSC-8 sequences.
Every renderer's output is then read the way a person or a parser reads it.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.cloud_text import is_clean, one_line, visible_lines
from chalicelib.model import Change, Finding, Status, tag_pairs
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.alert_message import (
    alert_headline,
    render_alert_json,
    render_alert_slack,
    render_alert_text,
)
from chalicelib.notify.message import render_json, render_slack, render_text
from chalicelib.notify.sns import SnsNotifier, sns_subject
from chalicelib.notify.teams import render_alert_teams
from chalicelib.report.html_report import render_html
from chalicelib.report.json_report import render_json_report
from chalicelib.report.junit_report import render_junit
from chalicelib.report.markdown_report import render_markdown
from chalicelib.report.sarif_report import render_sarif
from chalicelib.report.text_report import render_text_report
from chalicelib.sweep.digest import (
    merge_digest,
    render_digest_slack,
    render_digest_teams,
    render_digest_text,
    summarize,
)
from tests.notify.alert_samples import BACK, CHANGED, FIRST
from tests.report.samples import ALICE, DRIFTED

FORGED = "FORGED Back to normal: security group web matches its spec again"
LINE_BREAKS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e"]
HIDING = [
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u061c", "\ufeff", "\u202e",
    "\u202a", "\u2066", "\u2069", "\u2060", "\u00ad", "\U000e0041",
    "\x1b[2J", "\x1b]8;;https://evil.example\x1b\\", "\x07", "\x00", "\x9b",
]  # fmt: skip


# --- the sanitiser ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("web\u200b", "web\\u200b"),
        ("\u202eevil", "\\u202eevil"),
        ("a\u2028b", "a\\u2028b"),
        ("a\nb\tc\rd", "a b c d"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\ufeffbom", "\\ufeffbom"),
        ("\u061carabic mark", "\\u061carabic mark"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("caf\u00e9 \u4e2d \U0001f680", "caf\u00e9 \u4e2d \U0001f680"),  # visible text stays
    ],
)
def test_one_line_shows_what_would_hide_or_forge(raw, shown):
    assert one_line(raw) == shown


def test_visible_lines_keeps_newlines_and_shows_the_rest():
    assert visible_lines("a\r\nb\u2028c\x1b[2J") == "a\nb\\u2028c\\x1b[2J"


# --- every renderer --------------------------------------------------------------------


@st.composite
def hostile(draw: st.DrawFn) -> str:
    """Plausible text, then a break and a forged line, with hidden characters sprinkled."""
    # a letter first: the text itself may open a line (a fact, a field); only what
    # follows a break it smuggled in must not
    pieces = ["v" + draw(st.text(alphabet="abc-_.:/*[]()<>&`", max_size=8))]
    for _ in range(draw(st.integers(1, 3))):
        pieces.append(draw(st.sampled_from(LINE_BREAKS + HIDING)))
        pieces.append(draw(st.sampled_from([FORGED, "[x](https://evil.example) *bold*", "x"])))
    return "".join(pieces)


@st.composite
def hostile_finding(draw: st.DrawFn) -> Finding:
    text = hostile()
    change = Change(
        op=draw(st.sampled_from(["add", "remove", "modify"])),
        path="tags." + draw(text),
        expected=draw(st.one_of(st.none(), text)),
        actual=draw(text),
        summary=draw(st.sampled_from(["", draw(text)])),
        world_open=draw(st.booleans()),
        revert=draw(st.one_of(st.none(), text)),
        accept=draw(st.one_of(st.none(), text)),
    )
    actor = replace(
        ALICE,
        arn=draw(text),
        user_agent=draw(text),
        event_name=draw(text),
        session_issuer=draw(text),
        source_ip=draw(text),
        event_id=draw(text),
    )
    return replace(
        DRIFTED,
        id="sg-" + draw(text),
        name=draw(text),
        account=draw(text),
        vpc_id=draw(text),
        reason=draw(text),
        status=draw(st.sampled_from([Status.DRIFTED, Status.UNMANAGED, Status.UNKNOWN])),
        changes=(change, *DRIFTED.changes),
        tags=tag_pairs({draw(text): draw(text)}),
        actor=actor,
    )


def _strings(value: Any, skip: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every string in a JSON-like value, keys left out, subtrees named in `skip` too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from _strings(item, skip)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, skip)


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts += [v for _, v in attrs if v]


def _xml_text(document: str) -> Iterator[str]:
    root = ET.fromstring(document.split("\n", 1)[1])  # parses, or the test fails here
    for element in root.iter():
        yield from element.attrib.values()
        if element.text:
            yield element.text


def _displayed(finding: Finding) -> Iterator[tuple[str, str]]:
    """(renderer, text as shown) for every renderer of findings, alerts and digests."""
    alerts = [
        Alert(AlertKind.NEW, finding),
        replace(CHANGED, finding=finding),
        replace(BACK, finding=replace(finding, status=Status.IN_SYNC), fixed_by=finding.actor),
    ]
    yield "text", render_text(finding)
    yield "text report", render_text_report([finding], checked=1)
    # in colour, only our own SGR codes: with them removed, no ESC is left
    coloured = render_text_report([finding], checked=1, color=True)
    yield "text report in colour", re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    markdown = render_markdown([finding], checked=1)
    yield "markdown", markdown
    # outside its code blocks (inside them nothing is markup), Markdown must stay inert
    yield "markdown prose", re.sub(r"(?ms)^(`{3,})diff$.*?^\1$", "", markdown)
    for text in _xml_text(render_junit([finding])):
        yield "junit", text
    # JSON documents as printed: hidden characters written as JSON escapes, data unchanged
    report = render_json_report([finding], checked=1)
    assert json.loads(report)["findings"][0]["name"] == finding.name
    yield "json report", report
    yield "sarif document", render_sarif([finding])
    sarif = json.loads(render_sarif([finding]))
    for text in _strings(sarif, skip=frozenset({"properties"})):  # properties: data
        yield "sarif", text
    parser = _HtmlText()
    parser.feed(render_html([finding], checked=1))
    for text in parser.parts:
        yield "html", text
    yield "slack", "\n".join(_strings(render_slack(finding)))
    for payload in (render_json(finding), *(render_alert_json(a) for a in alerts)):
        json.loads(json.dumps(payload))
        yield "json webhook", payload["headline"]
        yield "json webhook", payload["text"]
    sns = SnsNotifier(None, "arn:aws:sns:eu-west-1:123456789012:t", chatbot=True)
    for alert in alerts:
        yield "alert text", render_alert_text(alert, ref="f00d", cite=FIRST.ref)
        yield "slack", "\n".join(_strings(render_alert_slack(alert)))
        yield "teams", "\n".join(_strings(render_alert_teams(alert)))
        yield "sns subject", sns_subject(alert_headline(alert))
        chatbot = json.loads(sns._chatbot(alert, render_alert_text(alert), "f00d", None))
        yield "chatbot", "\n".join(_strings(chatbot["content"]))
    summary = summarize("shard", [finding], alerts[:1], lambda f: "2024-05-01T10:00:00Z")
    digest = merge_digest("run", [summary])
    yield "digest text", render_digest_text(digest)
    yield "digest slack", "\n".join(_strings(render_digest_slack(digest)))
    yield "digest teams", "\n".join(_strings(render_digest_teams(digest)))


# what may open a line before the text itself: indentation, list and diff markers, markup
_LEAD = re.compile(r"^[\s*_`~>|#•+\-\\]*(?:\S+: )?")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(finding=hostile_finding())
def test_no_renderer_lets_cloud_text_forge_a_line_or_hide_a_character(finding):
    for renderer, text in _displayed(finding):
        hidden = [ch for ch in text if ch != "\n" and not is_clean(ch)]
        assert not hidden, f"{renderer} shows {hidden!r}"
        for line in text.splitlines():
            assert not line.lstrip(" *_`~>|#•+-\\").startswith("FORGED"), (renderer, line)
        if renderer in ("chatbot", "teams", "digest teams", "markdown prose"):
            assert "[x](" not in text and "*bold*" not in text, (renderer, text)
        if renderer.startswith(("slack", "digest slack")):
            assert "<" not in text, (renderer, text)  # no <!channel>, no <url|label>


def test_a_forged_back_to_normal_line_stays_inside_its_junit_testcase_name():
    finding = replace(DRIFTED, name=f"web\n{FORGED}\u2028\u202e")
    document = render_junit([finding])
    (case,) = [c for c in ET.fromstring(document.split("\n", 1)[1]).iter("testcase")]
    assert case.get("name") == "us-east-1/sg-0abc web FORGED" + FORGED[6:] + "\\u2028\\u202e"
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    assert not any(line.startswith("FORGED") for line in failure.text.splitlines())


def test_chatbot_text_cannot_link_or_bold():
    finding = replace(DRIFTED, name="[x](https://evil.example) *bold* _it_ `code`")
    sns = SnsNotifier(None, "arn:aws:sns:eu-west-1:123456789012:t", chatbot=True)
    alert = Alert(AlertKind.NEW, finding)
    content = json.loads(sns._chatbot(alert, render_alert_text(alert), "f00d", None))["content"]
    for text in (content["title"], content["description"]):
        assert "[x](" not in text and "https://" not in text and "*bold*" not in text
        assert "_it_" not in text and "`code`" not in text
    assert "\uff3bx\uff3d(https:\u2215\u2215evil.example) \u2217bold\u2217" in content["title"]


def test_a_zero_width_space_no_longer_makes_two_names_look_alike():
    plain, spoofed = (replace(DRIFTED, name=name) for name in ("web", "web\u200b"))
    assert render_text(plain) != render_text(spoofed)
    assert 'sg-0abc "web\\u200b"' in render_text(spoofed)
    assert sns_subject("web\u200b") == "web\\u200b"  # not dropped as non-ASCII
