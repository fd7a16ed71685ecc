"""A stable name for "this exact drift", so the same drift is never posted twice.

Events, duplicate deliveries and sweeps all re-read the resource and may word the same
departure differently (or name a different actor); the fingerprint therefore covers only
the canonical change set: status and each change's (op, path, expected, actual). Summaries,
actors and spec locations stay out of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.model import Change, Finding, Status

FINGERPRINT_LENGTH = 32

ChangeKey = tuple[str, str, str, str]


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, sets sorted, tuples as lists."""
    return json.dumps(
        plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def plain(value: Any) -> Any:
    """JSON-ready: mappings with string keys, sets sorted into lists, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=canonical_json)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def change_key(change: Change) -> ChangeKey:
    """What identifies one change, independent of how it is worded."""
    return (
        change.op,
        change.path,
        canonical_json(change.expected),
        canonical_json(change.actual),
    )


def change_keys(changes: Iterable[Change]) -> frozenset[ChangeKey]:
    return frozenset(change_key(c) for c in changes)


def fingerprint(finding: Finding) -> str:
    """sha256 (hex, first 32 chars) of the finding's status and canonical change set.

    An `unknown` finding has no changes: what it says is its reason (why it could not be
    read), so the reason is part of its fingerprint and each distinct reason counts once.
    """
    body: list[Any] = [
        finding.status.value,
        sorted(list(key) for key in (change_key(c) for c in finding.changes)),
    ]
    if finding.status is Status.UNKNOWN:
        body.append(finding.reason or "")
    digest = hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
    return digest[:FINGERPRINT_LENGTH]
