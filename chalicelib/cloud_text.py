"""Text from the cloud made safe to show: the one sanitiser every renderer starts from.

Names, tags, descriptions, user agents, ARNs and error messages are written by whoever can
call the AWS API. Shown as they are, they can forge a line ("\\nBack to normal: ..."),
repaint a terminal (ESC sequences, OSC-8 links), reorder what a reader sees (bidi
overrides such as U+202E) or hide a difference (`web\\u200b` looks exactly like `web`).

`one_line` and `visible_lines` show every such character as its escape (`\\x1b`,
`\\u200b`, `\\U000e0041`) instead of obeying or hiding it; `one_line` also folds
newlines and tabs into spaces, for the single-line fields every message is built of.
Each renderer then applies its own escaping (Slack mrkdwn, Markdown, XML, Teams) on top:
this module knows nothing of any output format. `json_shown` does the same for a JSON
document, whose data must stay exact: it writes those characters as JSON escapes.
Pure: str in, str out.
"""

from __future__ import annotations

import re

# What is shown as an escape, never passed through:
# - C0 and C1 controls and DEL: ESC starts terminal sequences, CR overwrites a line, NEL
#   (U+0085) breaks one in some viewers;
# - bidi marks, embeddings, overrides and isolates (U+061C, U+200E/F, U+202A-E,
#   U+2066-9), which reorder what follows;
# - characters that draw nothing: zero-width space/joiners (U+200B-D), soft hyphen,
#   combining grapheme joiner, Hangul and Mongolian fillers, word joiner and invisible
#   operators (U+2060-4), deprecated format controls (U+206A-F), BOM (U+FEFF),
#   interlinear annotations (U+FFF9-B) and tag characters (U+E0000-7F);
# - the Unicode line and paragraph separators (U+2028/9), which end a line in JSON
#   viewers, JavaScript and some chat clients;
# - lone surrogates, which no UTF encoding can carry.
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb"
    "\U000e0000-\U000e007f\ud800-\udfff]"
)
# folded into a space in single-line text; kept by `visible_lines` when it is "\n"
_BREAKS = frozenset("\n\r\t")


def shown(char: str) -> str:
    """`\\x1b`, `\\u202e`, `\\U000e0041`: how a hidden character is written out."""
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _one(match: re.Match[str]) -> str:
    char = match.group()
    return " " if char in _BREAKS else shown(char)


def one_line(text: object) -> str:
    """Cloud text on one line, every hidden or control character shown, never obeyed."""
    return _HIDDEN.sub(_one, str(text))


def visible_lines(text: object) -> str:
    """Like `one_line`, but "\\n" (and "\\r\\n") still end lines: for multi-line text
    such as an error message, where a reader expects lines."""
    return "\n".join(one_line(line) for line in str(text).replace("\r\n", "\n").split("\n"))


# JSON writes C0 controls inside strings as escapes already; raw "\n" and "\t" outside
# strings are its own indentation
_HIDDEN_IN_JSON = re.compile(_HIDDEN.pattern.replace("\x00-\x1f", ""))


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_shown(document: str) -> str:
    """A JSON document (as `json.dumps` writes it) with every hidden character written as
    its JSON escape: a parser reads the very same data, a terminal shows nothing hidden
    (JSON itself leaves bidi, zero-width and C1 characters raw)."""
    return _HIDDEN_IN_JSON.sub(_json_escape, document)


def is_clean(text: str) -> bool:
    """True when `text` holds no character that `one_line` would show or fold."""
    return _HIDDEN.search(text) is None
