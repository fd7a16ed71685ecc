"""Setpoint's own parts × what its stack set → `Finding`. Pure.

What a re-read can judge: a function that exists, may run (reserved concurrency not 0) and
runs as one of Setpoint's roles; a role that exists; a spec bucket whose policy still keeps
other writers out, versioned, never public; a bus whose policy lets only the organization
(or the configured member accounts) put events. What a re-read cannot judge (new code, a
changed setting, a removed permission, an inline policy rewritten) is judged by who made
the call: anyone but the stack's deploy is a change "outside its deploy", one finding per
part that stays open until the next deploy touches that part again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.kinds.guard import GUARD
from chalicelib.kinds.guard.model import BusState, FunctionState, OwnRoleState, SpecBucketState
from chalicelib.kinds.guard.own import OwnParts
from chalicelib.model import (
    GLOBAL_REGION,
    Actor,
    Change,
    Finding,
    ResourceRef,
    Status,
    finding_for_ref,
)

# what these findings depart from: the stack (infra/setpoint.yaml), not a spec
STACK = "Setpoint's stack (infra/setpoint.yaml)"
PUT_EVENTS = "events:putevents"
_ORG_KEY = "aws:principalorgid"
_PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_SPEC_WRITES = ("s3:putobject", "s3:put*", "s3:*", "*")


def _finding(
    ref_id: str, name: str, account: str | None, region: str, changes: Sequence[Change]
) -> Finding:
    return Finding(
        kind=GUARD,
        id=ref_id,
        name=name,
        account=account,
        region=region,
        status=Status.DRIFTED if changes else Status.IN_SYNC,
        changes=tuple(changes),
        spec=STACK,
    )


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def function_changes(state: FunctionState, own: OwnParts) -> list[Change]:
    changes = []
    if state.reserved == 0:
        changes.append(
            Change(
                "modify",
                "reserved_concurrency",
                "not 0",
                0,
                "Setpoint's function is disabled: reserved concurrency 0, so it runs for no "
                "event and Setpoint hears of nothing it handles",
            )
        )
    if not own.owns_role(_role_name(state.role)):
        changes.append(
            Change(
                "modify",
                "role",
                "one of Setpoint's roles",
                state.role,
                f"Setpoint's function runs as {state.role}, which is not one of Setpoint's "
                "roles: it acts with someone else's permissions",
            )
        )
    return changes


def evaluate_function(state: FunctionState | None, own: OwnParts, ref: ResourceRef) -> Finding:
    if state is None:
        return finding_for_ref(
            ref,
            Status.MISSING,
            spec=STACK,
            reason="Setpoint's function no longer exists: the events it handled reach nobody",
        )
    return _finding(
        state.arn, state.name, state.account, state.region, function_changes(state, own)
    )


def evaluate_role(state: OwnRoleState | None, ref: ResourceRef) -> Finding:
    if state is None:
        return finding_for_ref(
            ref,
            Status.MISSING,
            spec=STACK,
            reason="Setpoint's role no longer exists: its functions cannot read anything",
        )
    return _finding(state.arn, state.name, state.account, ref.region, [])


def _lower_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(item).lower() for item in items if item is not None]


def _statements(policy: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    raw = (policy or {}).get("Statement") or []
    items = raw if isinstance(raw, list) else [raw]
    return [s for s in items if isinstance(s, Mapping)]


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        # `arn:aws:iam::*:root` is every account, as EventBridge writes PutPermission's "*"
        return any(
            value == "*" or (value.startswith("arn:") and value.endswith(":iam::*:root"))
            for value in _lower_list(principal.get("AWS"))
        )
    return False


def _denies_spec_writes(statement: Mapping[str, Any], bucket: str, prefix: str) -> bool:
    if statement.get("Effect") != "Deny" or not _is_everyone(statement.get("Principal")):
        return False
    if not any(a in _SPEC_WRITES for a in _lower_list(statement.get("Action"))):
        return False
    wanted = f"arn:aws:s3:::{bucket}/{prefix + '/' if prefix else ''}".lower()
    for resource in _lower_list(statement.get("Resource")):
        body = resource.split(":", 1)[-1]
        if resource.endswith("*") and wanted.split(":", 1)[-1].startswith(body.rstrip("*")):
            return True
    return False


def bucket_changes(state: SpecBucketState, own: OwnParts) -> list[Change]:
    changes = []
    statements = _statements(state.policy)
    if state.policy is None:
        changes.append(
            Change(
                "remove",
                "policy",
                "the stack's bucket policy",
                None,
                "the spec bucket has no policy: anyone in the account allowed s3:PutObject "
                "may now write specs, and so approve drift",
            )
        )
    elif not any(_denies_spec_writes(s, state.name, own.spec_prefix) for s in statements):
        changes.append(
            Change(
                "modify",
                "policy",
                "denies spec writes to all but the publisher",
                "no such statement",
                "the spec bucket's policy no longer denies spec writes to principals other "
                "than the publisher: anyone allowed s3:PutObject may approve drift",
            )
        )
    for statement in statements:
        if (
            statement.get("Effect") == "Allow"
            and _is_everyone(statement.get("Principal"))
            and not statement.get("Condition")
        ):
            actions = ", ".join(_lower_list(statement.get("Action"))) or "?"
            changes.append(
                Change(
                    "add",
                    "policy",
                    None,
                    actions,
                    f"the spec bucket's policy allows {actions} to everyone (public)",
                )
            )
    if state.versioning != "Enabled":
        changes.append(
            Change(
                "modify",
                "versioning",
                "Enabled",
                state.versioning or "never enabled",
                "the spec bucket is no longer versioned: a push cannot be compared with the "
                "specs before it, nor rolled back",
            )
        )
    block = state.public_access_block or {}
    off = [flag for flag in _PAB_FLAGS if block.get(flag) is not True]
    if off:
        changes.append(
            Change(
                "modify",
                "public_access_block",
                "all four blocks on",
                ", ".join(f"{flag} off" for flag in off),
                f"the spec bucket's public access block is off ({', '.join(off)}): its specs "
                "can be made public",
            )
        )
    return changes


def evaluate_bucket(state: SpecBucketState | None, own: OwnParts, ref: ResourceRef) -> Finding:
    if state is None:
        ref = ResourceRef(GUARD, ref.account, GLOBAL_REGION, id=ref.id, name=ref.name)
        return finding_for_ref(
            ref, Status.MISSING, spec=STACK, reason="the spec bucket no longer exists"
        )
    # one record whichever region's event or sweep read it: S3 names buckets globally
    return _finding(
        f"arn:aws:s3:::{state.name}",
        state.name,
        state.account,
        GLOBAL_REGION,
        bucket_changes(state, own),
    )


def _org_condition(statement: Mapping[str, Any]) -> list[str]:
    condition = statement.get("Condition")
    found: list[str] = []
    if not isinstance(condition, Mapping):
        return found
    for operator, body in condition.items():
        if not str(operator).startswith("StringEquals") or not isinstance(body, Mapping):
            continue
        for key, value in body.items():
            if str(key).lower() == _ORG_KEY:
                found.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return found


def _accounts_named(principal: Any) -> list[str]:
    values = _lower_list(principal.get("AWS")) if isinstance(principal, Mapping) else []
    accounts = []
    for value in values:
        if value.isdigit():
            accounts.append(value)
        elif value.startswith("arn:") and len(value.split(":")) > 4:
            accounts.append(value.split(":")[4])
    return accounts


def bus_statement_changes(statement: Mapping[str, Any], own: OwnParts) -> list[Change]:
    """One Allow statement of the bus policy: only PutEvents, only from the organization or
    the configured member accounts (a forged "AWS API Call" event would be read as real)."""
    if statement.get("Effect") != "Allow":
        return []
    sid = str(statement.get("Sid") or "(no Sid)")
    changes = []
    actions = _lower_list(statement.get("Action"))
    extra = sorted(a for a in actions if a != PUT_EVENTS)
    if extra:
        changes.append(
            Change(
                "add",
                f"policy.{sid}.Action",
                None,
                extra,
                f"the bus policy statement {sid} allows {', '.join(extra)}, not only "
                "events:PutEvents",
            )
        )
    orgs = _org_condition(statement)
    if orgs:
        others = sorted(o for o in orgs if o != own.organization_id)
        if others:
            changes.append(
                Change(
                    "add",
                    f"policy.{sid}.Condition",
                    own.organization_id,
                    others,
                    f"the bus policy statement {sid} lets organization {', '.join(others)} "
                    "put events on Setpoint's bus",
                )
            )
        return changes
    principal = statement.get("Principal")
    if _is_everyone(principal):
        changes.append(
            Change(
                "add",
                f"policy.{sid}.Principal",
                None,
                "*",
                f"the bus policy statement {sid} lets anyone put events on Setpoint's bus: "
                "forged change events would be read as real",
            )
        )
        return changes
    strangers = sorted(a for a in _accounts_named(principal) if a not in own.accounts)
    if strangers:
        changes.append(
            Change(
                "add",
                f"policy.{sid}.Principal",
                None,
                strangers,
                f"the bus policy statement {sid} lets account {', '.join(strangers)} put "
                "events on Setpoint's bus (not one of the watched accounts)",
            )
        )
    return changes


def evaluate_bus(state: BusState, own: OwnParts) -> Finding:
    changes = [c for s in _statements(state.policy) for c in bus_statement_changes(s, own)]
    return _finding(state.arn, state.name, state.account, state.region, changes)


OUTSIDE_DEPLOY = "changes outside its deploy"


def outside_deploy_name(label: str) -> str:
    return f"{label}: {OUTSIDE_DEPLOY}"


def evaluate_outside_deploy(
    ref: ResourceRef, noun: str, actor: Actor, own: OwnParts, calls: Iterable[str]
) -> Finding | None:
    """A call the re-read cannot judge (new code, settings, a removed permission, an inline
    policy): anyone but the deploy makes it drift; the deploy's own call ends it. None for
    calls the re-read judges by itself."""
    if actor.event_name not in calls:
        return None
    name = outside_deploy_name(ref.name or ref.label())
    follow = ResourceRef(GUARD, ref.account, ref.region, name=name)
    if own.deployed(actor):
        return finding_for_ref(follow, Status.IN_SYNC, spec=STACK)
    who = actor.arn or "an unknown principal"
    change = Change(
        "modify",
        "deploy",
        "changed only by its stack's deploy",
        actor.event_name,
        f"{noun} was changed by {who} ({actor.event_name}), not by its stack's deploy: "
        "check what changed, then redeploy the stack to end this alert",
    )
    return Finding(
        kind=GUARD,
        id=None,
        name=name,
        account=ref.account,
        region=ref.region,
        status=Status.DRIFTED,
        changes=(change,),
        spec=STACK,
    )
