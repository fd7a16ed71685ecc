"""Text from a CloudTrail record made encodable where the record enters.

JSON allows `"\\ud800"`, a lone surrogate, and Python's json module (the Lambda runtime's
too) decodes it into a str that no UTF-8 encoder takes: rendering an alert that quotes
it (a user agent, say) raised UnicodeEncodeError inside a notifier, long after the alert
was claimed. Replacing each lone surrogate with U+FFFD once, here, makes every later
`json.dumps(...).encode("utf-8")` safe; a proper pair (`"\\ud83d\\ude00"`, one emoji)
is joined back into its character.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REPLACEMENT = "\ufffd"


def encodable_text(text: str) -> str:
    """`text` with surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        paired = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return "".join(REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in paired)
    return text


def encodable(value: Any) -> Any:
    """`value` (parsed JSON) with every string, key or value, made encodable; returns
    the same object when nothing needed it. Iterative: nesting depth costs no stack."""
    if not _needs_fixing(value):
        return value
    return _rebuild(value)


def _needs_fixing(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and encodable_text(item) != item:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _rebuild(value: Any) -> Any:
    # iterative as well: each container is made empty, then its children fill their slots
    root: list[Any] = [None]
    work: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while work:
        item, parent, slot = work.pop()
        if isinstance(item, str):
            parent[slot] = encodable_text(item)
        elif isinstance(item, Mapping):
            made: dict[Any, Any] = {}
            parent[slot] = made
            for key, child in item.items():
                fixed = encodable_text(key) if isinstance(key, str) else key
                made[fixed] = None
                work.append((child, made, fixed))
        elif isinstance(item, list | tuple):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            work.extend((child, items, index) for index, child in enumerate(item))
        else:
            parent[slot] = item
    return root[0]
