from __future__ import annotations

import pytest

from chalicelib.notify.escape import (
    BACKTICK_LOOKALIKE,
    code_span,
    escape_code,
    escape_mrkdwn,
    escape_truncated,
)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<http://evil.example|click>", "&lt;http://evil.example|click&gt;"),
        ("<@U012AB3CD> <#C123>", "&lt;@U012AB3CD&gt; &lt;#C123&gt;"),
        ("a & b", "a &amp; b"),
        # already-escaped text is escaped again: it came from the cloud, not from us
        ("&lt;!here&gt;", "&amp;lt;!here&amp;gt;"),
        ("plain *bold* _it_ ~st~ 'q' \"dq\"", "plain *bold* _it_ ~st~ 'q' \"dq\""),
    ],
)
def test_escape_mrkdwn(raw, escaped):
    assert escape_mrkdwn(raw) == escaped


def test_code_span_cannot_be_closed_from_inside():
    span = code_span("a`<!channel>`*b*\nc")
    assert span == f"`a{BACKTICK_LOOKALIKE}&lt;!channel&gt;{BACKTICK_LOOKALIKE}*b* c`"
    assert span.count("`") == 2


def test_code_block_text_cannot_close_the_block():
    text = escape_code("x ``` <!here> ```\nnext line")
    assert "`" not in text
    assert "&lt;!here&gt;" in text
    assert "\n" in text  # code blocks keep their lines


def test_empty_code_span_is_still_a_span():
    assert code_span("") == "` `"


def test_truncation_never_splits_an_entity():
    text = escape_truncated("<" * 100, 10)
    assert len(text) <= 10
    assert text == "&lt;&lt;…"


def test_truncation_leaves_short_text_alone():
    assert escape_truncated("a<b", 10) == "a&lt;b"
    assert escape_truncated("a<b", 6) == "a&lt;b"
    assert escape_truncated("a<bc", 6) == "a&lt;…"
    assert escape_truncated("a<bc", 5) == "a…"


def test_code_span_limit_counts_the_backticks():
    span = code_span("x" * 50, 10)
    assert len(span) == 10
    assert span == "`xxxxxxx…`"
    assert len(escape_code("&" * 50, 12)) <= 12
