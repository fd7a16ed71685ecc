"""The event table: which CloudTrail calls Setpoint watches, and where each names its resource.

One row per (`eventSource`, `eventName`), gathered from every registered family
(`kinds.registry`); the router never changes when a kind is added. The source is part of
the key because services reuse names: ELBv2 and EventBridge both have `DeleteRule`.
The same table feeds the EventBridge rule patterns (`watched_event_names`), so what we
subscribe to and what we understand cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from chalicelib.events.locators import EventRoute, ride
from chalicelib.kinds.registry import FAMILIES

_ROWS: tuple[EventRoute, ...] = tuple(row for family in FAMILIES for row in family.rows)
_RIDERS: tuple[EventRoute, ...] = tuple(row for family in FAMILIES for row in family.riders)


def _index(
    rows: Iterable[EventRoute], riders: Iterable[EventRoute] = ()
) -> Mapping[tuple[str, str], EventRoute]:
    """Rows keyed by (eventSource, eventName); a pair claimed twice is a programming error
    caught at import. A rider adds its refs to the row of the same call (that row's
    function handles both), and must find one."""
    table: dict[tuple[str, str], EventRoute] = {}
    for row in rows:
        key = (row.event_source, row.event_name)
        if key in table:
            raise ValueError(f"event table lists {row.event_name} from {row.event_source} twice")
        table[key] = row
    for rider in riders:
        key = (rider.event_source, rider.event_name)
        owner = table.get(key)
        if owner is None:
            raise ValueError(
                f"{rider.event_name} from {rider.event_source} rides on no family's row"
            )
        table[key] = EventRoute(
            owner.event_name, owner.event_source, owner.kind, ride(owner.locate, rider.locate)
        )
    return MappingProxyType(table)


EVENT_TABLE: Mapping[tuple[str, str], EventRoute] = _index(_ROWS, _RIDERS)
EVENT_SOURCES: frozenset[str] = frozenset(row.event_source for row in _ROWS)


def sources_watching(event_name: str) -> list[str]:
    """The event sources a name is watched from: to say why a record from another was skipped."""
    return sorted(source for source, name in EVENT_TABLE if name == event_name)


def watched_event_names(source: str) -> list[str]:
    """The eventNames to subscribe to for one event source, sorted for a stable rule pattern."""
    return sorted(row.event_name for row in _ROWS if row.event_source == source)


def eventbridge_source(event_source: str) -> str:
    """The EventBridge `source` for a CloudTrail eventSource ("ec2.amazonaws.com" -> "aws.ec2")."""
    return "aws." + event_source.removesuffix(".amazonaws.com")
