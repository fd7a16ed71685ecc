"""A kind's revert table as data: which change each row undoes, with which call, on what.

Each family that can undo drift lists `Undo` rows in its folder (`kinds/<family>/revert.py`).
A row names the change it undoes (`op` and a glob on the change's `path`), the API call
and its IAM action, and the ARN pattern of what the call writes: the revert role's policy
is generated from these rows (`deploy/policy.py`), so the role can do nothing a table does
not list. `plan` is pure: the change, the finding and the spec in, the call's parameters
(or why it cannot be undone) out. No row deletes a resource (a test reads every table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from chalicelib.model import Change, ChangeOp, Finding, Kind

# (words for the alert, the call's parameters), or the reason it cannot be undone
Plan = tuple[str, Mapping[str, Any]] | str


@dataclass(frozen=True)
class Lookup:
    """A read the executor makes first, for a parameter only the live resource knows
    (a listener's ARN, from its port): `operation(**params)[list_key]`, the item whose
    fields equal `match`, its `take` field into the call's `into` parameter."""

    operation: str
    params: Mapping[str, Any]
    list_key: str
    match: Mapping[str, Any]
    take: str
    into: str


@dataclass(frozen=True)
class Undo:
    """One row: the change it undoes, the call that undoes it, what that call writes."""

    kinds: tuple[Kind, ...]
    op: ChangeOp
    path: str  # glob on Change.path: "ingress", "public_access_block*"
    service: str  # botocore service: "ec2"
    operation: str  # botocore operation: "RevokeSecurityGroupIngress"
    permission: str  # IAM action: "ec2:RevokeSecurityGroupIngress"
    # what the call writes, as an ARN pattern in the stack's own account (the revert
    # role's Resource): "arn:${AWS::Partition}:ec2:...:security-group/*"
    resource: str
    plan: Callable[[Change, Finding, Any], Plan] = field(compare=False)
    # a read first, for a parameter the spec and the finding do not hold
    lookup: Callable[[Change, Finding], Lookup | None] | None = field(default=None, compare=False)
    # the ARNs one spec's resource has under `resource`, to narrow the revert role to the
    # specs that opt in (`make policy REVERT_SPECS=DIR`); () when a spec cannot say (a
    # group named by name only keeps the row's pattern)
    scope: Callable[[Any], tuple[str, ...]] = field(default=lambda spec: (), compare=False)

    def undoes(self, finding: Finding, change: Change) -> bool:
        if finding.kind not in self.kinds or change.op != self.op:
            return False
        return fnmatchcase(change.path, self.path)

    @property
    def call(self) -> str:
        return self.permission


@dataclass(frozen=True)
class Step:
    """One change of a finding, and how it would be undone (or why it cannot be)."""

    change: Change
    undo: Undo
    action: str  # in words: "revoke ingress tcp/22 from 0.0.0.0/0"
    params: Mapping[str, Any] | None  # None: it cannot be undone (`error` says why)
    error: str | None = None
    lookup: Lookup | None = None

    @property
    def key(self) -> str:
        """Steps with equal keys are one call (four flags of one public access block)."""
        import json

        return json.dumps([self.undo.operation, self.params], sort_keys=True, default=str)


def plan_steps(finding: Finding, spec: Any, table: tuple[Undo, ...]) -> list[Step]:
    """Every change of `finding` some row of `table` undoes, planned; other changes stay
    drift for a person to handle."""
    steps: list[Step] = []
    for change in finding.changes:
        undo = next((row for row in table if row.undoes(finding, change)), None)
        if undo is None:
            continue
        planned = undo.plan(change, finding, spec)
        if isinstance(planned, str):
            steps.append(Step(change, undo, change.summary, None, f"not_revertible: {planned}"))
            continue
        action, params = planned
        lookup = undo.lookup(change, finding) if undo.lookup is not None else None
        steps.append(Step(change, undo, action, dict(params), lookup=lookup))
    return steps
