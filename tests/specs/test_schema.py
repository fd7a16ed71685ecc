"""The JSON Schemas: well-formed, documented, and usable through the top-level dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.specs.validate import TOP_SCHEMA, load_schema, schema_dir, validator

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "policies").rglob("*.yaml"))


def properties(schema: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{where}.{name}", sub
        for key, sub in schema.items():
            yield from properties(sub, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from properties(sub, f"{where}[{index}]")


@pytest.mark.parametrize("name", [p.name for p in sorted(schema_dir().glob("*.json"))])
def test_schema_is_valid_and_every_property_is_described(name: str):
    validator(name)  # check_schema runs inside
    undescribed = [path for path, sub in properties(load_schema(name)) if "description" not in sub]
    assert undescribed == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_the_editor_schema_and_carry_the_modeline(path: Path):
    text = path.read_text()
    assert list(validator(TOP_SCHEMA).iter_errors(yaml.safe_load(text))) == []
    modeline = text.splitlines()[0]
    assert modeline.startswith("# yaml-language-server: $schema=")
    target = (path.parent / modeline.split("=", 1)[1]).resolve()
    assert target == schema_dir() / TOP_SCHEMA


def test_editor_schema_dispatches_on_kind():
    top = validator(TOP_SCHEMA)
    assert not top.is_valid({"kind": "security_group", "name": "web", "ingres": []})
    assert not top.is_valid({"kind": "bucket"})
    assert top.is_valid({"kind": "security_group", "group_id": "sg-0abc"})
