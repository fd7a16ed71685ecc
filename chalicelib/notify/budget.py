"""Size budgets for outgoing messages, measured the way the message travels.

A chat service counts what it receives: the bytes of the JSON body, after our escaping
(which can double a name full of `*`) and after JSON's own (`"` and `\\` take two bytes,
an emoji four). Counting characters before escaping is how a card of 49 long tags grew
to twice Teams' limit. So every budget here is a number of bytes of the serialised form,
and text is cut *before* it is escaped, so no escape is ever cut in half.

Pure helpers: no format knowledge beyond "escape with this function".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.notify.escape import ELLIPSIS


def json_bytes(value: Any) -> int:
    """Bytes of `value` as the notifiers send it (`json.dumps`, ensure_ascii off, UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def item_cost(item: Any) -> int:
    """Bytes `item` adds to a JSON list it joins: its own and the `, ` before it."""
    return json_bytes(item) + 2


def text_bytes(text: str) -> int:
    """Bytes of `text` as a JSON string value, quotes left out."""
    return json_bytes(text) - 2


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _identity(text: str) -> str:
    return text


def fit(
    text: str,
    limit: int,
    escape: Callable[[str], str] = _identity,
    measure: Callable[[str], int] = text_bytes,
) -> str:
    """`escape(text)` when it measures at most `limit`, else `escape` of the longest
    prefix of `text` that, with `…` after it, does. Cutting the raw text keeps every
    escape whole. Returns "" only when not even `…` fits."""
    # Every character measures at least 1 and escaping never shrinks text, so a prefix of
    # more than `limit` characters cannot fit: a long text is never escaped whole.
    if len(text) <= limit:
        whole = escape(text)
        if measure(whole) <= limit:
            return whole
    if measure(escape(ELLIPSIS)) > limit:
        return ""
    low, high = 0, min(len(text), limit)  # low always fits, high never does
    while high - low > 1:
        middle = (low + high) // 2
        if measure(escape(text[:middle] + ELLIPSIS)) <= limit:
            low = middle
        else:
            high = middle
    return escape(text[:low] + ELLIPSIS)


def more_line(omitted: int, noun: str = "change") -> str:
    """`… and 3 more changes`: a cut said out loud, so nobody takes it for the whole."""
    return f"{ELLIPSIS} and {omitted} more {noun}{'' if omitted == 1 else 's'}"


def fit_lines(
    lines: Sequence[str],
    limit: int,
    noun: str = "line",
    escape: Callable[[str], str] = _identity,
    measure: Callable[[str], int] = utf8_bytes,
) -> list[str]:
    """The escaped `lines` when, joined by newlines, they measure at most `limit`; else
    the first ones that fit beside `… and N more lines` (a first line too long alone is
    cut, never an escape in it)."""
    escaped = [escape(line) for line in lines]
    if measure("\n".join(escaped)) <= limit:
        return escaped
    newline = measure("\n")
    room = limit - newline - measure(more_line(len(lines), noun))
    kept: list[str] = []
    used = 0
    for raw, line in zip(lines, escaped, strict=True):
        cost = measure(line) + (newline if kept else 0)
        if used + cost > room:
            if not kept:
                kept.append(fit(raw, room, escape, measure))
            break
        kept.append(line)
        used += cost
    return [*kept, more_line(len(lines) - len(kept), noun)]


# --- JSON webhooks ------------------------------------------------------------------
#
# A generic receiver has no published limit, but many forward into SNS, SQS or
# EventBridge, which refuse more than 256 KiB. The display fields are bounded always;
# the data lists only when the whole would not fit, dropped from the end and counted in
# `<list>_omitted`, so a receiver can tell a cut list from a whole one.
JSON_LIMIT = 256 * 1024
JSON_HEADLINE_LIMIT = 1_000
JSON_TEXT_LIMIT = 16_000


def bounded_json(payload: dict[str, Any], lists: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """`payload` with `headline`/`text` bounded and, while it is over JSON_LIMIT, the
    lists at the `lists` paths (first path cut first) shortened from the end."""
    if isinstance(payload.get("headline"), str):
        payload["headline"] = fit(payload["headline"], JSON_HEADLINE_LIMIT)
    if isinstance(payload.get("text"), str):
        text_lines = payload["text"].splitlines()
        payload["text"] = "\n".join(fit_lines(text_lines, JSON_TEXT_LIMIT, measure=text_bytes))
    for path in lists:
        *parents, key = path
        holder: Any = payload
        for name in parents:
            holder = holder.get(name) if isinstance(holder, dict) else None
        items = holder.get(key) if isinstance(holder, dict) else None
        if not isinstance(items, list):
            continue
        while items and (over := json_bytes(payload) - JSON_LIMIT) > 0:
            # drop about enough, then measure again (the count's digits, the separators)
            holder.setdefault(f"{key}_omitted", 0)
            while items and over > 0:
                over -= item_cost(items.pop())
                holder[f"{key}_omitted"] += 1
    return payload
