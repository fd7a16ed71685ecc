"""At most N reverts per resource per hour, counted in the state table.

Something that puts a change back as fast as Setpoint undoes it (an autoscaler, a
controller, a person in a loop) would otherwise make the two fight forever. Each resource
has a row `revert#KIND#ACCOUNT#REGION#ID` beside the alert records (`state/rows.py`)
holding the times of its recent reverts; a revert past the limit is refused, and the
alert says Setpoint gave up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.model import Finding
from chalicelib.ports import Clock
from chalicelib.state.rows import RowStore, change_row

WINDOW = timedelta(hours=1)
KEY_PREFIX = "revert#"


def budget_key(finding: Finding) -> str:
    return KEY_PREFIX + "#".join(
        str(part or "") for part in (finding.kind, finding.account, finding.region, finding.id)
    )


class RevertBudget:
    """Takes one revert from a resource's hourly allowance, or says it is spent."""

    def __init__(self, rows: RowStore, limit: int, clock: Clock) -> None:
        self.rows = rows
        self.limit = limit
        self.clock = clock

    def take(self, finding: Finding) -> bool:
        """True (and counted) when the resource has had fewer than `limit` reverts in the
        last hour; False, counting nothing, when it has had them all."""
        now = self.clock()
        granted = False

        def edit(body: dict[str, Any] | None) -> dict[str, Any]:
            nonlocal granted
            recent = [t for t in (body or {}).get("at", []) if _within(t, now)]
            granted = len(recent) < self.limit
            if granted:
                recent.append(now.isoformat())
            return {**(body or {}), "at": recent}

        change_row(self.rows, budget_key(finding), edit, now + WINDOW + timedelta(days=1))
        return granted


def _within(stamp: Any, now: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return False
    return now - moment < WINDOW
