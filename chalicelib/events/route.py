"""Turn a CloudTrail record into the resources to re-read, or a reason to ignore it.

A skip is an answer, not an error: failed and read-only calls changed nothing, unwatched
calls are someone else's business. Only malformed input raises (`EventError`, from parsing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from chalicelib.events.actor import actor_from_record
from chalicelib.events.record import CloudTrailRecord, parse_payload
from chalicelib.events.table import EVENT_TABLE, sources_watching
from chalicelib.model import Actor, ResourceRef


class SkipReason(StrEnum):
    FAILED_CALL = "failed_call"  # non-empty errorCode: the call changed nothing
    READ_ONLY = "read_only"  # Describe*/Get*: nothing to compare
    NOT_WATCHED = "not_watched"  # not in the event table, or from another service
    NO_RESOURCE = "no_resource"  # watched, but names no resource we manage


@dataclass(frozen=True)
class Skipped:
    """A record that needs no comparison, and why, in words fit for a log line."""

    reason: SkipReason
    detail: str
    record: CloudTrailRecord | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Routed:
    """A record that changed resources Setpoint watches: re-read each of `refs`."""

    refs: tuple[ResourceRef, ...]
    actor: Actor
    record: CloudTrailRecord


def route(record: CloudTrailRecord) -> Routed | Skipped:
    """Where `record` points, or why it can be ignored."""
    name = record.event_name
    if record.error_code:
        return Skipped(
            SkipReason.FAILED_CALL,
            f"{name} failed with {record.error_code}: a failed call changes nothing",
            record,
        )
    if record.read_only:
        return Skipped(SkipReason.READ_ONLY, f"{name} is a read-only call", record)
    row = EVENT_TABLE.get((record.event_source or "", name))
    if row is None:
        watched_from = sources_watching(name)
        if not watched_from:
            return Skipped(SkipReason.NOT_WATCHED, f"{name} is not in the event table", record)
        return Skipped(
            SkipReason.NOT_WATCHED,
            f"{name} is watched from {', '.join(watched_from)}, "
            f"this record comes from {record.event_source or 'no eventSource'}",
            record,
        )
    if record.aws_region is None:
        return Skipped(
            SkipReason.NO_RESOURCE,
            f"{name}: the record has no awsRegion, so its resource cannot be addressed",
            record,
        )
    refs = row.locate(record)
    if not refs:
        return Skipped(SkipReason.NO_RESOURCE, row.explain_miss(record), record)
    return Routed(tuple(refs), actor_from_record(record), record)


def route_payload(payload: object) -> list[Routed | Skipped]:
    """Route every record in a raw record, EventBridge envelope or log file.

    Raises `EventError` for malformed input; the caller decides how to report it.
    """
    return [route(record) for record in parse_payload(payload)]
