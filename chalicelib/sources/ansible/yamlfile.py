"""Playbook YAML with the line of every mapping and key, plus Ansible's own tags.

Findings and errors point at the task (`site.yml:14`), so mappings are built as `Lined`
dicts that remember where they and their keys start. `!vault` values (ansible-vault) are
kept as `Vaulted` and never decrypted; `!unsafe` strings are never templated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from chalicelib.errors import SpecError
from chalicelib.specs.budgets import MAX_DOCUMENT_NODES, file_too_large, text_bytes
from chalicelib.specs.yamldoc import lone_surrogate, over_budget

_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# a walk over a file's values longer than this means aliases expanding, not a large file
MAX_WALK = 2 * MAX_DOCUMENT_NODES


def is_file(path: Path) -> bool:
    """`path.is_file()`, false for a name no file system takes: a playbook may name a file
    by any text (a 300-character name raised OSError: file name too long)."""
    try:
        return path.is_file()
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return False


def is_dir(path: Path) -> bool:
    """`path.is_dir()`, false for a name no file system takes (see `is_file`)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


class Lined(dict[str, Any]):
    """A YAML mapping that knows its first line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line) if hasattr(self, "key_lines") else self.line


class Unsafe(str):
    """A `!unsafe` string: used as written, never templated."""

    __slots__ = ()


class Vaulted:
    """A `!vault` value: encrypted, so Setpoint cannot know it."""

    def __repr__(self) -> str:
        return "<ansible-vault encrypted value>"


class _Loader(_BASE):  # type: ignore[misc, valid-type]
    pass


def _mapping(loader: Any, node: MappingNode) -> Iterator[Lined]:
    data = Lined()
    data.line = node.start_mark.line + 1
    data.key_lines = {
        str(key.value): key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, ScalarNode)
    }
    yield data
    data.update(loader.construct_mapping(node))


def _unsafe(loader: Any, node: Node) -> Unsafe:
    return Unsafe(loader.construct_scalar(node))


def _vault(loader: Any, node: Node) -> Vaulted:
    return Vaulted()


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("!unsafe", _unsafe)
_Loader.add_constructor("!vault", _vault)


def load_file(path: Path, shown: str) -> Any:
    """One YAML file's data (the first document, as Ansible reads it); errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read file: {exc}", shown) from exc
    if text.startswith("$ANSIBLE_VAULT"):
        raise SpecError("file is encrypted with ansible-vault; Setpoint cannot read it", shown)
    # the spec budgets (size, nodes, nesting), measured before anything is composed: what
    # reads a playbook afterwards walks it, and deeper than Python's stack it cannot
    refused = [file_too_large(shown, text_bytes(text)), lone_surrogate(shown, text)]
    refused += over_budget(shown, text)
    for error in refused:
        if error is not None:
            raise error
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", shown, mark.line + 1 if mark else None) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", shown) from exc
    except (ValueError, OverflowError) as exc:  # 2026-13-01 is a timestamp to YAML
        raise SpecError(f"a value YAML cannot read: {exc}", shown) from exc
