"""What every kind's spec builder shares: the paths to skip, the issues it reports.

A builder turns one schema-checked document into its kind's frozen spec, reporting each
semantic mistake at its field path; `specs.parse` runs it after the JSON Schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.specs.yamldoc import FieldPath, SpecDocument

# Each kind's spec dataclass (all carry `.source`).
AnySpec = Any
Issue = tuple[FieldPath, SpecError]


class Skip:
    """Paths the schema already rejected: a builder leaves them (and their parents) alone."""

    def __init__(self, bad: Iterable[FieldPath]) -> None:
        self._bad = tuple(bad)

    def __call__(self, path: FieldPath) -> bool:
        return any(bad[: len(path)] == path or path[: len(bad)] == bad for bad in self._bad)

    def rejected(self, path: FieldPath) -> bool:
        """Whether the schema rejected this very field or a parent: a rejection only below
        it leaves its other parts worth checking (a rule with two mistakes reports both)."""
        return any(path[: len(bad)] == bad for bad in self._bad)


Builder = Callable[[SpecDocument, Skip], tuple[AnySpec | None, list[Issue]]]


class Issues:
    """The mistakes one builder found, each with the path it was found at."""

    def __init__(self, doc: SpecDocument) -> None:
        self.doc = doc
        self.items: list[Issue] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.items.append((path, self.doc.error(path, message)))
