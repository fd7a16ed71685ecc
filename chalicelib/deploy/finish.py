"""The last touch on the packaged template: what Chalice 1.34 cannot say about SQS triggers.

`on_sweep_shard`, `on_recheck` and `on_outbox` answer with a partial batch response
(`batchItemFailures`), so only the failed records come back. Lambda honours it only
when the event source mapping has `FunctionResponseTypes: [ReportBatchItemFailures]`;
without it a batch with one failure would be retried whole (duplicate chat messages)
or deleted whole (lost alerts). Chalice has no option for it, and the merge template
cannot add it safely: a deep merge into a function the app does not define creates a
resource without a type. So `make package` runs this after `chalice package`, on the
functions that exist.

It also lets the stack's resource names win: a variable the merge template sets for
every function (Globals) is dropped from a function's own variables, where SAM would
otherwise prefer it. `.chalice/config.json` may then name local resources for
`chalice.test` and the dev stage without ever pointing a deployed function at them.

And it pins the functions' roles to the stack (`pin_role_policies`): the generated policy
names this account, region and partition as `${AWS::AccountId}`, `${AWS::Region}` and
`${AWS::Partition}` (and parameters of the merge template, `TEMPLATE_PARAMETERS`), which
IAM would read literally; each such string becomes `Fn::Sub`, and a string that is only a
comma-separated list parameter (`${Accounts}`) becomes `Fn::Split` of it. A statement that
only makes sense under a condition (kms:Verify when SpecVerifyKey is set) is wrapped in
`Fn::If` on it.

Before that, every setting left in the functions' environment (what `.chalice/config.json`
gave them) becomes a stack parameter with that value as its default (`parameters.py`), so a
deployment is configured with `--parameter-overrides`, not by editing the project; the
shard trigger's maximum concurrency follows the SweepConcurrency parameter.

Then nothing is lost (`dead_letters.py`): every asynchronously invoked function gets an
on-failure destination and every rule target a dead-letter queue and a retry policy.
Last, checkov's remaining findings on the generated functions and the queues are skipped
inline, each with its reason (`checkov_skips.py`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from chalicelib.deploy.calls import (
    LIST_PARAMETERS,
    REVERT_FUNCTION,
    RUNTIME_GRANTS,
    TEMPLATE_PARAMETERS,
)
from chalicelib.deploy.checkov_skips import add_checkov_skips
from chalicelib.deploy.dead_letters import add_on_failure_destinations, add_rule_dead_letters
from chalicelib.deploy.parameters import settings_as_parameters

# Handlers that return a partial batch response (see chalicelib/recheck.py, notify/outbox.py).
PARTIAL_BATCH_FUNCTIONS = frozenset({"on_sweep_shard", "on_recheck", "on_outbox"})
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
PSEUDO_PARAMETERS = frozenset({"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName"})
_SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")


def report_batch_item_failures(template: dict[str, Any]) -> list[str]:
    """Turn partial batch responses on for those functions' SQS triggers; names changed."""
    changed = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        name = str(props.get("Handler", "")).removeprefix("app.")
        if name not in PARTIAL_BATCH_FUNCTIONS:
            continue
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                event["Properties"]["FunctionResponseTypes"] = [REPORT_BATCH_ITEM_FAILURES]
                changed.append(name)
    return sorted(changed)


# The shard worker's trigger runs at most this many at once: the same number as the
# sweep's own setting, so one parameter sets both (app.py's decorator holds the default).
SHARD_FUNCTION = "on_sweep_shard"
SHARD_CONCURRENCY_PARAMETER = "SweepConcurrency"


def shard_concurrency_follows_its_setting(template: dict[str, Any]) -> bool:
    """The shard trigger's MaximumConcurrency refers to the SweepConcurrency parameter."""
    if SHARD_CONCURRENCY_PARAMETER not in template.get("Parameters", {}):
        return False
    changed = False
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        if str(props.get("Handler", "")).removeprefix("app.") != SHARD_FUNCTION:
            continue
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                scaling = event["Properties"].setdefault("ScalingConfig", {})
                scaling["MaximumConcurrency"] = {"Ref": SHARD_CONCURRENCY_PARAMETER}
                changed = True
    return changed


# The revert function gets a fixed name, so the event functions can invoke it by name
# (SETPOINT_REVERT_FUNCTION in the merge template's Globals; a Ref to it there would make
# its own environment refer to itself) and their grant names it (calls.HandOffReverts).
REVERT_FUNCTION_NAME = "setpoint-${Stage}-on_revert"


def name_revert_function(template: dict[str, Any]) -> bool:
    """Give app.py's on_revert its fixed name; False when the template has no such function."""
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        if str(props.get("Handler", "")).removeprefix("app.") == REVERT_FUNCTION:
            props["FunctionName"] = {"Fn::Sub": REVERT_FUNCTION_NAME}
            return True
    return False


def template_resources_win(template: dict[str, Any]) -> list[str]:
    """Drop function variables that Globals sets; "function: VAR" for each one dropped."""
    shared = (
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables")
    ) or {}
    dropped = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        variables = props.get("Environment", {}).get("Variables", {})
        for key in sorted(set(variables) & set(shared)):
            del variables[key]
            dropped.append(f"{str(props.get('Handler', '')).removeprefix('app.')}: {key}")
    return dropped


def _substituted(value: Any, parameters: set[str], where: str) -> Any:
    """`value` with every string holding `${...}` as `Fn::Sub`; an unknown name is an error.
    Intrinsics already there are kept as they are, so finishing twice changes nothing."""
    if isinstance(value, dict) and any(k == "Ref" or k.startswith("Fn::") for k in value):
        return value
    if isinstance(value, dict):
        return {k: _substituted(v, parameters, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, parameters, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    for name in _SUBSTITUTION.findall(value):
        if name not in PSEUDO_PARAMETERS and name not in parameters:
            raise ValueError(
                f"{where}: ${{{name}}} is neither a pseudo parameter nor a "
                "parameter of the template"
            )
    listed = value.removeprefix("${").removesuffix("}")
    if value == f"${{{listed}}}" and listed in LIST_PARAMETERS:
        return {"Fn::Split": [",", {"Ref": listed}]}
    return {"Fn::Sub": value}


def pin_role_policies(template: dict[str, Any]) -> list[str]:
    """Turn the roles' `${...}` strings into Fn::Sub, guard optional statements with Fn::If;
    the logical ids of the roles changed."""
    parameters = set(template.get("Parameters", {})) & set(TEMPLATE_PARAMETERS)
    conditions = set(template.get("Conditions", {}))
    optional = {g.sid: g.template_condition for g in RUNTIME_GRANTS if g.template_condition}
    changed = []
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        for index, policy in enumerate(resource.get("Properties", {}).get("Policies", [])):
            document = policy.get("PolicyDocument")
            if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
                continue
            statements = []
            for statement in document["Statement"]:
                condition = (
                    optional.get(statement.get("Sid", "")) if isinstance(statement, dict) else None
                )
                if condition is not None and condition not in conditions:
                    continue  # no such parameter in this template: nothing to grant on
                sid = statement.get("Sid") if isinstance(statement, dict) else None
                pinned = _substituted(statement, parameters, f"{logical}.Policies[{index}].{sid}")
                if condition is not None:
                    pinned = {"Fn::If": [condition, pinned, {"Ref": "AWS::NoValue"}]}
                statements.append(pinned)
            if statements != document["Statement"]:
                document["Statement"] = statements
                changed.append(logical)
    return sorted(set(changed))


def finish(path: Path) -> list[str]:
    """Rewrite a packaged template (sam.json or sam.yaml) in place."""
    text = path.read_text(encoding="utf-8")
    is_json = path.suffix == ".json"
    # Chalice writes intrinsics in their long form (Fn::Sub: ...), so plain YAML reads it.
    template = json.loads(text) if is_json else yaml.safe_load(text)
    changed = report_batch_item_failures(template)
    dropped = sorted({item.split(": ", 1)[1] for item in template_resources_win(template)})
    if dropped:
        print(f"from the stack, not .chalice/config.json: {', '.join(dropped)}")
    # before pinning: the roles' policy names settings' parameters (RoleName, Accounts)
    settings = settings_as_parameters(template)
    if settings:
        print(f"stack parameters (defaults from .chalice/config.json): {', '.join(settings)}")
    shard_concurrency_follows_its_setting(template)
    name_revert_function(template)
    pinned = pin_role_policies(template)
    if pinned:
        print(f"pinned to the stack's account and region: {len(pinned)} role(s)")
    destined = add_on_failure_destinations(template)
    if destined:
        print(f"on-failure destination for: {', '.join(destined)}")
    rules = add_rule_dead_letters(template)
    if rules:
        print(f"dead-letter queue and retry policy for rule targets: {', '.join(rules)}")
    skipped = add_checkov_skips(template)
    if skipped:
        print(f"checkov skips with their reasons: {len(skipped)}")
    if is_json:
        path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(template, allow_unicode=True), encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m chalicelib.deploy.finish PACKAGED_TEMPLATE", file=sys.stderr)
        return 2
    changed = finish(Path(args[0]))
    print(f"partial batch responses on for: {', '.join(changed) or 'none (no such functions)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
