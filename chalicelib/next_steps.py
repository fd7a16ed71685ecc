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

# The advice an unmanaged resource gets instead of a spec edit (its id is filled in).
IMPORT_HINT = "write a spec: setpoint import --only {id}"


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
