"""The trails that keep Setpoint's sight → a `kind: guard` spec for `setpoint import`."""

from __future__ import annotations

import json
from collections.abc import Sequence


def render_guard_spec(trails: Sequence[str], *, schema_ref: str | None = None) -> str:
    lines = []
    if schema_ref:
        lines.append(f"# yaml-language-server: $schema={schema_ref}")
    lines += [
        "# The trails that must keep logging management write events in every region.",
        "kind: guard",
        "trails:",
        *(f"  - {json.dumps(name)}" for name in trails),
    ]
    return "\n".join(lines) + "\n"
