"""All specs of a run, by kind: pure data, built once per invocation (`specs.loading`).

Matching a live resource to its spec needs no I/O; each family matches its own kinds
(`chalicelib/kinds/<family>/`), with lookup tables kept on the catalog (`memo`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SPEC_SUFFIXES = (".yaml", ".yml")

# unresolved: a source names the resource but not all of what it wants (an Ansible
# expression that cannot be resolved): `unknown`, never guessed. absent: it must not exist
# (Ansible's `state: absent`). unread: what a source holds that no kind reads (Terraform
# types Setpoint has no mapping for), for `validate` to list.
UndeclaredWhy = Literal["unresolved", "absent", "unread"]


@dataclass(frozen=True)
class Undeclared:
    """A resource a source speaks of without a spec for it (see `UndeclaredWhy`)."""

    why: UndeclaredWhy
    origin: str  # the file (or source) that speaks of it
    line: int | None
    reason: str  # in words, with the expression or the types
    kind: str | None = None  # the kind it would be, when known
    name: str | None = None
    id: str | None = None
    region: str | None = None  # None: any region

    @property
    def where(self) -> str:
        return f"{self.origin}:{self.line}" if self.line else self.origin


class SpecLookup(Protocol):
    """Finds the specs of one kind by key in an index (`specs.spec_index`)."""

    def about(self, kind: str, keys: Iterable[str] | None) -> SpecCatalog: ...


@dataclass(frozen=True)
class SpecCatalog:
    """Every spec of a run, by kind, plus the files they came from."""

    files: tuple[str, ...] = ()
    # kind -> its specs in file order, for every kind a file declared
    by_kind: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    # what the specs silence: str(spec.source) -> its `ignore:`/`exceptions:`, and the
    # `.setpointignore` rules of the spec directory (`noise`)
    noise: Mapping[str, Any] = field(default_factory=dict)
    ignore_rules: tuple[Any, ...] = ()
    # what sources name without a spec for it (`Undeclared`)
    undeclared: tuple[Undeclared, ...] = ()
    # what identifies this set of specs across invocations: two catalogs with the same
    # version hold the same specs (the sweep narrows its actor lookups by it, see
    # `sweep.lookup.in_sync_since`); None when the source cannot tell (a directory)
    version: str | None = field(default=None, compare=False)
    # per-catalog lookup tables a family builds once (see `memo`)
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # an indexed bundle on the event path: specs are parsed as `about` asks for them
    _lookup: SpecLookup | None = field(default=None, compare=False, repr=False)

    def about(self, kind: str, keys: Iterable[str | None]) -> SpecCatalog:
        """A catalog holding at least every spec of `kind` that one of `keys` (ids and
        names: what an event names, or the live resource's) picks, as each kind matches
        by id or name equality. This catalog itself unless it comes from an indexed
        bundle, where it holds only those, parsed on first use; matchers then filter by
        scope as they always do."""
        if self._lookup is None:
            return self
        return self._lookup.about(kind, [key for key in keys if key])

    def specs_of(self, kind: str) -> tuple[Any, ...]:
        """Every spec of one kind, in file order."""
        return self.by_kind.get(kind, ())

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds that have at least one spec, in registry order."""
        return tuple(kind for kind, specs in self.by_kind.items() if specs)

    def memo(self, key: str, build: Callable[[SpecCatalog], Any]) -> Any:
        """A lookup table derived from this catalog, built on first use (the catalog is
        immutable data, so an index of it never goes stale)."""
        if key not in self._memo:
            self._memo[key] = build(self)
        return self._memo[key]
