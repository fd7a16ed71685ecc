"""JSON Schema checks of spec documents, turned into errors a person can act on.

The schemas in `schema/` serve two readers: editors (completion and squiggles through a
yaml-language-server modeline) and `setpoint validate`. jsonschema's own messages name
JSON types and regexes; here each error becomes "what is wrong, at which field, on which
line", with a hint where YAML is the likely culprit (an unquoted account id, `yes`).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.errors import SpecError
from chalicelib.specs.yamldoc import FieldPath, SpecDocument

if TYPE_CHECKING:  # jsonschema costs ~100 ms to import: only pay it when validating
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

SCHEMA_DIR = Path(__file__).parent / "schema"
TOP_SCHEMA = "setpoint.schema.json"

# Keywords that combine subschemas: their messages say little ("is not valid under any of
# the given schemas"), so the semantic checks state the same rule in words instead.
COMBINATORS = frozenset(
    {"oneOf", "anyOf", "allOf", "not", "if", "then", "else", "dependentSchemas"}
)


def schema_dir() -> Path:
    """Where the schema files live, for tools that copy them next to a user's specs."""
    return SCHEMA_DIR


def schema_path(name: str) -> Path:
    """A schema file by name: the top schema here, each kind's in its family's folder."""
    from chalicelib.kinds.registry import SCHEMAS

    return SCHEMA_DIR / name if name == TOP_SCHEMA else SCHEMAS[name]


def schema_files() -> list[Path]:
    """Every schema file, the top one first: what `import` copies beside a user's specs."""
    from chalicelib.kinds.registry import SCHEMAS

    return [SCHEMA_DIR / TOP_SCHEMA, *SCHEMAS.values()]


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema by file name. The top one is the copy `import` writes (siblings by name),
    the same rules as the repository's file, whose refs are paths for editors."""
    if name == TOP_SCHEMA:
        from chalicelib.specs.top_schema import top_schema

        return top_schema(lambda path: path.name)
    with schema_path(name).open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@cache
def _registry() -> Registry:
    from referencing import Registry, Resource

    resources = [
        (path.name, Resource.from_contents(load_schema(path.name))) for path in schema_files()
    ]
    return Registry().with_resources(resources)


def top_ref(path: Path) -> str:
    """How the repository's top schema refers to `path`: relative, so editors follow it."""
    import os

    return Path(os.path.relpath(path, SCHEMA_DIR)).as_posix()


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for one schema file; `$ref`s to sibling files resolve offline.

    It validates a copy with the `$ref`s inlined (`inline_refs`): the same rules and the
    same errors, without a registry lookup per reference per document, which was a
    fifth of the time a sweep spent validating specs.
    """
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(inline_refs(name, schema), registry=_registry())


# Keywords beside a `$ref` that change no verdict: such a `$ref` can be replaced by its
# target's keywords. Any other sibling keeps the `$ref` (resolved by the registry).
_ANNOTATIONS = frozenset({"$ref", "description", "title", "$comment", "markdownDescription"})


def inline_refs(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with each `$ref` to a sibling file or a `#/$defs/...` pointer replaced by
    the schema it points at; recursive references, and any it cannot follow, stay (named
    by file when they came from another file, so the registry still resolves them)."""

    roots: dict[str, Any] = {name: schema}

    def target(base: str, ref: str) -> tuple[str, Any] | None:
        file, _, pointer = ref.partition("#")
        file = file or base
        try:
            node: Any = roots[file] if file in roots else roots.setdefault(file, load_schema(file))
        except (KeyError, OSError, ValueError):
            return None
        for part in [p for p in pointer.split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return file, node

    def walk(base: str, node: Any, seen: tuple[tuple[str, str], ...]) -> Any:
        if isinstance(node, list):
            return [walk(base, item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and set(node) <= _ANNOTATIONS:
            found = target(base, ref)
            key = (found[0], ref.partition("#")[2]) if found else ("", "")
            if found is not None and key not in seen and isinstance(found[1], dict):
                inlined = walk(found[0], found[1], (*seen, key))
                extra = {k: v for k, v in node.items() if k != "$ref"}
                return {k: v for k, v in inlined.items() if k != "$defs"} | extra
        out = {k: walk(base, v, seen) for k, v in node.items()}
        if isinstance(ref, str) and ref.startswith("#") and base != name:
            out["$ref"] = base + ref  # kept, inside another file's schema: name that file
        return out

    inlined: dict[str, Any] = walk(name, schema, ())
    return inlined


@dataclass(frozen=True)
class SchemaProblem:
    """One schema violation: where it is, the error to show, and whether it combines rules."""

    path: FieldPath
    error: SpecError
    combinator: bool


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "array": "a list",
    "object": "a mapping of fields",
    "boolean": "true or false",
    "null": "empty",
}


def _type_message(error: ValidationError, doc: SpecDocument, path: FieldPath) -> str:
    expected: Any = error.validator_value
    instance: Any = error.instance
    names = [expected] if isinstance(expected, str) else list(expected)
    wanted = " or ".join(_TYPE_WORDS.get(n, n) for n in names)
    message = f"must be {wanted}, not {_describe(instance)}"
    source = doc.plain.get(path)
    if "string" in names and source is not None and instance is not None:
        if isinstance(instance, bool):
            message += f" (YAML reads {source} as a boolean)"
        message += f'; quote it: "{source}"'
    elif "array" in names and instance is None:
        message += " (write [] for none)"
    return message


def _messages(error: ValidationError, doc: SpecDocument) -> list[tuple[FieldPath, str]]:
    """One or more (path, message) pairs for a jsonschema error."""
    path: FieldPath = tuple(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance
    value: Any = error.validator_value
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extra = [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]
        out = []
        for key in sorted(extra):
            # Suggest a field the user has not written yet: that is the one they missed.
            unused = [k for k in known if k not in instance] or known
            close = difflib.get_close_matches(key, unused, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known)}"
            out.append(((*path, key), f"unknown field {key!r}{hint}"))
        return out
    if keyword == "required" and isinstance(instance, dict):
        return [
            ((*path, key), f"missing required field {key!r}")
            for key in value
            if key not in instance
        ]
    if keyword == "type":
        return [(path, _type_message(error, doc, path))]
    if keyword == "pattern":
        custom = schema.get("patternErrorMessage")
        return [(path, f"{instance!r}: {custom}" if custom else error.message)]
    if keyword in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return [(path, f"{instance} is out of range {low}-{high}")]
    if keyword == "minLength":
        return [(path, "must not be empty")]
    if keyword == "maxLength":
        return [(path, f"is too long ({len(instance)} characters, at most {value})")]
    if keyword == "minItems":
        return [(path, "must not be an empty list")]
    if keyword == "const":
        return [(path, f"must be {value!r}")]
    if keyword == "enum":
        allowed = ", ".join(str(v) for v in value)
        return [(path, f"{instance!r} is not one of: {allowed}")]
    return [(path, error.message)]


def schema_problems(doc: SpecDocument, schema_name: str) -> list[SchemaProblem]:
    """Every schema violation of `doc`, each at the most specific field path."""
    problems: list[SchemaProblem] = []
    for error in validator(schema_name).iter_errors(doc.data):
        combinator = error.validator in COMBINATORS
        for path, message in _messages(error, doc):
            problems.append(SchemaProblem(path, doc.error(path, message), combinator))
    return problems
