"""Load balancers as if registered, until `kinds/registry.py` lists the family.

The lead adds the family's one registry line when merging this folder. Until then, the
`registered` fixture gives the modules that read the registry (the event table and router,
spec parsing and schemas, `import`, `check`) the tables they would derive with the family
listed, by swapping each derived object wherever a module holds it. Once the family is
registered, the fixture changes nothing, and these tests run on the real registry.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest

from chalicelib.cli import importer
from chalicelib.events import table
from chalicelib.kinds import registry
from chalicelib.kinds.load_balancer.family import FAMILY
from chalicelib.specs import validate


def _derived() -> dict[str, tuple[Any, Any]]:
    """name -> (object now, object with the family listed), for every derived table."""
    families = (*registry.FAMILIES, FAMILY)
    spec_kinds = {str(s.kind): s for f in families for s in f.specs}
    family_of = {kind: f for f in families for kind in f.kinds}
    rows = tuple(row for f in families for row in f.rows)
    exporters = {kind: f.exporter for f in families for kind in f.kinds}
    new = {
        "FAMILIES": families,
        "BY_NAME": registry._unique(families),
        "SPEC_KINDS": MappingProxyType(spec_kinds),
        "FAMILY_OF": MappingProxyType(family_of),
        "RESOURCE_KINDS": tuple(family_of),
        "ALL_KINDS": (*family_of, registry.GUARD),
        "SCHEMAS": MappingProxyType(
            {p.name: p for f in families for p in (*(s.schema for s in f.specs), *f.extra_schemas)}
        ),
        "_ROWS": rows,
        "EVENT_TABLE": table._index(rows),
        "EVENT_SOURCES": frozenset(row.event_source for row in rows),
        "EXPORTERS": exporters,
        "SUPPORTED": tuple(exporters),
    }
    old = {
        **{name: getattr(registry, name) for name in list(new)[:7]},
        **{name: getattr(table, name) for name in ("_ROWS", "EVENT_TABLE", "EVENT_SOURCES")},
        "EXPORTERS": importer.EXPORTERS,
        "SUPPORTED": importer.SUPPORTED,
    }
    return {name: (old[name], new[name]) for name in new}


def _clear_schema_caches() -> None:
    for cached in (validate.load_schema, validate._registry, validate.validator):
        cached.cache_clear()


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry's derived tables with the load balancer family in them."""
    if FAMILY in registry.FAMILIES:
        yield
        return
    swaps = {id(old): new for old, new in _derived().values()}
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if not (name.startswith("chalicelib") or name == "app"):
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in swaps:
                monkeypatch.setattr(module, attr, swaps[id(value)])
    _clear_schema_caches()
    yield
    monkeypatch.undo()
    _clear_schema_caches()
