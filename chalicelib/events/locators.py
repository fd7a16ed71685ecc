"""The building blocks of event-table rows: locators and routes, shared by every kind.

A locator is a pure function from a CloudTrail record to the resources it names, which can
also say where it looked. Each kind's rows live in their own module and use these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chalicelib.events.record import CloudTrailRecord
from chalicelib.model import Kind, ResourceRef

Locate = Callable[[CloudTrailRecord], list[ResourceRef]]


@dataclass(frozen=True)
class Locator:
    """A pure way to find resources in a record, which can also say where it looked.

    Calling it returns deduplicated refs. `looks_at` names the fields read, so a record in
    which nothing was found can be skipped with a detail a user can check by hand.
    """

    looks_at: tuple[str, ...]
    find: Callable[[CloudTrailRecord], Iterable[ResourceRef]]
    explain_miss: Callable[[CloudTrailRecord], str] | None = None

    def __call__(self, record: CloudTrailRecord) -> list[ResourceRef]:
        return dedupe(self.find(record))


@dataclass(frozen=True)
class EventRoute:
    """One row of the table: an API call, its service, the kind it changes, how to find it."""

    event_name: str
    event_source: str
    kind: Kind
    locate: Locate

    def explain_miss(self, record: CloudTrailRecord) -> str:
        """Why `locate` found nothing in `record`, naming the fields it looked at."""
        explain = getattr(self.locate, "explain_miss", None)
        if explain is not None:
            return str(explain(record))
        looks_at: tuple[str, ...] = getattr(self.locate, "looks_at", ())
        where = f" (looked at {', '.join(looks_at)})" if looks_at else ""
        kind = self.kind.replace("_", " ")
        return f"{self.event_name}: no usable {kind} id or name in the record{where}"


def dedupe(refs: Iterable[ResourceRef]) -> list[ResourceRef]:
    """Refs in first-seen order, one per resource of a kind (by id, else by name/vpc/rule
    ids): an IAM role and the guard's ref to the same role are two refs."""
    seen: set[object] = set()
    unique: list[ResourceRef] = []
    for ref in refs:
        key: object = (
            (ref.kind, ref.id) if ref.id else (ref.kind, ref.name, ref.vpc_id, ref.rule_ids)
        )
        if key not in seen:
            seen.add(key)
            unique.append(ref)
    return unique


def union(*locators: Locator) -> Locator:
    """Every resource any of `locators` finds (the same group named in request and response)."""

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        return [ref for locator in locators for ref in locator(record)]

    return Locator(_joined(locators), find, _first_explain(locators))


def first(*locators: Locator) -> Locator:
    """What the first locator that finds anything finds: weaker names are only a fallback."""

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        for locator in locators:
            refs = locator(record)
            if refs:
                return refs
        return []

    return Locator(_joined(locators), find, _first_explain(locators))


def _joined(locators: Iterable[Locator]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(field for locator in locators for field in locator.looks_at))


def _first_explain(
    locators: Iterable[Locator],
) -> Callable[[CloudTrailRecord], str] | None:
    return next((loc.explain_miss for loc in locators if loc.explain_miss is not None), None)


def ride(owner: Locate, rider: Locate) -> Locator:
    """What `owner` finds, then what `rider` finds in the same record: another family's
    refs for a call that one family's row already routes (the guard's for Setpoint's own
    role or bucket). Where nothing is found, the owner explains why."""

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        return [*owner(record), *rider(record)]

    looks_at: tuple[str, ...] = getattr(owner, "looks_at", ())
    return Locator(looks_at, find, getattr(owner, "explain_miss", None))
