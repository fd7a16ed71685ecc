"""The event table: which CloudTrail calls Setpoint watches, and where each names its resource.

One row per `eventName`, gathered from every registered family (`kinds.registry`); the
router never changes when a kind is added. The same table feeds the EventBridge rule
patterns (`watched_event_names`), so what we subscribe to and what we understand cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from chalicelib.events.locators import EventRoute
from chalicelib.kinds.registry import FAMILIES

_ROWS: tuple[EventRoute, ...] = tuple(row for family in FAMILIES for row in family.rows)


def _index(rows: Iterable[EventRoute]) -> Mapping[str, EventRoute]:
    """Rows keyed by eventName; a name claimed twice is a programming error caught at import."""
    table: dict[str, EventRoute] = {}
    for row in rows:
        if row.event_name in table:
            raise ValueError(f"event table lists {row.event_name} twice")
        table[row.event_name] = row
    return MappingProxyType(table)


EVENT_TABLE: Mapping[str, EventRoute] = _index(_ROWS)
EVENT_SOURCES: frozenset[str] = frozenset(row.event_source for row in _ROWS)


def watched_event_names(source: str) -> list[str]:
    """The eventNames to subscribe to for one event source, sorted for a stable rule pattern."""
    return sorted(row.event_name for row in _ROWS if row.event_source == source)


def eventbridge_source(event_source: str) -> str:
    """The EventBridge `source` for a CloudTrail eventSource ("ec2.amazonaws.com" -> "aws.ec2")."""
    return "aws." + event_source.removesuffix(".amazonaws.com")
