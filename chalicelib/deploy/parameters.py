"""Every setting of the packaged stack as a CloudFormation parameter.

Chalice writes each function's environment from `.chalice/config.json` as literal strings,
so changing a region list or the chat format would mean editing (forking) the project.
`settings_as_parameters` turns each such value into a `Ref` to a stack parameter whose
`Default` is the value Chalice wrote: the repository's config stays the defaults only, and
`sam deploy --parameter-overrides` or a parameters file configures a deployment.

Nothing here lists the settings by hand: whatever variable the config gives the functions
becomes a parameter, named after it (`SETPOINT_CHAT_FORMAT` -> `ChatFormat`). Variables the
merge template sets for every function (Globals: table, queues, bucket) are the stack's own
resource names and stay as they are; `finish.py` has already dropped them from the functions.
The merge template may declare a setting's parameter itself, without a Default, when it
needs the parameter (a condition, the role policy) or a pattern for it: the config's value
then becomes that declaration's Default, checked against its pattern.
"""

from __future__ import annotations

import re
from typing import Any

# The project's own prefix is left out of parameter names; any other prefix is kept.
OWN_PREFIX = "SETPOINT_"
DESCRIPTION_PREFIX = "Environment variable "
_MAX_NAME = 255  # CloudFormation's limit on a parameter's logical id


def parameter_name(variable: str) -> str:
    """`SETPOINT_CHAT_FORMAT` -> `ChatFormat`, `POWERTOOLS_LOG_LEVEL` -> `PowertoolsLogLevel`."""
    words = [w for w in variable.removeprefix(OWN_PREFIX).split("_") if w]
    name = "".join(w[:1].upper() + w[1:].lower() for w in words)
    if not name or not name.isalnum() or not name.isascii() or len(name) > _MAX_NAME:
        raise ValueError(f"{variable!r} cannot name a CloudFormation parameter")
    return name


def _handler(props: dict[str, Any]) -> str:
    return str(props.get("Handler", "")).removeprefix("app.")


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict)


def _description(variable: str, functions: list[str], every: bool) -> str:
    where = "every function" if every else ", ".join(functions)
    return f"{DESCRIPTION_PREFIX}{variable} of {where} (default: .chalice/config.json)."


def settings_as_parameters(template: dict[str, Any]) -> list[str]:
    """Each function's literal environment value becomes a `Ref` to a parameter with that
    value as its Default; the parameter names added, sorted.

    A variable with one value in every function that has it gets one parameter; one whose
    value differs between functions (a per-function setting in the config) gets one
    parameter per function, `<Name><Function>`. A name the template already uses for a
    parameter of its own is an error naming both, never a silent reuse.
    """
    functions: dict[str, dict[str, Any]] = {}
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        variables = props.get("Environment", {}).get("Variables")
        if isinstance(variables, dict):
            functions[_handler(props)] = variables
    values: dict[str, dict[str, str]] = {}  # variable -> function -> value
    for function, variables in functions.items():
        for variable, value in variables.items():
            if not _is_intrinsic(value):
                values.setdefault(variable, {})[function] = str(value)
    if not values:
        return []
    parameters = template.setdefault("Parameters", {})
    added: list[str] = []

    def declare(name: str, variable: str, default: str, where: list[str], every: bool) -> None:
        existing = parameters.get(name)
        if isinstance(existing, dict) and "Default" not in existing:
            # declared by the merge template for its pattern: the config gives the default
            pattern = existing.get("AllowedPattern")
            if pattern is not None and not re.fullmatch(pattern, default):
                raise ValueError(
                    f"{variable}={default!r} in .chalice/config.json does not match the "
                    f"pattern of stack parameter {name}: {pattern}"
                )
            existing["Default"] = default
            added.append(name)
            return
        if existing is not None:
            raise ValueError(
                f"environment variable {variable} would be stack parameter {name}, "
                "which the merge template (infra/setpoint.yaml) already declares "
                "with a default of its own"
            )
        parameters[name] = {
            "Type": "String",
            "Default": default,
            "Description": _description(variable, where, every),
        }
        added.append(name)

    for variable in sorted(values):
        by_function = values[variable]
        base = parameter_name(variable)
        if len(set(by_function.values())) == 1:
            (default,) = set(by_function.values())
            every = len(by_function) == len(functions)
            declare(base, variable, default, sorted(by_function), every)
            for function in by_function:
                functions[function][variable] = {"Ref": base}
            continue
        for function in sorted(by_function):
            name = base + "".join(w.title() for w in function.split("_"))
            declare(name, variable, by_function[function], [function], False)
            functions[function][variable] = {"Ref": name}
    return sorted(added)
