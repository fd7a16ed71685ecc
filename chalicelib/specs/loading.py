"""Spec files -> a `SpecCatalog`: every file parsed, every error of every file at once.

Loading refuses specs that could both claim one resource (each family's `conflicts`),
because then the verdict would depend on file order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePath

from chalicelib.errors import ConfigError, SpecError, SpecSetError
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.noise.model import IgnoreRule
from chalicelib.noise.parse import IGNORE_FILE, parse_ignore_file
from chalicelib.specs.builder import AnySpec
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.parse import ParsedFile, parse_file

SPEC_SUFFIXES = (".yaml", ".yml")


def build_catalog(
    files: Iterable[ParsedFile], ignore_rules: Iterable[IgnoreRule] = ()
) -> SpecCatalog:
    """Combine parsed files into a catalog, or raise SpecSetError with every error found."""
    files = list(files)
    errors: list[SpecError] = [error for parsed in files for error in parsed.errors]
    by_kind: dict[str, list[AnySpec]] = {kind: [] for kind in SPEC_KINDS}
    noise = {}
    for parsed in files:
        for item in parsed.specs:
            by_kind[item.kind].append(item.spec)
            if item.noise is not None:
                noise[str(item.spec.source)] = item.noise
    for kind, spec_kind in SPEC_KINDS.items():
        errors.extend(spec_kind.conflicts(by_kind[kind]))
    if errors:
        raise SpecSetError(errors)
    return SpecCatalog(
        files=tuple(parsed.name for parsed in files),
        by_kind={kind: tuple(specs) for kind, specs in by_kind.items()},
        noise=noise,
        ignore_rules=tuple(ignore_rules),
    )


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
    return build_catalog(parsed, ignore_file(root))


def ignore_file(root: str | os.PathLike[str]) -> list[IgnoreRule]:
    """The `.setpointignore` at the root of a spec directory, if there is one."""
    path = Path(root) / IGNORE_FILE
    if not Path(root).is_dir() or not path.is_file():
        return []
    shown = (PurePath(os.fspath(root)) / IGNORE_FILE).as_posix()
    return parse_ignore_file(shown, path.read_text(encoding="utf-8"), SPEC_KINDS)
