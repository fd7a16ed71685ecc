"""A spec bundle indexed by what an event names, so one event parses only its own specs.

`setpoint push` parses every spec anyway (it validates before uploading), so it also writes
into the bundle, beside the specs, each kind's keys (the id and the name from the kind's
`identity`) mapped to the members that declare a spec with that key:

    "index": {"format_version": "1",
              "kinds": {"security_group": {"sg-0a1b...": [4], "web": [7]}, ...},
              "unkeyed": {"guard": [0]}}

Numbers are positions in the sorted member names of `specs`. Index and specs live in one
object, so they are one S3 version, one ETag and one signature: an index can never describe
other specs than the ones beside it, and no reader has to reconcile two writes.

The Lambda's event path (`S3SpecSource.load_for_event`) turns such a bundle into an
`IndexedSpecs`: nothing is parsed up front but the `.setpointignore` members; a kind asks
`catalog.about(kind, keys)` with the id and name of what it is matching, and only the
members the index names for them are parsed, each once per bundle version. Anything that
asks for every spec of a kind (`specs_of` on the catalog itself) gets all of them, parsed
then, so a kind that does not narrow its lookups stays correct, only slower.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError, SpecSetError
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.noise.model import IgnoreRule, SpecNoise
from chalicelib.noise.parse import IGNORE_FILE
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import is_ignore_file, parse_ignore_text
from chalicelib.specs.parse import ParsedFile, parse_file

logger = logging.getLogger("setpoint")

INDEX_FORMAT_VERSION = "1"


def spec_keys(kind: str, spec: Any) -> tuple[str, ...]:
    """What an event (or a live read) can name this spec by: its id and its name."""
    identity = SPEC_KINDS[kind].identity(spec)
    return tuple(key for key in (identity.id, identity.name) if key)


def build_index(files: Mapping[str, ParsedFile]) -> dict[str, Any]:
    """The index of a bundle whose members are `files` (name -> what parsing it yielded)."""
    kinds: dict[str, dict[str, list[int]]] = {}
    unkeyed: dict[str, list[int]] = {}
    for number, name in enumerate(sorted(files)):
        for item in files[name].specs:
            keys = spec_keys(item.kind, item.spec)
            if not keys:
                _add(unkeyed.setdefault(item.kind, []), number)
            for key in keys:
                _add(kinds.setdefault(item.kind, {}).setdefault(key, []), number)
    return {"format_version": INDEX_FORMAT_VERSION, "kinds": kinds, "unkeyed": unkeyed}


def _add(numbers: list[int], number: int) -> None:
    if not numbers or numbers[-1] != number:  # members are visited in order
        numbers.append(number)


class UnusableIndex(ValueError):
    """The index in a bundle cannot be used (hand-made, damaged, or a newer format)."""


def _checked_index(
    index: Any, members: int
) -> tuple[dict[str, dict[str, list[int]]], dict[str, list[int]]]:
    if not isinstance(index, dict) or index.get("format_version") != INDEX_FORMAT_VERSION:
        version = index.get("format_version") if isinstance(index, dict) else None
        raise UnusableIndex(f"index format_version {version!r} is not {INDEX_FORMAT_VERSION!r}")
    kinds, unkeyed = index.get("kinds"), index.get("unkeyed", {})
    if not isinstance(kinds, dict) or not isinstance(unkeyed, dict):
        raise UnusableIndex("index 'kinds' and 'unkeyed' must be objects")
    unknown = sorted((set(kinds) | set(unkeyed)) - set(SPEC_KINDS))
    if unknown:
        raise UnusableIndex(f"index names kinds this Setpoint does not know: {unknown}")
    tables = [*kinds.values(), unkeyed]
    for table in tables:
        if not isinstance(table, dict):
            raise UnusableIndex("each kind's index must map keys to member numbers")
        for numbers in table.values():
            if not isinstance(numbers, list) or not all(
                isinstance(n, int) and 0 <= n < members for n in numbers
            ):
                raise UnusableIndex(f"index entries must be member numbers below {members}")
    return kinds, unkeyed


class IndexedSpecs:
    """One bundle version's specs, parsed member by member as lookups need them."""

    def __init__(
        self,
        name: str,
        specs: Mapping[str, str],
        index: Any,
        extra_rules: Sequence[IgnoreRule] = (),
    ) -> None:
        """Raises `UnusableIndex` when the index is unusable, `SpecSetError` when an ignore
        file among the members does not parse (it applies to every event)."""
        self.name = name
        self._names = sorted(specs)
        self._texts = specs
        self._kinds, self._unkeyed = _checked_index(index, len(self._names))
        self._parsed: dict[int, ParsedFile] = {}
        # what the parsed specs silence, filled as members are parsed (findings only ever
        # cite parsed specs, so the noise they need is here by the time it is applied)
        self.noise: dict[str, SpecNoise] = {}
        rules = list(extra_rules)
        errors: list[SpecError] = []
        ignore_files = [m for m in self._names if m.endswith(IGNORE_FILE) and is_ignore_file(m)]
        for member in ignore_files:
            parsed = parse_ignore_text(member, specs[member])
            rules += parsed.ignore_rules
            errors += parsed.errors
        if errors:
            raise SpecSetError(errors)
        self.ignore_rules = tuple(rules)
        self.files = (
            tuple(n for n in self._names if n not in ignore_files)
            if ignore_files
            else tuple(self._names)
        )

    def catalog(self) -> SpecCatalog:
        """The whole catalog, each kind parsed when first asked for."""
        return SpecCatalog(
            files=self.files,
            by_kind=_LazyKinds(self),
            noise=self.noise,
            ignore_rules=self.ignore_rules,
            _lookup=self,
        )

    def about(self, kind: str, keys: Iterable[str] | None) -> SpecCatalog:
        """A catalog whose `kind` holds the specs any of `keys` picks (None: all of that
        kind), in file order; other kinds stay whole. Raises SpecSetError with the errors
        of those members only."""
        specs = self.specs(kind, keys)
        return SpecCatalog(
            files=self.files,
            by_kind=_LazyKinds(self, {kind: specs}),
            noise=self.noise,
            ignore_rules=self.ignore_rules,
            _lookup=self,
        )

    def specs(self, kind: str, keys: Iterable[str] | None) -> tuple[Any, ...]:
        table = self._kinds.get(kind, {})
        if keys is None:
            wanted = {n for numbers in table.values() for n in numbers}
            wanted.update(self._unkeyed.get(kind, ()))
        else:
            wanted = {n for key in keys for n in table.get(key, ())}
        files = [self._parse(number) for number in sorted(wanted)]
        errors = [error for parsed in files for error in parsed.errors]
        if errors:
            raise SpecSetError(errors)
        return tuple(item.spec for parsed in files for item in parsed.specs if item.kind == kind)

    def _parse(self, number: int) -> ParsedFile:
        parsed = self._parsed.get(number)
        if parsed is None:
            member = self._names[number]
            parsed = parse_file(member, self._texts[member])
            for item in parsed.specs:
                if item.noise is not None:
                    self.noise[str(item.spec.source)] = item.noise
            self._parsed[number] = parsed
        return parsed


class _LazyKinds(Mapping[str, tuple[Any, ...]]):
    """`SpecCatalog.by_kind` for an indexed bundle: a kind is parsed whole when read."""

    def __init__(
        self, specs: IndexedSpecs, given: Mapping[str, tuple[Any, ...]] | None = None
    ) -> None:
        self._specs = specs
        self._given = dict(given or {})

    def __getitem__(self, kind: str) -> tuple[Any, ...]:
        if kind not in SPEC_KINDS:
            raise KeyError(kind)
        if kind not in self._given:
            self._given[kind] = self._specs.specs(kind, None)
        return self._given[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(SPEC_KINDS)

    def __len__(self) -> int:
        return len(SPEC_KINDS)


def indexed_specs(
    name: str, bundle: Any, extra_rules: Sequence[IgnoreRule] = ()
) -> IndexedSpecs | None:
    """The decoded bundle's specs behind its index; None when it carries none (pushed by an
    older Setpoint) or one this version cannot use, logged: the caller parses it whole."""
    index = bundle.get("index") if isinstance(bundle, dict) else None
    specs = bundle.get("specs") if isinstance(bundle, dict) else None
    if index is None or not isinstance(specs, dict):
        return None
    try:
        return IndexedSpecs(name, specs, index, extra_rules)
    except UnusableIndex as exc:
        logger.warning("spec_index_unusable", extra={"bundle": name, "reason": str(exc)})
        return None
