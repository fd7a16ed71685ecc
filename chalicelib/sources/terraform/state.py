"""Terraform state files (format 4) -> the managed AWS resource instances they hold.

Only what Setpoint compares is kept: managed resources (data sources are reads, not
desired state) of the AWS provider (any alias). Attribute values are kept as the state
has them; the paths the state marks sensitive travel along so nothing prints them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.sources.terraform.model import TfInstance

SUPPORTED_VERSION = 4
# states nest about 12 levels (a policy document inside an attribute); 64 leaves room and
# stays far below the interpreter's recursion limit, which code walking a value would hit
MAX_STATE_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_aws_provider(provider: str) -> bool:
    """`provider["registry.terraform.io/hashicorp/aws"].west` and the 0.12 `provider.aws`."""
    inner = provider.split('"')[1] if '"' in provider else provider
    return inner.rsplit("/", 1)[-1].split(".")[0] == "aws" or inner == "provider.aws"


def instance_address(resource: Mapping[str, Any], index_key: Any) -> str:
    """`module.app.aws_security_group.this["web"]`, as `terraform state list` prints it."""
    parts = [str(resource["module"])] if resource.get("module") else []
    prefix = "data." if resource.get("mode") == "data" else ""
    parts.append(f"{prefix}{resource['type']}.{resource['name']}")
    address = ".".join(parts)
    if index_key is None:
        return address
    if isinstance(index_key, bool) or not isinstance(index_key, int):
        return f"{address}[{json.dumps(str(index_key))}]"
    return f"{address}[{index_key}]"


def _sensitive(paths: Any) -> frozenset[tuple[str | int, ...]]:
    """`sensitive_attributes` as paths: [[{"type": "get_attr", "value": "x"}, ...], ...]."""
    found: set[tuple[str | int, ...]] = set()
    for path in paths if isinstance(paths, list) else ():
        steps: list[str | int] = []
        for step in path if isinstance(path, list) else ():
            if not isinstance(step, Mapping):
                continue
            value = step.get("value")
            if isinstance(value, Mapping):  # index steps: {"value": 0, "type": "number"}
                value = value.get("value")
            if isinstance(value, (str, int)):
                steps.append(value)
        if steps:
            found.add(tuple(steps))
    return frozenset(found)


def _load(origin: str, text: str) -> Any:
    """The state's JSON, or a SpecError naming `origin` for what json.loads accepts but
    nothing after it can use: nesting too deep to walk, lone surrogates (`"\\ud800"`, text
    no encoder takes), integers past Python's 4,300-digit limit."""
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"not a Terraform state (JSON: {exc.msg})", origin, exc.lineno) from None
    except RecursionError:
        raise SpecError(
            f"not a Terraform state (JSON nested deeper than {MAX_STATE_DEPTH} levels)", origin
        ) from None
    except ValueError:  # the only other one json raises: an integer over the digit limit
        raise SpecError(
            "not a Terraform state (JSON: an integer with more than 4,300 digits)", origin
        ) from None
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(state, ())]
    while stack:  # iterative: the value may be as deep as the parser allowed
        item, where = stack.pop()
        if len(where) > MAX_STATE_DEPTH:
            raise SpecError(
                f"not a Terraform state (nested deeper than {MAX_STATE_DEPTH} levels)",
                origin,
                field=_field(where[:3]),
            )
        texts = [item] if isinstance(item, str) else list(item) if isinstance(item, dict) else []
        for value in texts:
            if not value.isascii() and _SURROGATE.search(value):
                raise SpecError(
                    "not a Terraform state (a lone surrogate: an unpaired \\u escape is not "
                    "valid Unicode)",
                    origin,
                    field=_field(where),
                )
        if isinstance(item, dict):
            stack.extend((child, (*where, key)) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, (*where, index)) for index, child in enumerate(item))
    return state


def _field(where: tuple[str | int, ...]) -> str | None:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def parse_state(origin: str, text: str) -> list[TfInstance]:
    """Every managed AWS resource instance of one state; a malformed state names `origin`."""
    state = _load(origin, text)
    if not isinstance(state, Mapping):
        raise SpecError("not a Terraform state (expected a JSON object)", origin)
    version = state.get("version")
    if version != SUPPORTED_VERSION:
        raise SpecError(
            f"Terraform state format {version!r} is not supported (format 4 is: Terraform"
            " 0.12 and later write it; `terraform state pull` converts an older state)",
            origin,
            field="version",
        )
    resources = state.get("resources", [])
    if not isinstance(resources, list):
        raise SpecError("'resources' is not a list", origin, field="resources")
    found: list[TfInstance] = []
    for position, resource in enumerate(resources):
        if not isinstance(resource, Mapping) or not {"type", "name"} <= resource.keys():
            raise SpecError(
                "a resource without 'type' and 'name'", origin, field=f"resources[{position}]"
            )
        provider = str(resource.get("provider", ""))
        if resource.get("mode", "managed") != "managed" or not is_aws_provider(provider):
            continue
        instances: Sequence[Any] = resource.get("instances") or []
        for instance in instances:
            if not isinstance(instance, Mapping):
                continue
            attributes = instance.get("attributes")
            if not isinstance(attributes, Mapping):
                continue  # a deposed or tainted-only entry without attributes
            if instance.get("deposed"):
                continue  # the old object of a create-before-destroy, about to go
            found.append(
                TfInstance(
                    origin=origin,
                    address=instance_address(resource, instance.get("index_key")),
                    type=str(resource["type"]),
                    attributes=attributes,
                    provider=provider,
                    sensitive=_sensitive(instance.get("sensitive_attributes")),
                )
            )
    return found
