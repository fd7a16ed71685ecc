"""What every kind's `setpoint import` writer shares: YAML that people and editors read well.

The output is meant to be committed and reviewed, so it favours reading over brevity;
parsing it back gives exactly the live state, which is what lets `check` right after
`import` report nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

# Where the schema sits relative to policies/<kind>/<file>.yaml in this repository.
DEFAULT_SCHEMA_REF = "../../chalicelib/specs/schema/setpoint.schema.json"


def schema_copy(out: Path) -> Path:
    """Where `setpoint import` puts the top schema beside the specs it writes under `out`."""
    return out / ".schema" / "setpoint.schema.json"


# Plain scalars that YAML 1.2 tools (editors, yq) would read as numbers, though PyYAML's
# YAML 1.1 rules keep them text: "012345678901", "1e3", "0o17".
_YAML12_NUMBER = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)
# Characters a YAML comment cannot hold: non-printables and the YAML 1.1 line breaks.
_NOT_IN_COMMENT = re.compile(
    "[^\x09\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


class SpecDumper(yaml.SafeDumper):
    """SafeDumper that indents list items under their key, as people write YAML."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _YAML12_NUMBER.fullmatch(value) else None
    if any(c in value for c in "\x85\u2028\u2029"):
        style = '"'  # PyYAML folds these line breaks in other styles; escapes keep them
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


SpecDumper.add_representer(str, represent_str)


def comment_safe(text: str) -> str:
    """Text that cannot break out of, or break, a YAML comment line."""
    return _NOT_IN_COMMENT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
