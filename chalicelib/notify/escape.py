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
