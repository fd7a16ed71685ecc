"""Spec files -> a `SpecCatalog`: every file parsed, every error of every file at once.

Loading refuses specs that could both claim one resource (each family's `conflicts`),
because then the verdict would depend on file order. It also refuses a symlink that
leads out of the spec directory (a spec is what the repository holds, not whatever a link
points at on the machine running it), and files or directories over the size budgets
(`budgets.py`), measured before they are read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePath

from chalicelib.errors import ConfigError, SpecError, SpecSetError
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.noise.model import ENV_IGNORE, IgnoreRule, SpecNoise
from chalicelib.noise.parse import IGNORE_FILE, parse_ignore_file
from chalicelib.specs.budgets import bundle_too_large, file_too_large
from chalicelib.specs.builder import AnySpec
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.parse import ParsedFile, parse_file

SPEC_SUFFIXES = (".yaml", ".yml")


def build_catalog(
    files: Iterable[ParsedFile], ignore_rules: Iterable[IgnoreRule] = ()
) -> SpecCatalog:
    """Combine parsed files into a catalog, or raise SpecSetError with every error found.

    Rules come from `ignore_rules` (a directory's `.setpointignore`, `SETPOINT_IGNORE`) and
    from ignore files carried among `files` (a bundle member, an S3 object)."""
    files = list(files)
    ignore_rules = [*ignore_rules, *(rule for parsed in files for rule in parsed.ignore_rules)]
    errors: list[SpecError] = [error for parsed in files for error in parsed.errors]
    by_kind: dict[str, list[AnySpec]] = {kind: [] for kind in SPEC_KINDS}
    noise: dict[str, SpecNoise] = {}
    for parsed in files:
        for item in parsed.specs:
            by_kind[item.kind].append(item.spec)
            if item.noise is not None:
                noise[str(item.spec.source)] = item.noise
    names = [parsed.name for parsed in files if not is_ignore_file(parsed.name)]
    return checked_catalog(names, by_kind, noise, ignore_rules, errors)


def is_ignore_file(name: str) -> bool:
    """Whether a name (path, S3 key, bundle member) is a `.setpointignore`."""
    return PurePath(name).name == IGNORE_FILE


def env_ignore_rules(text: str | None) -> list[IgnoreRule]:
    """SETPOINT_IGNORE: `.setpointignore` lines for s3:// specs, separated by newlines or
    `;` (a stack parameter holds one line). A bad rule is a ConfigError naming it."""
    if not text or not text.strip():
        return []
    lines = "\n".join(part.strip() for line in text.splitlines() for part in line.split(";"))
    try:
        return parse_ignore_file(ENV_IGNORE, lines, SPEC_KINDS)
    except SpecSetError as exc:
        raise ConfigError(
            "; ".join(
                str(error).replace(f"{ENV_IGNORE}:", f"{ENV_IGNORE} rule ", 1)
                for error in exc.errors
            )
        ) from exc


def parse_ignore_text(name: str, text: str) -> ParsedFile:
    """An ignore file read with the specs, as a ParsedFile holding its rules (or errors)."""
    try:
        rules = parse_ignore_file(name, text, SPEC_KINDS)
    except SpecSetError as exc:
        return ParsedFile(name, (), tuple(exc.errors))
    return ParsedFile(name, (), (), tuple(rules))


def checked_catalog(
    files: Sequence[str],
    by_kind: Mapping[str, Sequence[AnySpec]],
    noise: Mapping[str, SpecNoise],
    ignore_rules: Iterable[IgnoreRule],
    errors: Sequence[SpecError] = (),
) -> SpecCatalog:
    """The catalog once each family's conflict check has run over all its specs (two specs
    that could claim one resource would make the verdict depend on file order), or
    SpecSetError with those and the earlier `errors`."""
    found = list(errors)
    for kind, spec_kind in SPEC_KINDS.items():
        found.extend(spec_kind.conflicts(by_kind.get(kind, ())))
    if found:
        raise SpecSetError(found)
    return SpecCatalog(
        files=tuple(files),
        by_kind={kind: tuple(by_kind.get(kind, ())) for kind in SPEC_KINDS},
        noise=dict(noise),
        ignore_rules=tuple(ignore_rules),
    )


def load_documents(items: Iterable[tuple[str, str]]) -> SpecCatalog:
    """A catalog from (name, YAML text) pairs; the name is what errors and findings show."""
    return build_catalog(parse_file(name, text) for name, text in items)


def spec_files(root: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """(display name, path) of every spec file under `root`, sorted, hidden dirs skipped.

    Display names start with `root` as given ("policies/security_groups/web.yaml"), so
    messages use the path the user typed. `root` may also be a single file. Raises
    SpecSetError naming every symlink that resolves outside `root`.
    """
    base = Path(root)
    shown = PurePath(os.fspath(root))
    if base.is_file():
        return [(shown.as_posix(), base)]
    if not base.is_dir():
        raise ConfigError(f"spec directory {os.fspath(root)!r} does not exist")
    inside = base.resolve()
    found = []
    outside: list[SpecError] = []
    for path in base.rglob("*"):
        relative = path.relative_to(base)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in SPEC_SUFFIXES and path.is_file():
            name = (shown / relative).as_posix()
            target = path.resolve()
            if not target.is_relative_to(inside):
                message = (
                    f"symlink to {target}, outside the spec directory {shown.as_posix()}; "
                    "refused (copy the file in instead)"
                )
                outside.append(SpecError(message, name))
                continue
            found.append((name, path))
    if outside:
        raise SpecSetError(sorted(outside, key=lambda e: e.file))
    return sorted(found)


def check_total_size(root: str | os.PathLike[str], paths: Iterable[Path]) -> None:
    """Raise SpecSetError when the files together exceed the bundle budget (before any is
    read): the directory becomes one bundle, which the Lambda would refuse."""
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            continue  # reported when it is read
    error = bundle_too_large(PurePath(os.fspath(root)).as_posix(), total, "spec directory")
    if error is not None:
        raise SpecSetError([error])


def read_spec_text(name: str, path: Path) -> tuple[str | None, SpecError | None]:
    """(text, None), or (None, why not): unreadable, not UTF-8, or over the per-file budget
    (told by its size on disk, so an oversized file is never read)."""
    try:
        too_large = file_too_large(name, path.stat().st_size)
        if too_large is not None:
            return None, too_large
        return path.read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, SpecError(f"cannot read file: {exc}", name)


def load_directory(root: str | os.PathLike[str]) -> SpecCatalog:
    """Load every *.yaml / *.yml under `root` (recursively); all errors of all files at once."""
    files = spec_files(root)
    check_total_size(root, (path for _, path in files))
    parsed = []
    for name, path in files:
        text, error = read_spec_text(name, path)
        if text is None:
            parsed.append(ParsedFile(name, (), (error,) if error else ()))
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
