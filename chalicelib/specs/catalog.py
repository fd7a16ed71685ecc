"""All specs of a run, and which spec governs a live resource.

The catalog is built once per invocation (from a directory or from S3) and is then pure
data: matching a live security group to its spec needs no I/O. Loading refuses specs
that could both claim one group, because then the verdict would depend on file order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePath
from typing import Any

from chalicelib.errors import ConfigError, SpecError, SpecSetError
from chalicelib.kinds.iam.spec import iam_conflicts
from chalicelib.kinds.s3_bucket.spec import s3_bucket_conflicts
from chalicelib.model import SecurityGroupSpec, SecurityGroupState
from chalicelib.specs.parse import AnySpec, ParsedFile, parse_file

SPEC_SUFFIXES = (".yaml", ".yml")


def _scope_overlaps(a: str | None, b: str | None) -> bool:
    """Scope fields overlap when equal or when either is omitted (a wildcard)."""
    return a is None or b is None or a == b


def _in_scope(wanted: str | None, actual: str | None) -> bool:
    return wanted is None or wanted == actual


def _where(spec: SecurityGroupSpec) -> str:
    return str(spec.source)


def security_group_conflicts(specs: Sequence[SecurityGroupSpec]) -> list[SpecError]:
    """Pairs of specs that could claim the same group, each reported on the later one."""
    errors: list[SpecError] = []
    by_id: dict[str, SecurityGroupSpec] = {}
    named: list[SecurityGroupSpec] = []
    for spec in specs:
        if spec.group_id is not None:
            first = by_id.get(spec.group_id)
            if first is not None:
                errors.append(
                    SpecError(
                        f"group {spec.group_id} is also specified in {_where(first)}",
                        spec.source.file,
                        spec.source.line,
                        "group_id",
                    )
                )
            else:
                by_id[spec.group_id] = spec
            continue
        for first in named:
            if first.name == spec.name and all(
                _scope_overlaps(x, y)
                for x, y in (
                    (first.account, spec.account),
                    (first.region, spec.region),
                    (first.vpc_id, spec.vpc_id),
                )
            ):
                errors.append(
                    SpecError(
                        f"group {spec.name!r} is also specified in {_where(first)} and their "
                        "scopes overlap (an omitted account, region or vpc_id matches any); "
                        "give them different scopes or merge them",
                        spec.source.file,
                        spec.source.line,
                        "name",
                    )
                )
                break
        named.append(spec)
    return errors


@dataclass(frozen=True)
class SpecCatalog:
    """Every spec of a run, by kind, plus the files they came from."""

    security_groups: tuple[SecurityGroupSpec, ...] = ()
    files: tuple[str, ...] = ()
    # kind -> specs, for every kind registered in _CATALOG_KINDS without a field of its own
    others: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def specs_of(self, kind: str) -> tuple[Any, ...]:
        """Every spec of one kind, in file order."""
        if kind == "security_group":
            return self.security_groups
        return self.others.get(kind, ())

    @cached_property
    def _sg_by_id(self) -> Mapping[str, SecurityGroupSpec]:
        return {s.group_id: s for s in self.security_groups if s.group_id is not None}

    def match_security_group(self, state: SecurityGroupState) -> SecurityGroupSpec | None:
        """The spec governing a live group: by group_id first, else by name within scope.

        Raises SpecError when several specs claim the group (only possible for a catalog
        built without the duplicate check).
        """
        by_id = self._sg_by_id.get(state.group_id)
        if by_id is not None:
            return by_id
        matches = [
            spec
            for spec in self.security_groups
            if spec.group_id is None
            and spec.name == state.name
            and _in_scope(spec.account, state.account)
            and _in_scope(spec.region, state.region)
            and _in_scope(spec.vpc_id, state.vpc_id)
        ]
        if len(matches) > 1:
            others = ", ".join(_where(s) for s in matches[1:])
            raise SpecError(
                f"group {state.group_id} ({state.name}) is matched by several specs; "
                f"also by {others}",
                matches[0].source.file,
                matches[0].source.line,
            )
        return matches[0] if matches else None

    def security_groups_in_scope(
        self, account: str, regions: Iterable[str]
    ) -> list[SecurityGroupSpec]:
        """Specs a sweep of `account` over `regions` is responsible for."""
        wanted = set(regions)
        return [
            spec
            for spec in self.security_groups
            if _in_scope(spec.account, account) and (spec.region is None or spec.region in wanted)
        ]

    def unmatched_security_groups(
        self, states: Iterable[SecurityGroupState], account: str, regions: Iterable[str]
    ) -> list[SecurityGroupSpec]:
        """Specs in scope that no live group matched: the sweep's `missing` findings.

        `states` must be every group the sweep read in `account` over `regions`; a spec
        without a region is missing only when none of those regions has its group.
        """
        matched = {id(spec) for state in states if (spec := self.match_security_group(state))}
        return [s for s in self.security_groups_in_scope(account, regions) if id(s) not in matched]


# kind -> (SpecCatalog field, or None to keep them in `others`; duplicate check).
# A new kind adds one row here and one in parse.KINDS.
_CATALOG_KINDS: Mapping[str, tuple[str | None, Callable[[Sequence[AnySpec]], list[SpecError]]]] = {
    "security_group": ("security_groups", security_group_conflicts),
    "s3_bucket": (None, s3_bucket_conflicts),
    "iam_policy": (None, iam_conflicts),
    "iam_role": (None, iam_conflicts),
    "iam_user": (None, iam_conflicts),
    "iam_group": (None, iam_conflicts),
}


def build_catalog(files: Iterable[ParsedFile]) -> SpecCatalog:
    """Combine parsed files into a catalog, or raise SpecSetError with every error found."""
    files = list(files)
    errors: list[SpecError] = [error for parsed in files for error in parsed.errors]
    by_kind: dict[str, list[AnySpec]] = {kind: [] for kind in _CATALOG_KINDS}
    for parsed in files:
        for item in parsed.specs:
            by_kind[item.kind].append(item.spec)
    fields: dict[str, tuple[AnySpec, ...]] = {}
    others: dict[str, tuple[AnySpec, ...]] = {}
    for kind, (field_name, conflicts) in _CATALOG_KINDS.items():
        errors.extend(conflicts(by_kind[kind]))
        if field_name is None:
            others[kind] = tuple(by_kind[kind])
        else:
            fields[field_name] = tuple(by_kind[kind])
    if errors:
        raise SpecSetError(errors)
    return SpecCatalog(files=tuple(parsed.name for parsed in files), others=others, **fields)


def load_documents(items: Iterable[tuple[str, str]]) -> SpecCatalog:
    """A catalog from (name, YAML text) pairs; the name is what errors and findings show."""
    return build_catalog(parse_file(name, text) for name, text in items)


def spec_files(root: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """(display name, path) of every spec file under `root`, sorted, hidden dirs skipped.

    Display names start with `root` as given ("policies/security_groups/web.yaml"), so
    messages use the path the user typed. `root` may also be a single file.
    """
    base = Path(root)
    shown = PurePath(os.fspath(root))
    if base.is_file():
        return [(shown.as_posix(), base)]
    if not base.is_dir():
        raise ConfigError(f"spec directory {os.fspath(root)!r} does not exist")
    found = []
    for path in base.rglob("*"):
        relative = path.relative_to(base)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in SPEC_SUFFIXES and path.is_file():
            found.append(((shown / relative).as_posix(), path))
    return sorted(found)


def load_directory(root: str | os.PathLike[str]) -> SpecCatalog:
    """Load every *.yaml / *.yml under `root` (recursively); all errors of all files at once."""
    parsed = []
    for name, path in spec_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            parsed.append(ParsedFile(name, (), (SpecError(f"cannot read file: {exc}", name),)))
            continue
        parsed.append(parse_file(name, text))
    return build_catalog(parsed)
