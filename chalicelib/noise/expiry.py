"""Exceptions about to expire, and the reminder chat gets a day before: pure.

An exception's `until` is the last day it applies (UTC): from the next midnight the change
is drift again. The hourly sweep asks which exceptions expire within `REMIND_BEFORE` of
now; each gets one reminder (`notify.expiry` keeps the state row that says it was sent),
naming where the exception is written, the change, the reason and the ticket, so whoever
approved it can extend it or undo the change before the alert comes back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.noise.model import SpecException, SpecNoise

REMIND_BEFORE = timedelta(hours=24)


@dataclass(frozen=True)
class Expiring:
    """One exception whose end is near, with the resource its spec names."""

    exception: SpecException
    ends_at: datetime  # the first moment the change is drift again
    resource: str | None = None  # "security_group web", when the spec is in the catalog

    @property
    def key(self) -> str:
        """Stable while the exception says the same (its file, resource, change and date),
        so an edit elsewhere in the file does not remind again, a new `until` does, and two
        specs of one file excepting the same change are reminded of each."""
        change = json.dumps(self.exception.change, sort_keys=True, default=str)
        text = f"{self.exception.source.file}\n{change}\n{self.exception.until}"
        if self.resource:
            text += f"\n{self.resource}"
        return "expiry#" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def ends_at(until: str) -> datetime:
    """The first moment after the last day an exception applies (midnight UTC)."""
    return datetime.combine(date.fromisoformat(until) + timedelta(days=1), time(), UTC)


def expiring(
    noise: Mapping[str, SpecNoise],
    now: datetime,
    resources: Mapping[str, str] | None = None,
    within: timedelta = REMIND_BEFORE,
) -> list[Expiring]:
    """Every exception still in force that ends within `within` of `now`, soonest first.
    `resources` maps a spec's source (the catalog's noise key) to the resource it names."""
    found = []
    for spec, spec_noise in noise.items():
        for exception in spec_noise.exceptions:
            end = ends_at(exception.until)
            if now < end <= now + within:
                found.append(Expiring(exception, end, (resources or {}).get(spec)))
    return sorted(found, key=lambda item: (item.ends_at, str(item.exception.source)))


def _change_text(change: Mapping[str, Any]) -> str:
    head = " ".join(str(change[key]) for key in ("op", "path") if key in change)
    rest = {key: change[key] for key in ("actual", "expected") if key in change}
    body = json.dumps(rest, sort_keys=True, ensure_ascii=False, default=str) if rest else ""
    return " ".join(part for part in (head, body) if part) or "(any change)"


def _left(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} h" if hours else f"{max(1, int(delta.total_seconds() // 60))} min"


def reminder_text(item: Expiring, now: datetime) -> str:
    """The reminder as plain text; the first line is its title."""
    exception = item.exception
    about = f" for {item.resource}" if item.resource else ""
    lines = [
        f"Exception expires in {_left(item.ends_at - now)}: {exception.source}{about}",
        f"Change: {_change_text(exception.change)}",
        f"Until: {exception.until} (drift again from {item.ends_at:%Y-%m-%d %H:%M} UTC)",
        f"Reason: {exception.reason}",
    ]
    if exception.ticket:
        lines.append(f"Ticket: {exception.ticket}")
    if exception.approved_by:
        lines.append(f"Approved by: {exception.approved_by}")
    lines.append(
        "To keep it accepted, move `until` later in the spec (at most a year ahead); "
        "otherwise undo the change before then."
    )
    return "\n".join(lines)
