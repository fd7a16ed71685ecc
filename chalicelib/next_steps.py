"""Spelling a change's next steps: an `aws ...` command a person pastes into a POSIX shell,
and the YAML a spec edit pastes. Kind-free: each family decides *what* to advise
(`chalicelib/kinds/<family>/next_steps.py`); this module only writes it down.

Pure: no boto3, no clock, no environment.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import yaml

from chalicelib.noise.parse import REASON_PLACEHOLDER

# The advice an unmanaged resource gets instead of a spec edit (its id is filled in).
IMPORT_HINT = "write a spec: setpoint import --only {id}"


def is_import_hint(accept: str) -> bool:
    """Whether an `accept` is the unmanaged resource's hint (no spec to add an exception to)."""
    return accept.startswith(IMPORT_HINT.partition("{")[0])


def aws_command(service: str, operation: str, *args: tuple[str, Any], region: str | None) -> str:
    """`aws SERVICE OPERATION --region R --name value ...`, each value quoted for a shell.

    A list of strings becomes separate words (`--security-groups sg-1 sg-2`); any other
    value that is not a string (a mapping, a list of mappings) is written as compact JSON,
    which the AWS CLI reads for every structured parameter. `region` None leaves
    `--region` out (IAM is global).
    """
    words = ["aws", service, operation]
    if region:
        words += ["--region", region]
    for name, value in args:
        words.append(f"--{name}")
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            words += [shlex.quote(v) for v in value]  # a list of ids: separate words
            continue
        words.append(shlex.quote(value if isinstance(value, str) else compact_json(value)))
    return " ".join(words)


def compact_json(value: Any) -> str:
    """JSON on one line, key order kept (the order AWS documents it in)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def yaml_flow(value: Any) -> str:
    """A value as one line of YAML to paste into a spec: `{proto: tcp, ports: '22'}`."""
    text = yaml.safe_dump(
        value, default_flow_style=True, sort_keys=False, width=1_000_000, allow_unicode=True
    ).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


# What the pasted exception leaves for the reviewer to fill in (a date, at most a year
# ahead, and why): validation refuses the placeholders, so nobody ships one unread.
UNTIL_PLACEHOLDER = "YYYY-MM-DD"


def exception_yaml(op: str, path: str, expected: Any, actual: Any) -> str:
    """The `exceptions:` entry that accepts one change until a date, as one YAML line.

    The change object is the report's (`op`, `path`, and the side that says what is
    there: `actual` for an addition or a change, `expected` for what went missing), so it
    matches exactly this change and nothing else (`noise.apply.matches`).
    """
    change: dict[str, Any] = {"op": op, "path": path}
    if actual is not None:
        change["actual"] = actual
    elif expected is not None:
        change["expected"] = expected
    entry = {"change": change, "until": UNTIL_PLACEHOLDER, "reason": REASON_PLACEHOLDER}
    # quoted, so a reason typed over the placeholder may hold commas and colons
    text = yaml_flow(entry).removesuffix(f"reason: {REASON_PLACEHOLDER}}}")
    return f"exceptions: [{text}reason: '{REASON_PLACEHOLDER}'}}]"
