"""`check --format html`: a page that stands alone, says what it covered, and obeys nothing
it quotes from the cloud."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

from chalicelib.model import ACTOR_FROM_LOOKUP, Change
from chalicelib.report.html_report import age, render_html
from chalicelib.report.scope import Scope
from tests.report.samples import ALL, DRIFTED, IN_SYNC


class _Tags(HTMLParser):
    """Collects tags with their attributes, and script bodies."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    return parser


def test_the_page_needs_nothing_from_the_network() -> None:
    page = _parse(render_html(ALL, checked=12))
    for tag, attrs in page.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed"), tag
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    csp = [a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0] or "")
    assert len([t for t, _ in page.tags if t == "script"]) == 1  # the inline filter only


def test_counts_by_status_kind_and_place() -> None:
    text = render_html(ALL, checked=12)
    assert "<th>checked</th>" in text and "<td>12</td>" in text
    assert "Off spec, by kind" in text and "security group" in text
    assert "Off spec, by account and region" in text and "123456789012 / us-east-1" in text


def test_each_finding_has_its_diff_actor_and_spec_and_is_filterable() -> None:
    text = render_html([DRIFTED, *ALL], checked=12)
    assert 'data-status="drifted"' in text and 'data-kind="security_group"' in text
    assert "+ ingress tcp/22 from 0.0.0.0/0" in text and "open to the world" in text
    assert "policies/security_groups/jenkins.yaml:3" in text
    assert (
        "AuthorizeSecurityGroupIngress by arn:aws:sts::123456789012:assumed-role/Admin/alice"
        in text
    )
    assert 'type="checkbox" name="status" value="unmanaged"' in text


def test_an_actor_found_in_cloudtrail_history_is_called_probable_with_its_event() -> None:
    assert DRIFTED.actor is not None
    looked_up = replace(DRIFTED, actor=replace(DRIFTED.actor, source=ACTOR_FROM_LOOKUP))
    text = render_html([looked_up], checked=1)
    assert "(probably: the newest matching write in CloudTrail event history)" in text
    assert "CloudTrail event 0b1c2d3e-aaaa-bbbb-cccc-1234567890ab" in text
    assert "(probably:" not in render_html([DRIFTED], checked=1)  # an event names its actor


def test_each_drift_says_how_long_before_the_report_its_change_was_made() -> None:
    text = render_html([DRIFTED], checked=1, generated_at="2024-06-11T09:30:00+00:00")
    assert "at 2024-05-01T10:00:00Z (40 days before this report)" in text
    assert "before this report" not in render_html([DRIFTED], checked=1)  # no clock read
    assert age("2024-05-01T10:00:00Z", "2024-05-01T13:59:00Z") == "3 hours"
    assert age("2024-05-01T10:00:00Z", "2024-05-01T10:00:30Z") == "under a minute"
    assert age("later", "2024-05-01T10:00:00Z") is None
    assert age("2024-05-02T00:00:00Z", "2024-05-01T00:00:00Z") is None


def test_oldest_known_change_comes_first() -> None:
    assert DRIFTED.actor is not None
    actor = DRIFTED.actor
    newer = replace(DRIFTED, id="sg-0new", actor=replace(actor, event_time="2025-01-01T00:00:00Z"))
    older = replace(DRIFTED, id="sg-0old", actor=replace(actor, event_time="2023-01-01T00:00:00Z"))
    text = render_html([newer, older], checked=2)
    assert text.index("sg-0old") < text.index("sg-0new")


def test_in_sync_only_says_no_drift_and_states_its_scope() -> None:
    scope = Scope(("123456789012",), ("eu-west-1",), ("security_group",), ("policies",), 3, 3)
    text = render_html([IN_SYNC], checked=3, scope=scope, generated_at="2026-12-03T07:00:00+00:00")
    assert "No drift:</strong> every resource checked matches its spec." in text
    assert "Scope: 1 account(s) 123456789012; regions eu-west-1" in text
    assert "generated 2026-12-03T07:00:00+00:00" in text


def test_cloud_text_cannot_open_tags_or_forge_lines() -> None:
    evil = replace(
        DRIFTED,
        name='x"><script>alert(1)</script>\u202e',
        region='us-east-1" onmouseover="alert(1)',
        actor=None,
        changes=(Change("modify", "description", "web", "ok\n+ ingress approved <b>", "", False),),
    )
    text = render_html([evil], checked=1)
    page = _parse(text)
    assert len(page.scripts) == 1 and "alert" not in page.scripts[0]
    assert all("onmouseover" not in attrs for _, attrs in page.tags)
    assert "&lt;script&gt;" in text and "&lt;b&gt;" in text
    assert "\u202e" not in text and "\\u202e" in text
    diff = re.search(r'<pre class="diff">(.*?)</pre>', text, re.S)
    assert diff is not None and "\n" not in diff.group(1)  # one change, one line
