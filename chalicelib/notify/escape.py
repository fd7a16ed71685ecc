"""Escaping for Slack text, applied to everything that came from the cloud or the event.

Slack reads `<...>` as a control sequence: `<!channel>` pings everyone, `<http://x|y>`
is a link whose text lies about its target. Anyone allowed to name a security group or
tag a bucket could otherwise ping a channel or plant a phishing link in our alert.
Slack asks for exactly three entities (`&amp;`, `&lt;`, `&gt;`); encoding more would show
up literally.

Inside code spans and blocks mrkdwn formatting is off, but a backtick would close the
span early and let the rest be formatted, so backticks become a look-alike (ˋ, U+02CB).
Newlines would break an inline span, so they become spaces there.
"""

from __future__ import annotations

import re

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
BACKTICK_LOOKALIKE = "\u02cb"
ELLIPSIS = "…"


def escape_mrkdwn(text: object) -> str:
    """`&`, `<`, `>` as Slack entities; everything else unchanged."""
    return "".join(_ENTITIES.get(ch, ch) for ch in str(text))


def _code_chars(text: object, *, inline: bool) -> list[str]:
    pieces: list[str] = []
    for ch in str(text):
        if ch == "`":
            pieces.append(BACKTICK_LOOKALIKE)
        elif inline and ch in "\r\n\t":
            pieces.append(" ")
        else:
            pieces.append(_ENTITIES.get(ch, ch))
    return pieces


def escape_code(text: object, limit: int | None = None) -> str:
    """Text for inside a ``` code block: entities escaped, backticks neutralised, and at
    most `limit` characters after escaping."""
    return _clip(_code_chars(text, inline=False), limit)


def code_span(text: object, limit: int | None = None) -> str:
    """`text` as an inline code span that nothing inside can break out of."""
    pieces = _code_chars(text, inline=True)
    body = _clip(pieces, None if limit is None else max(limit - 2, 1))
    return f"`{body}`" if body else "` `"


def escape_truncated(text: object, limit: int) -> str:
    """Escaped text no longer than `limit` characters *after* escaping, ending in `…` when
    cut; never cuts an entity in half (a dangling `&am` would show up literally)."""
    return _clip([_ENTITIES.get(ch, ch) for ch in str(text)], limit)


def _clip(pieces: list[str], limit: int | None) -> str:
    """Join escaped pieces, dropping whole pieces so the result fits `limit`."""
    whole = "".join(pieces)
    if limit is None or len(whole) <= limit:
        return whole
    kept: list[str] = []
    used = 0
    budget = limit - len(ELLIPSIS)
    for piece in pieces:
        if used + len(piece) > budget:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept) + ELLIPSIS


# --- Microsoft Teams -------------------------------------------------------------------
#
# Adaptive Card TextBlocks and facts read a CommonMark subset (bold, italic, lists, links)
# plus `{{DATE(...)}}` / `{{TIME(...)}}` functions, and Teams turns `<at>…</at>` into a
# mention when the card also declares it. HTML is not rendered. A backslash before ASCII
# punctuation shows the character itself, so text from the cloud gets one before every
# character that could start markup, and a line that would begin a list or heading gets
# its first character escaped too.

# `[` alone stops links and images (`[t](u)`, `![a](u)`), so parentheses stay readable.
_TEAMS_SPECIAL = frozenset("\\`*_~[]{}<>")
_LIST_START = re.compile(r"^([ \t]*)([-+]|\d+[.)])", re.MULTILINE)


def escape_teams(text: object) -> str:
    """Text for Teams markdown that shows exactly what it says: no bold, link, list,
    mention or date function can come out of a resource name or tag."""
    escaped = "".join(f"\\{ch}" if ch in _TEAMS_SPECIAL else ch for ch in str(text))
    # `http://x` is linkified even without brackets; `:\/\/` reads the same and is not.
    escaped = escaped.replace("://", ":\\/\\/")
    return _LIST_START.sub(_escape_list_start, escaped)


def _escape_list_start(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    if marker[0].isdigit():
        return f"{indent}{marker[:-1]}\\{marker[-1]}"
    return f"{indent}\\{marker}"


# --- Markdown read by a client we do not know (AWS Chatbot's "client-markdown") ----------
#
# Chatbot turns a custom notification's markdown into Slack's or Teams' own, so neither
# Slack entities nor CommonMark backslashes are sure to survive. Characters that could
# start markup become look-alikes that no client formats (a name still reads the same),
# `://` loses its link power, and `&`, `<`, `>` are Slack entities as before.
_MARKUP_LOOKALIKES = {
    "*": "\u2217",  # ∗ asterisk operator
    "_": "\uff3f",  # ＿ fullwidth low line
    "~": "\u223c",  # ∼ tilde operator
    "`": BACKTICK_LOOKALIKE,
    "[": "\uff3b",  # ［ fullwidth brackets: no [text](url) link
    "]": "\uff3d",
    "|": "\u2223",  # ∣ divides: no <url|text> label
}


def escape_markup(text: object) -> str:
    """Cloud text for a markdown field whose dialect we cannot know: nothing in it can
    format, link, mention or ping."""
    pieces = (_MARKUP_LOOKALIKES.get(ch) or _ENTITIES.get(ch, ch) for ch in str(text))
    return "".join(pieces).replace("://", ":\u2215\u2215")  # ∕∕ division slashes
