"""Where `setpoint import` writes: never over a spec that already governs a resource.

Import reads live state, so rewriting an existing spec from it would approve every open
drift (a bucket made public by hand becomes "in spec") and drop the reviewers' comments.
Every exporter writes through one `SpecSink`, which skips a resource that an existing spec
under the output folder could claim (each family's own `conflicts` check decides), or whose
file is already there, unless `--force` says otherwise; `--dry-run` writes nothing and
`--only ID` adopts a single resource.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.errors import ConfigError
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.model import Kind
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import load_directory, spec_files
from chalicelib.specs.parse import parse_file
from chalicelib.specs.writer import schema_copy


@dataclass(frozen=True)
class Skipped:
    target: Path
    resource: str
    reason: str  # "already specified in policies/web.yaml:3", "file exists"


@dataclass
class SpecSink:
    """One import run's output folder, what it holds already, and what the run did."""

    root: Path
    existing: SpecCatalog = field(default_factory=SpecCatalog)
    force: bool = False
    dry_run: bool = False
    only: str | None = None  # a resource id or name: adopt that one only
    written: list[Path] = field(default_factory=list)
    overwritten: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @classmethod
    def open(
        cls, root: Path, *, force: bool = False, dry_run: bool = False, only: str | None = None
    ) -> SpecSink:
        """The sink for `root`, with the specs already under it (invalid ones stop import:
        what they claim cannot be known, so nothing would be safe to write)."""
        if root.exists() and not root.is_dir():
            raise ConfigError(f"--out {root}: is a file, not a directory")
        existing = load_directory(root) if root.is_dir() and spec_files(root) else SpecCatalog()
        return cls(root, existing, force=force, dry_run=dry_run, only=only)

    @property
    def schema(self) -> Path:
        """The schema copy a written spec refers to (relative to its own folder)."""
        return schema_copy(self.root)

    def schema_ref(self, target: Path) -> str:
        return os.path.relpath(self.schema, target.parent)

    def wants(self, resource_id: str, name: str | None = None) -> bool:
        """Whether `--only` (if given) names this resource; exporters may skip reading more."""
        return self.only is None or self.only in (resource_id, name)

    def write(
        self, kind: Kind, resource_id: str, target: Path, text: str, name: str | None = None
    ) -> bool:
        """Write one resource's spec unless an existing spec or file stands in the way."""
        if not self.wants(resource_id, name):
            return False
        shown = name or resource_id
        claimed = self._claimed_by(kind, target, text)
        exists = target.exists()
        if (claimed or exists) and not self.force:
            reason = f"already specified in {claimed}" if claimed else "file exists"
            self.skipped.append(Skipped(target, f"{kind} {shown}", reason))
            return False
        if self.dry_run:
            self.written.append(target)
            return True
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        (self.overwritten if exists or claimed else self.written).append(target)
        return True

    def _claimed_by(self, kind: Kind, target: Path, text: str) -> str | None:
        """The existing spec (file:line) that could claim the resource `text` specifies."""
        present = self.existing.specs_of(kind)
        if not present:
            return None
        parsed = parse_file(str(target), text)
        if not parsed.specs:
            return None
        new = parsed.specs[0].spec
        conflicts = SPEC_KINDS[kind].conflicts
        if not conflicts([*present, new]):
            return None
        for spec in present:  # which one: conflicts() words its messages per kind
            if conflicts([spec, new]):
                return str(spec.source)
        return "another spec"  # only the set conflicts: still not safe to write
