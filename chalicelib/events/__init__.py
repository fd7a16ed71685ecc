"""The CloudTrail event layer: parse a payload, find the resources it changed, name the actor."""

from __future__ import annotations

from chalicelib.events.actor import actor_from_record
from chalicelib.events.record import CloudTrailRecord, parse_payload
from chalicelib.events.route import Routed, Skipped, SkipReason, route, route_payload
from chalicelib.events.table import (
    EVENT_SOURCES,
    EVENT_TABLE,
    EventRoute,
    eventbridge_source,
    watched_event_names,
)

__all__ = [
    "EVENT_SOURCES",
    "EVENT_TABLE",
    "CloudTrailRecord",
    "EventRoute",
    "Routed",
    "SkipReason",
    "Skipped",
    "actor_from_record",
    "eventbridge_source",
    "parse_payload",
    "route",
    "route_payload",
    "watched_event_names",
]
