"""A resource another tool declares, as a Setpoint spec document, and its catalog.

Terraform and Ansible mappings (in each family's folder) translate what they read into
`Declared` documents; the family's own schema and builder then check and build them, so
a translated resource is held to exactly the rules of a hand-written spec.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.specs.parse import ParsedFile, ParsedSpec, parse_document
from chalicelib.specs.yamldoc import SpecDocument


@dataclass(frozen=True)
class Declared:
    """One resource a source declares, in Setpoint's spec fields (`kind` included)."""

    data: Mapping[str, Any]
    # what findings show as the spec: "network/terraform.tfstate: aws_security_group.web",
    # or the playbook path (with `line`)
    origin: str
    line: int | None = None
    # field path -> line, when the source knows lines of fields (playbooks)
    lines: Mapping[tuple[str | int, ...], int] = field(default_factory=dict)


def declared_file(name: str, items: Iterable[Declared | SpecError]) -> ParsedFile:
    """Check and build every declared resource of one source; errors keep their origin."""
    specs: list[ParsedSpec] = []
    errors: list[SpecError] = []
    for item in items:
        if isinstance(item, SpecError):
            errors.append(item)
            continue
        doc = SpecDocument(
            file=item.origin,
            index=0,
            data=dict(item.data),
            line=item.line or 0,
            lines=dict(item.lines),
        )
        parsed, problems = parse_document(doc)
        errors.extend(problems)
        if parsed is not None:
            specs.append(parsed)
    return ParsedFile(name, tuple(specs), tuple(errors))
