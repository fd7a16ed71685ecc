"""The top spec schema (`kind` picks the rest), generated from the registry.

Two spellings of one schema: the repository's `specs/schema/setpoint.schema.json` refers to
each kind's schema in its family folder (so editors in this repository follow the refs),
and the copy `setpoint import` writes beside a user's specs refers to siblings by name.
`python -m chalicelib.specs.top_schema` (run by `make policy`) rewrites the repository's
file; a test fails when it is stale.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.specs.validate import SCHEMA_DIR, TOP_SCHEMA, schema_files, top_ref


def top_schema(ref: Callable[[Path], str]) -> dict[str, Any]:
    described = {"description": "Resource kind of this spec."}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Setpoint spec",
        "description": (
            "A Setpoint desired-state spec. The kind field selects the schema of the rest."
        ),
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {**described, "enum": list(SPEC_KINDS)}},
        "allOf": [
            {
                "if": {"properties": {"kind": {**described, "const": kind}}, "required": ["kind"]},
                "then": {"$ref": ref(spec.schema)},
            }
            for kind, spec in SPEC_KINDS.items()
        ],
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def repository_text() -> str:
    return render(top_schema(top_ref))


def write_copy(target: Path) -> Path:
    """Every schema flat in `target`, the top one referring to siblings; returns the top."""
    target.mkdir(parents=True, exist_ok=True)
    for path in schema_files():
        if path.name != TOP_SCHEMA:
            shutil.copyfile(path, target / path.name)
    top = target / TOP_SCHEMA
    top.write_text(render(top_schema(lambda path: path.name)), encoding="utf-8")
    return top


def main() -> int:
    path = SCHEMA_DIR / TOP_SCHEMA
    path.write_text(repository_text(), encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
