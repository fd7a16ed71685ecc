"""An event file (`setpoint explain EVENT.json`) read into JSON values, or one clear error.

JSON that `json.loads` accepts can still break what runs after it: a lone surrogate escape
(`"\\ud800"`) gives a str that cannot be encoded, so printing the report fails; deep nesting
raises RecursionError in the parser or in anything that walks the value later; an integer
past Python's 4,300-digit conversion limit raises a bare ValueError. Each of these escaped
as a traceback (exit 1, read as "drift"). Here each is a `ConfigError` naming the file and,
where it can be told, the line or field, so the CLI exits 2 like for any other bad input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chalicelib.errors import ConfigError

# CloudTrail records nest about 8 levels deep (requestParameters.ipPermissions.items[0]
# .ipRanges.items[0].cidrIp); 64 leaves room for any real record and stays far below the
# interpreter's recursion limit (1,000), which anything walking the value would hit first.
MAX_EVENT_DEPTH = 64

_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_INTEGER = re.compile(rb"\d{4301,}")


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(path: str, data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 1 and b"\x00" in data[:4]):
        raise ConfigError(f"{path}: not UTF-8: the file looks like UTF-16; save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _line_at(data, exc.start)
        raise ConfigError(
            f"{path}:{line}: not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}"
        ) from None


def _path_text(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def _check_value(path: str, value: Any) -> None:
    """Refuse nesting over MAX_EVENT_DEPTH and strings holding lone surrogates (iteratively:
    the value may be as deep as the parser allowed)."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, where = stack.pop()
        if len(where) > MAX_EVENT_DEPTH:
            raise ConfigError(
                f"{path}: {_path_text(where[:3])}…: nested deeper than {MAX_EVENT_DEPTH} levels"
            )
        if isinstance(item, str):
            _check_text(path, item, where)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(path, key, [*where, key])
                stack.append((child, [*where, key]))
        elif isinstance(item, list):
            stack.extend((child, [*where, index]) for index, child in enumerate(item))


def _check_text(path: str, text: str, where: list[str | int]) -> None:
    found = _SURROGATE.search(text)
    if found is not None:
        # repr of the key: a surrogate cannot be printed as it is
        shown = _path_text([w if not isinstance(w, str) else ascii(w)[1:-1] for w in where])
        raise ConfigError(
            f"{path}: {shown}: lone surrogate U+{ord(found.group()):04X} is not valid "
            "Unicode (an unpaired \\u escape)"
        )


def read_event_file(path: str) -> Any:
    """The JSON value in the file at `path`; ConfigError (one line) for anything unusable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    text = _decode(path, data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(
            f"{path}: not valid JSON: nested deeper than {MAX_EVENT_DEPTH} levels"
        ) from None
    except ValueError:
        # the only other ValueError json raises: an integer over the digit limit
        found = _LONG_INTEGER.search(data)
        line = f":{_line_at(data, found.start())}" if found else ""
        raise ConfigError(
            f"{path}{line}: not valid JSON: an integer with more than 4,300 digits"
        ) from None
    _check_value(path, value)
    return value
