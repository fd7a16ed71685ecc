"""Spec documents -> canonical desired state, one builder per kind.

`parse_file` runs the whole check for one file: YAML (with lines), the kind's JSON Schema,
then the builder, which is also the semantic check (CIDRs parse, ports in range, exactly
one peer). Builders only look at parts of a document the schema accepted, so one run
reports every independent mistake without cascades. Kinds, their schemas and builders
come from the registry (`kinds.registry.SPEC_KINDS`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.errors import SpecError
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.noise.model import ON_DRIFT_REVERT, IgnoreRule, SpecNoise
from chalicelib.noise.parse import split_noise
from chalicelib.specs.builder import AnySpec, Skip
from chalicelib.specs.validate import schema_problems
from chalicelib.specs.yamldoc import FieldPath, SpecDocument, load_yaml


@dataclass(frozen=True)
class ParsedSpec:
    kind: str
    spec: AnySpec
    # the spec's `ignore:` / `exceptions:` (fields every kind accepts, see `noise`)
    noise: SpecNoise | None = None


@dataclass(frozen=True)
class ParsedFile:
    """Everything one file yielded: its specs, or the errors that stop it being used."""

    name: str
    specs: tuple[ParsedSpec, ...]
    errors: tuple[SpecError, ...]
    # a `.setpointignore` carried with the specs (a bundle member, an S3 object): its rules
    ignore_rules: tuple[IgnoreRule, ...] = ()


def _covered(combinator: FieldPath, explained: list[FieldPath]) -> bool:
    """Whether a clearer error at or below this path already explains a combinator failure.

    At the root only an error about the root itself counts: any field error is "below" it.
    """
    if not combinator:
        return () in explained
    return any(path[: len(combinator)] == combinator for path in explained)


def parse_document(doc: SpecDocument) -> tuple[ParsedSpec | None, list[SpecError]]:
    """Check one document against its kind's schema and build it; all errors at once."""
    data = doc.data
    if not isinstance(data, dict):
        kind_of = "a list" if isinstance(data, list) else repr(data)
        return None, [doc.error((), f"a spec must be a mapping of fields, not {kind_of}")]
    known = ", ".join(SPEC_KINDS)
    kind = data.get("kind")
    if kind is None:
        return None, [doc.error(("kind",), f"missing required field 'kind' (one of: {known})")]
    if not isinstance(kind, str) or kind not in SPEC_KINDS:
        close = difflib.get_close_matches(str(kind), list(SPEC_KINDS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known kinds: {known}"
        return None, [doc.error(("kind",), f"unknown kind {kind!r} ({hint})")]
    handler = SPEC_KINDS[kind]
    doc, noise, noise_errors = split_noise(doc)
    problems = schema_problems(doc, handler.schema.name)
    plain = [p for p in problems if not p.combinator]
    spec, issues = handler.build(doc, Skip(p.path for p in plain))
    explained = [p.path for p in plain] + [path for path, _ in issues]
    errors = [p.error for p in plain] + [error for _, error in issues]
    errors += [p.error for p in problems if p.combinator and not _covered(p.path, explained)]
    errors += noise_errors
    if noise is not None and noise.on_drift == ON_DRIFT_REVERT and not _revertible(kind):
        errors.append(doc.error(("on_drift",), f"Setpoint reverts nothing of kind {kind}"))
    if errors or spec is None:
        return None, _tidy(errors)
    return ParsedSpec(kind, spec, noise), []


def _revertible(kind: str) -> bool:
    from chalicelib.kinds.registry import FAMILY_OF

    family = FAMILY_OF.get(SPEC_KINDS[kind].kind)
    return family is not None and family.reverts is not None


def _tidy(errors: Iterable[SpecError]) -> list[SpecError]:
    """Drop exact repeats and order by line, so reports read top to bottom."""
    seen: set[tuple[str, int | None, str | None, str]] = set()
    out = []
    for error in errors:
        key = (error.file, error.line, error.field, error.message)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return sorted(out, key=lambda e: e.line or 0)


def parse_file(name: str, text: str) -> ParsedFile:
    """Parse every document of one spec file; `name` is what errors and findings show."""
    documents, errors = load_yaml(name, text)
    specs: list[ParsedSpec] = []
    for doc in documents:
        parsed, doc_errors = parse_document(doc)
        errors.extend(doc_errors)
        if parsed is not None:
            specs.append(parsed)
    return ParsedFile(name, tuple(specs), tuple(_tidy(errors)))
