"""Forgiving lookups into the nested, loosely typed parts of a CloudTrail record.

`requestParameters` and friends are whatever the AWS service chose to log, so a lookup that
meets the wrong type treats the value as absent instead of raising: a record we cannot find
a resource in is skipped with a reason, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ci_get(value: object, key: str) -> Any:
    """`value[key]`, else the key matched ignoring case, else None.

    Some log pipelines (Panther) lower-case userIdentity keys (`accountid`, `sessioncontext`).
    """
    if not isinstance(value, Mapping):
        return None
    if key in value:
        return value[key]
    folded = key.lower()
    for name, item in value.items():
        if isinstance(name, str) and name.lower() == folded:
            return item
    return None


def dig(value: object, *path: str) -> Any:
    """Follow `path` through nested mappings; None as soon as a step is missing or not a mapping."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def ci_dig(value: object, *path: str) -> Any:
    """`dig`, ignoring the case of every key on the way."""
    for key in path:
        value = ci_get(value, key)
    return value


def items(value: object) -> list[Any]:
    """The elements of an EC2 list as CloudTrail logs it.

    EC2 lists arrive as `{"items": [...]}`, an empty list as `{}`, and hand-written records
    sometimes use a plain JSON list; anything else holds no elements.
    """
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        inner = value.get("items")
        if isinstance(inner, list):
            return inner
        if isinstance(inner, Mapping):
            return [inner]
    return []


def text(value: object) -> str | None:
    """A non-empty string, or None: empty strings carry no information in CloudTrail."""
    return value if isinstance(value, str) and value else None


def truthy(value: object) -> bool:
    """CloudTrail writes booleans both as JSON booleans and as the strings "true"/"false"."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


def json_type(value: object) -> str:
    """The JSON name of a value's type, for error messages a user can match to their payload."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def described(value: object) -> str:
    """ "a string", "an array"…: the JSON type of `value` with its article."""
    name = json_type(value)
    return ("an " if name[0] in "aeiou" else "a ") + name
