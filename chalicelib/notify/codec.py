"""Alerts as JSON and back, for the SQS outbox (and anything else that must park an alert).

An alert waiting in a queue outlives the Lambda that wrote it and may be read by the next
deployment, so the body is versioned (`{"format_version": "1", "alert": {...}}`) and the
codec walks the dataclasses' own fields and type hints instead of listing them: a field
added to `Finding` or `Actor` travels without touching this file. Reading is lenient
where a deployment boundary needs it (a missing field that has a default takes it; an
unknown key is ignored, so a rollback still delivers) and strict elsewhere: a body that
does not fit the types raises `MalformedAlertError` naming the field's path.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections import abc
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, Literal, Union

from chalicelib.errors import SetpointError
from chalicelib.kinds.registry import kind_named
from chalicelib.model import Kind
from chalicelib.notify.alert import Alert

FORMAT_VERSION = "1"
_SEQUENCES = (tuple, list, abc.Sequence)
_SETS = (set, frozenset, abc.Set)
_MAPPINGS = (dict, abc.Mapping)


class MalformedAlertError(SetpointError):
    """A parked alert that cannot be read back: bad JSON, wrong version, wrong field."""


def alert_to_data(alert: Alert) -> dict[str, Any]:
    """The versioned JSON-ready form: `{"format_version": "1", "alert": {...}}`."""
    return {"format_version": FORMAT_VERSION, "alert": to_data(alert)}


def alert_from_data(data: Any) -> Alert:
    """Read what `alert_to_data` wrote; other top-level keys are left to the caller."""
    if not isinstance(data, Mapping):
        raise MalformedAlertError(f"expected a JSON object, got {_type_name(data)}")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise MalformedAlertError(f"format_version: expected {FORMAT_VERSION!r}, got {version!r}")
    if "alert" not in data:
        raise MalformedAlertError("alert: missing")
    alert: Alert = from_data(Alert, data["alert"], "alert")
    return alert


def encode_alert(alert: Alert) -> str:
    """JSON text; ASCII only, since SQS refuses some code points that JSON allows."""
    return json.dumps(alert_to_data(alert), ensure_ascii=True, allow_nan=False, sort_keys=True)


def decode_alert(text: str | bytes) -> Alert:
    return alert_from_data(load_json(text))


def load_json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MalformedAlertError(f"body is not JSON: {error}") from None


def to_data(value: Any) -> Any:
    """Dataclasses to objects, enums to their values, tuples and sets to lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return to_data(value.value)
    if isinstance(value, Mapping):
        return {str(key): to_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_data(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((to_data(item) for item in value), key=_sort_key)
    return value


def from_data(hint: Any, data: Any, path: str) -> Any:
    """`data` read as `hint` (a type hint), or MalformedAlertError naming `path`."""
    if hint is Any or hint is object:
        return data  # JSON as it came: lists stay lists, as the renderers expect
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return _union(typing.get_args(hint), data, path)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if data not in allowed or isinstance(data, bool) != isinstance(allowed[0], bool):
            raise _wrong(path, "one of " + ", ".join(map(repr, allowed)), data)
        return data
    if origin is not None:
        return _generic(origin, typing.get_args(hint), data, path)
    if hint is type(None):
        if data is not None:
            raise _wrong(path, "null", data)
        return None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, data, path)
    if hint is Kind:
        try:
            return kind_named(str(data)) if isinstance(data, str) else kind_named(repr(data))
        except ValueError as exc:
            raise MalformedAlertError(f"{path}: {exc}") from None
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(data)
        except ValueError:
            members = ", ".join(repr(member.value) for member in hint)
            raise _wrong(path, f"one of {members}", data) from None
    return _scalar(hint, data, path)


def _dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise _wrong(path, f"an object ({cls.__name__})", data)
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        if item.name not in data:
            has_default = (
                item.default is not dataclasses.MISSING
                or item.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue  # written before this field existed
            raise MalformedAlertError(f"{path}.{item.name}: missing")
        values[item.name] = from_data(hints[item.name], data[item.name], f"{path}.{item.name}")
    return cls(**values)


def _generic(origin: Any, args: tuple[Any, ...], data: Any, path: str) -> Any:
    if origin in _SEQUENCES or origin in _SETS:
        if not isinstance(data, list):
            raise _wrong(path, "a list", data)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(data):
                raise _wrong(path, f"a list of {len(args)} items", data)
            pairs = enumerate(zip(args, data, strict=True))
            return tuple(from_data(a, d, f"{path}[{i}]") for i, (a, d) in pairs)
        item = args[0] if args else Any
        items = [from_data(item, d, f"{path}[{i}]") for i, d in enumerate(data)]
        if origin is list:
            return items
        if origin in _SETS:
            return frozenset(items)
        return tuple(items)
    if origin in _MAPPINGS:
        if not isinstance(data, Mapping):
            raise _wrong(path, "an object", data)
        key_hint, value_hint = args if args else (Any, Any)
        return {
            from_data(key_hint, key, f"{path} key"): from_data(value_hint, value, f"{path}.{key}")
            for key, value in data.items()
        }
    raise MalformedAlertError(f"{path}: cannot read a field of type {origin!r}")


def _union(options: tuple[Any, ...], data: Any, path: str) -> Any:
    if data is None and type(None) in options:
        return None
    errors = []
    for option in options:
        if option is type(None):
            continue
        try:
            return from_data(option, data, path)
        except MalformedAlertError as error:
            errors.append(str(error))
    raise MalformedAlertError(errors[0] if len(errors) == 1 else "; ".join(errors))


def _scalar(hint: Any, data: Any, path: str) -> Any:
    if hint is bool:
        ok = isinstance(data, bool)
    elif hint is int:
        ok = isinstance(data, int) and not isinstance(data, bool)
    elif hint is float:
        ok = isinstance(data, int | float) and not isinstance(data, bool)
        data = float(data) if ok else data
    elif hint is str:
        ok = isinstance(data, str)
    else:
        raise MalformedAlertError(f"{path}: cannot read a field of type {hint!r}")
    if not ok:
        raise _wrong(path, hint.__name__, data)
    return data


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _type_name(data: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(data), type(data).__name__
    )


def _wrong(path: str, expected: str, data: Any) -> MalformedAlertError:
    shown = repr(data)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return MalformedAlertError(f"{path}: expected {expected}, got {_type_name(data)} {shown}")
