"""The validator checks specs against schemas with their `$ref`s inlined: same verdicts.

Inlining saves a registry lookup per reference per document (a fifth of the time spent
validating a large catalog); it must not change a single error. Every example spec in
`policies/` and in the spec reference pages is broken in every way a person might break
it (an unknown field, a wrong type, an empty value at each place), and both validators
must report the same errors.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.specs.validate import _registry, inline_refs, load_schema, schema_files, validator

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "policies").rglob("*.yaml"))


def reference(name: str) -> Draft202012Validator:
    """The schema as written, `$ref`s resolved through the registry one by one."""
    return Draft202012Validator(load_schema(name), registry=_registry())


def broken(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(what was done, the document) for each mistake at each place in `data`."""
    node: Any = data
    for part in path:
        node = node[part]
    if isinstance(node, dict):
        for key in list(node):
            yield from broken(data, (*path, key))
        extra: tuple[tuple[str, dict[str, Any]], ...] = (
            ("an unknown field", {"bogus_field": 1}),
            ("a typo", {"nmae": "x"}),
        )
        for label, fields in extra:
            doc = copy.deepcopy(data)
            target = doc
            for part in path:
                target = target[part]
            target.update(fields)
            yield f"{label} at {path}", doc
    elif isinstance(node, list):
        for index in range(len(node)):
            yield from broken(data, (*path, index))
    if path:
        wrong: tuple[tuple[str, Any], ...] = (
            ("a number", 12345),
            ("empty", None),
            ("text", "x"),
            ("a list", []),
        )
        for label, value in wrong:
            doc = copy.deepcopy(data)
            target = doc
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
            yield f"{label} at {path}", doc


def errors(check: Draft202012Validator, doc: Any) -> list[str]:
    found = []
    for error in check.iter_errors(doc):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = sorted(schema.get("properties", {}))
        found.append(
            json.dumps(
                [list(error.absolute_path), error.validator, error.message, known],
                default=str,
            )
        )
    return sorted(found)


def documented() -> Iterator[tuple[str, str]]:
    """The YAML examples of the spec reference pages (every kind, load balancers too)."""
    for page in sorted((REPO / "docs").glob("spec*.md")):
        for block in page.read_text(encoding="utf-8").split("```yaml\n")[1:]:
            yield page.name, block.split("```")[0]


def examples() -> Iterator[tuple[str, Any]]:
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in EXAMPLES] + list(documented())
    for name, text in texts:
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            continue  # a fragment, not a whole spec
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") in SPEC_KINDS:
                yield name, doc


@pytest.mark.parametrize(("file", "doc"), list(examples()), ids=lambda v: str(v)[:40])
def test_every_mistake_is_reported_as_before(file: str, doc: dict[str, Any]) -> None:
    name = SPEC_KINDS[doc["kind"]].schema.name
    inlined, written = validator(name), reference(name)
    tried = 0
    for what, bad in broken(doc):
        assert errors(inlined, bad) == errors(written, bad), f"{file}: {what}"
        tried += 1
    assert tried > 10
    assert errors(inlined, doc) == errors(written, doc)  # documented examples elide parts


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: p.name)
def test_no_reference_is_left_to_look_up(path: Path) -> None:
    """The shipped schemas reference each other without cycles: everything inlines."""
    assert '"$ref"' not in json.dumps(inline_refs(path.name, load_schema(path.name)))


def test_a_recursive_reference_stays_and_still_validates() -> None:
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"child": {"$ref": "#/$defs/node"}},
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
    }
    inlined = Draft202012Validator(inline_refs("tree.json", tree))
    deep = {"root": {"child": {"child": {"child": {"oops": 1}}}}}
    (error,) = inlined.iter_errors(deep)
    assert list(error.absolute_path) == ["root", "child", "child", "child"]
    assert error.validator == "additionalProperties"


def test_a_reference_beside_a_rule_is_left_to_the_registry() -> None:
    schema = {
        "$defs": {"word": {"type": "string"}},
        "properties": {"name": {"$ref": "#/$defs/word", "minLength": 2}},
    }
    assert inline_refs("words.json", schema)["properties"]["name"]["$ref"] == "#/$defs/word"
