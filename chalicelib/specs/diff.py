"""Which specs a spec push changed, and which resources that puts in question.

Pure: two catalogs in, data out. A spec is known by its identity (kind plus the fields
that pick its resource: id or name, and scope); its content is everything else. Where a
spec was written (file, line) is neither, so moving or reformatting a file changes
nothing. A spec whose identity changed is one removal and one addition: the resource it
used to govern is re-evaluated too (now unmanaged, or governed by another spec).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.kinds.family import SpecIdentity
from chalicelib.kinds.registry import SPEC_KINDS, kind_named
from chalicelib.model import ResourceRef
from chalicelib.specs.catalog import SpecCatalog

# fields that say where a spec was written, not what it wants
_LOCATION_FIELDS = frozenset({"source", "rule_lines"})


@dataclass(frozen=True)
class SpecKey:
    """The identity of a spec: two specs with equal keys govern the same resource."""

    kind: str
    identity: SpecIdentity


@dataclass(frozen=True)
class SpecChange:
    """One spec that differs between two catalogs; `old` or `new` is None when absent."""

    kind: str
    old: Any | None
    new: Any | None

    @property
    def action(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"

    @property
    def specs(self) -> tuple[Any, ...]:
        """Both sides that exist: each may point at a different live resource."""
        return tuple(s for s in (self.old, self.new) if s is not None)


@dataclass(frozen=True)
class SpecDiff:
    changes: tuple[SpecChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.changes)

    def of(self, action: str) -> list[SpecChange]:
        return [c for c in self.changes if c.action == action]

    def refs(self, account: str, regions: Sequence[str]) -> list[ResourceRef]:
        """Every resource to re-evaluate, once each (see `spec_refs`)."""
        seen: dict[ResourceRef, None] = {}
        for change in self.changes:
            for spec in change.specs:
                for ref in spec_refs(change.kind, spec, account, regions):
                    seen.setdefault(ref, None)
        return list(seen)


def catalog_kinds(catalog: SpecCatalog) -> tuple[str, ...]:
    return tuple(kind for kind in SPEC_KINDS if catalog.specs_of(kind))


def spec_key(kind: str, spec: Any) -> SpecKey:
    """Identity of one spec of `kind` (see `SpecKey`)."""
    return SpecKey(kind, SPEC_KINDS[kind].identity(spec))


def content(spec: Any) -> tuple[Any, ...]:
    """What a spec asks for, without where it was written."""
    return tuple(
        getattr(spec, f.name) for f in dataclasses.fields(spec) if f.name not in _LOCATION_FIELDS
    )


def _noise(catalog: SpecCatalog, spec: Any) -> tuple[Any, ...]:
    """A spec's `ignore:` and `exceptions:` without where they were written."""
    noise = catalog.noise.get(str(spec.source))
    if noise is None:
        return ()
    return (
        noise.ignore,
        tuple((e.change, e.until, e.reason, e.ticket, e.approved_by) for e in noise.exceptions),
    )


def _by_key(catalog: SpecCatalog, kind: str) -> dict[SpecKey, Any]:
    return {spec_key(kind, spec): spec for spec in catalog.specs_of(kind)}


def diff_catalogs(old: SpecCatalog, new: SpecCatalog) -> SpecDiff:
    """Specs added, removed or changed in content from `old` to `new`, in a stable order."""
    changes: list[SpecChange] = []
    kinds = dict.fromkeys((*catalog_kinds(old), *catalog_kinds(new)))
    for kind in kinds:
        before, after = _by_key(old, kind), _by_key(new, kind)
        for key, spec in before.items():
            now = after.get(key)
            if now is None:
                changes.append(SpecChange(kind, spec, None))
            elif content(now) != content(spec) or _noise(old, spec) != _noise(new, now):
                # an exception added or expired changes what the resource is held to
                changes.append(SpecChange(kind, spec, now))
        added = [spec for key, spec in after.items() if key not in before]
        changes.extend(SpecChange(kind, None, spec) for spec in added)
    return SpecDiff(tuple(changes))


def spec_refs(kind: str, spec: Any, account: str, regions: Sequence[str]) -> list[ResourceRef]:
    """The resource(s) a spec names, as refs the pipeline can read (each family says how:
    a group spec without a region may mean any of `regions`; IAM's id is the ARN)."""
    return SPEC_KINDS[kind].refs(kind_named(kind), spec, account, regions)


def specs_in_files(catalog: SpecCatalog, files: set[str]) -> Iterator[tuple[str, Any]]:
    """(kind, spec) of every spec written in one of `files`."""
    for kind in catalog_kinds(catalog):
        for spec in catalog.specs_of(kind):
            if spec.source.file in files:
                yield kind, spec
