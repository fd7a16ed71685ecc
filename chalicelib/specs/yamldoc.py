"""YAML spec documents that remember the line of every field.

Errors must point at `file:line field`, and the parsed data no longer knows where it came
from. So each document is composed once (SafeLoader: plain data, no arbitrary tags) and
walked alongside its node tree to record the line of every path. The same walk catches
the YAML 1.1 traps that would otherwise change a spec silently: duplicate keys (the last
one wins and a rule disappears), keys like `on` that become booleans, and `22:22`, which
YAML 1.1 reads as the base-60 number 1342.

Before anything is composed, the parser's event stream is counted against the budgets in
`budgets.py` (nodes and nesting per document): a refused document never becomes a node
tree, so memory stays proportional to what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    ScalarEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chalicelib.errors import SpecError
from chalicelib.model import SourceLocation
from chalicelib.specs.budgets import (
    MAX_DOCUMENT_DEPTH,
    MAX_DOCUMENT_NODES,
    file_too_large,
    text_bytes,
)

# libyaml when PyYAML was built with it (about 7.7x faster on specs); same nodes and marks
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FieldPath = tuple[str | int, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
# Documents have at most MAX_DOCUMENT_NODES nodes when they are walked, so a walk this
# long means aliases expanding ("billion laughs"), not a large document.
_MAX_WALK = 2 * MAX_DOCUMENT_NODES
_SURROGATE = re.compile("[\ud800-\udfff]")


def format_path(path: FieldPath) -> str | None:
    """`("ingress", 1, "ports")` -> `ingress[1].ports`; the root is None."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or None


@dataclass(frozen=True)
class SpecDocument:
    """One YAML document of a spec file, with the line of each field path."""

    file: str
    index: int
    data: Any
    line: int
    lines: Mapping[FieldPath, int] = field(default_factory=dict)
    # Source text of plain (unquoted) scalars, for hints like "quote it".
    plain: Mapping[FieldPath, str] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int:
        """Line of `path`, or of its nearest written ancestor (a missing field's parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return self.line

    def location(self) -> SourceLocation:
        """Where the document starts, with the line of each top-level field."""
        fields = {p[0]: n for p, n in self.lines.items() if len(p) == 1 and isinstance(p[0], str)}
        return SourceLocation(self.file, self.line, fields)

    def error(self, path: FieldPath, message: str) -> SpecError:
        return SpecError(message, self.file, self.line_of(path), format_path(path))


class _Walker:
    """Records lines and flags YAML traps for one document's node tree."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[FieldPath, int] = {}
        self.plain: dict[FieldPath, str] = {}
        self.errors: list[SpecError] = []
        self.fatal = False
        self._stack: set[int] = set()
        self._count = 0

    def _error(self, node: Node, path: FieldPath, message: str) -> None:
        line = node.start_mark.line + 1
        self.errors.append(SpecError(message, self.file, line, format_path(path)))

    def walk(self, node: Node, path: FieldPath) -> None:
        self._count += 1
        if self._count > _MAX_WALK:
            if not self.fatal:
                self._error(
                    node,
                    path,
                    f"aliases expand too far (past {_MAX_WALK:,} nodes); write the "
                    "repeated parts out or use fewer aliases",
                )
            self.fatal = True
            return
        if len(path) > MAX_DOCUMENT_DEPTH:
            # the source nests at most that deep (over_budget), so aliases did this; the
            # walk recurses, so stop well before the interpreter's recursion limit
            if not self.fatal:
                self._error(
                    node,
                    path[:3],
                    f"aliases nest deeper than {MAX_DOCUMENT_DEPTH} levels when expanded",
                )
            self.fatal = True
            return
        if id(node) in self._stack:
            self._error(node, path, "an alias refers to a node that contains it")
            self.fatal = True
            return
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, ScalarNode):
            self._scalar(node, path)
            return
        self._stack.add(id(node))
        try:
            if isinstance(node, MappingNode):
                self._mapping(node, path, set())
            elif isinstance(node, SequenceNode):
                for index, item in enumerate(node.value):
                    self.walk(item, (*path, index))
        finally:
            self._stack.discard(id(node))

    def _surrogate(self, node: ScalarNode, path: FieldPath) -> None:
        """A `"\\ud800"` escape gives text that no encoder takes (alerts, reports)."""
        found = None if node.value.isascii() else _SURROGATE.search(node.value)
        if found is not None:
            self._error(
                node,
                path,
                f"lone surrogate U+{ord(found.group()):04X} is not valid Unicode (an "
                "unpaired \\u escape); write the character itself",
            )

    def _scalar(self, node: ScalarNode, path: FieldPath) -> None:
        self._surrogate(node, path)
        if node.style:  # quoted or block; plain is None (Python parser) or "" (libyaml)
            return
        self.plain[path] = node.value
        if node.tag in _NUMBER_TAGS and ":" in node.value:
            self._error(
                node,
                path,
                f"YAML 1.1 reads {node.value} as a base-60 number; quote it, or write a "
                'port range as "from-to" (e.g. "8000-8100")',
            )

    def _mapping(self, node: MappingNode, path: FieldPath, explicit: set[str]) -> None:
        seen: dict[str, int] = {}
        merges: list[Node] = []
        for key, value in node.value:
            if key.tag == _MERGE_TAG:
                merges.append(value)
                continue
            line = key.start_mark.line + 1
            if not isinstance(key, ScalarNode) or key.tag != _STR_TAG:
                text = key.value if isinstance(key, ScalarNode) else "a collection"
                self._error(
                    key,
                    path,
                    f"field names must be text, but {text!r} reads as a YAML "
                    f"{key.tag.rsplit(':', 1)[-1]}; quote it",
                )
                continue
            self._surrogate(key, (*path, key.value))
            if key.value in seen:
                self._error(
                    key,
                    (*path, key.value),
                    f"duplicate field (also on line {seen[key.value]}); YAML would keep only "
                    "the last one",
                )
                continue
            seen[key.value] = line
            if key.value in explicit:
                continue  # overridden by a field written next to the merge key
            self.lines.setdefault((*path, key.value), line)
            self.walk(value, (*path, key.value))
        # `<<: *base` merges: fields written explicitly win, as the constructor does it.
        for merged in merges:
            sources = merged.value if isinstance(merged, SequenceNode) else [merged]
            for source in sources:
                if isinstance(source, MappingNode):
                    self._mapping(source, path, explicit | set(seen))


def _drop_non_text_keys(data: Any) -> Any:
    """Remove keys already reported as non-text so the schema does not report them twice."""
    if isinstance(data, dict):
        return {k: _drop_non_text_keys(v) for k, v in data.items() if isinstance(k, str)}
    if isinstance(data, list):
        return [_drop_non_text_keys(v) for v in data]
    return data


def lone_surrogate(file: str, text: str) -> SpecError | None:
    """The error for a lone surrogate (an unpaired `\\ud800` escape in a JSON bundle that
    carried the text), which no YAML parser can read: libyaml's raised UnicodeEncodeError."""
    if text.isascii():
        return None
    found = _SURROGATE.search(text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    return SpecError(
        f"lone surrogate U+{ord(found.group()):04X} is not valid Unicode (an unpaired \\u "
        "escape); write the character itself",
        file,
        line,
    )


def over_budget(file: str, text: str) -> list[SpecError]:
    """Documents of `text` with more nodes or deeper nesting than the budgets allow.

    Reads only the event stream (no nodes are built). A syntax error ends the count: the
    composer reports it, with its line, when it reaches it.
    """
    errors: list[SpecError] = []
    nodes = depth = deepest = 0
    line = 0  # of the document's first node, where load_yaml says a document starts
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, (ScalarEvent, AliasEvent, CollectionStartEvent)):
                if not nodes and event.start_mark is not None:
                    line = event.start_mark.line + 1
                nodes += 1
                if isinstance(event, CollectionStartEvent):
                    depth += 1
                    deepest = max(deepest, depth)
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
            elif isinstance(event, DocumentStartEvent):
                nodes = depth = deepest = 0
            elif isinstance(event, DocumentEndEvent):
                errors.extend(_budget_errors(file, line, nodes, deepest))
    except yaml.YAMLError:
        pass
    return errors


def _budget_errors(file: str, line: int, nodes: int, deepest: int) -> list[SpecError]:
    errors = []
    if nodes > MAX_DOCUMENT_NODES:
        errors.append(
            SpecError(
                f"document has {nodes:,} nodes (fields, items and values), over the budget "
                f"of {MAX_DOCUMENT_NODES:,} per document; split it into one document per "
                "resource",
                file,
                line,
            )
        )
    if deepest > MAX_DOCUMENT_DEPTH:
        errors.append(
            SpecError(
                f"document nests {deepest:,} levels deep, over the budget of "
                f"{MAX_DOCUMENT_DEPTH} levels",
                file,
                line,
            )
        )
    return errors


def load_yaml(file: str, text: str) -> tuple[list[SpecDocument], list[SpecError]]:
    """Split `text` into documents with line maps; YAML errors come back as SpecErrors.

    Empty documents (a trailing `---`, a file of comments) are skipped. A syntax error
    stops the file: what follows it cannot be trusted. A file over the size budget, or
    with a document over the node or depth budget, is refused whole before any node is
    composed.
    """
    too_large = file_too_large(file, text_bytes(text))
    if too_large is not None:
        return [], [too_large]
    surrogate = lone_surrogate(file, text)
    if surrogate is not None:
        return [], [surrogate]
    refused = over_budget(file, text)
    if refused:
        return [], refused
    documents: list[SpecDocument] = []
    errors: list[SpecError] = []
    loader = _LOADER(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            walker = _Walker(file)
            walker.walk(node, ())
            errors.extend(walker.errors)
            if walker.fatal:
                index += 1
                continue
            try:
                data = loader.construct_document(node)
            except (ValueError, OverflowError) as exc:  # 2026-13-01 is a timestamp to YAML
                line = node.start_mark.line + 1
                errors.append(SpecError(f"a value YAML cannot read: {exc}", file, line))
                index += 1
                continue
            if data is not None:
                documents.append(
                    SpecDocument(
                        file=file,
                        index=index,
                        data=_drop_non_text_keys(data),
                        line=node.start_mark.line + 1,
                        lines=walker.lines,
                        plain=walker.plain,
                    )
                )
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{problem} ({exc.context})"
        errors.append(SpecError(f"invalid YAML: {problem}", file, mark.line + 1 if mark else None))
    except yaml.reader.ReaderError as exc:  # a character YAML refuses, by its offset
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else None
        what = f"character U+{code:04X}" if code is not None else "a character"
        errors.append(SpecError(f"invalid YAML: {what}: {exc.reason}", file, line))
    except yaml.YAMLError as exc:
        errors.append(SpecError(f"invalid YAML: {exc}", file))
    finally:
        loader.dispose()
    return documents, errors
