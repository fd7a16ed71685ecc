"""Several sources, one catalog: a resource two sources declare is an error naming both."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chalicelib.errors import SpecError, SpecSetError
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.specs.catalog import SpecCatalog

CatalogLoader = Callable[[], SpecCatalog]


def merge_catalogs(catalogs: Sequence[SpecCatalog]) -> SpecCatalog:
    """One catalog from each source's; each family's conflict check runs across all of
    them, so a group in both a spec file and a state names both places."""
    if len(catalogs) == 1:
        return catalogs[0]
    by_kind: dict[str, list[object]] = {kind: [] for kind in SPEC_KINDS}
    files: list[str] = []
    for catalog in catalogs:
        files.extend(catalog.files)
        for kind, specs in catalog.by_kind.items():
            by_kind.setdefault(kind, []).extend(specs)
    errors: list[SpecError] = []
    for kind, spec_kind in SPEC_KINDS.items():
        errors.extend(spec_kind.conflicts(by_kind[kind]))
    if errors:
        raise SpecSetError(errors)
    return SpecCatalog(
        files=tuple(files),
        by_kind={kind: tuple(specs) for kind, specs in by_kind.items()},
        noise={k: v for c in catalogs for k, v in c.noise.items()},
        ignore_rules=tuple(rule for c in catalogs for rule in c.ignore_rules),
    )


@dataclass(frozen=True)
class CombinedProvider:
    """Calls every source's provider (each keeps its own cache) and merges the result."""

    sources: tuple[tuple[str, CatalogLoader], ...]  # (as the user wrote it, provider)

    def __call__(self) -> SpecCatalog:
        catalogs: list[SpecCatalog] = []
        errors: list[SpecError] = []
        for _, load in self.sources:
            try:
                catalogs.append(load())
            except SpecSetError as exc:  # every source's errors at once
                errors.extend(exc.errors)
        if errors:
            raise SpecSetError(errors)
        return merge_catalogs(catalogs)
