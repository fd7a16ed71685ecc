"""Several sources, one catalog: a resource two sources declare is an error naming both."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.errors import SpecError, SpecSetError
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import checked_catalog

CatalogLoader = Callable[[], SpecCatalog]


def merge_catalogs(catalogs: Sequence[SpecCatalog]) -> SpecCatalog:
    """One catalog from each source's; each family's conflict check runs across all of
    them, so a group in both a spec file and a state names both places."""
    if len(catalogs) == 1:
        return catalogs[0]
    by_kind: dict[str, list[Any]] = {}
    for catalog in catalogs:
        for kind, specs in catalog.by_kind.items():
            by_kind.setdefault(kind, []).extend(specs)
    merged = checked_catalog(
        [name for catalog in catalogs for name in catalog.files],
        by_kind,
        {key: value for catalog in catalogs for key, value in catalog.noise.items()},
        [rule for catalog in catalogs for rule in catalog.ignore_rules],
    )
    undeclared = tuple(u for catalog in catalogs for u in catalog.undeclared)
    versions = [catalog.version for catalog in catalogs]
    # the same specs only when every source can say it holds the same ones
    version = None if None in versions else "+".join(v for v in versions if v)
    return replace(merged, undeclared=undeclared, version=version)


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
