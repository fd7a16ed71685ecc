"""What Setpoint may undo on IAM: put back the spec's policy documents, detach what the
spec does not attach.

A customer-managed policy gets the spec's document as a new default version; a role's
trust policy and an identity's inline policies are put back as the spec writes them; a
managed policy the spec does not list is detached (the policy itself is untouched). An
inline policy the spec does not have is left alone: removing it would delete it. Pure:
the spec in, the call's parameters out.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.compare.policy_document import PolicyDocument, document_json
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.model import normal_path
from chalicelib.model import Change, ChangeOp, Finding, Kind
from chalicelib.revert.table import Plan, Undo

_IAM = "arn:${AWS::Partition}:iam::${AWS::AccountId}:"
_OPS: tuple[ChangeOp, ...] = ("add", "remove", "modify")
# kind -> (the API's word for it, its name parameter, its ARN type)
_IDENTITIES: dict[Kind, tuple[str, str, str]] = {
    IAM_ROLE: ("Role", "RoleName", "role"),
    IAM_USER: ("User", "UserName", "user"),
    IAM_GROUP: ("Group", "GroupName", "group"),
}


def _text(document: PolicyDocument) -> str:
    return json.dumps(document_json(document), separators=(",", ":"))


def _policy_document(change: Change, finding: Finding, spec: Any) -> Plan:
    if spec is None or not finding.id:
        return "the policy's spec is not known"
    params = {"PolicyArn": finding.id, "PolicyDocument": _text(spec.document), "SetAsDefault": True}
    return "put back the spec's policy document (as a new default version)", params


def _trust_policy(change: Change, finding: Finding, spec: Any) -> Plan:
    if spec is None or spec.trust_policy is None or not finding.name:
        return "the spec writes no trust policy"
    params = {"RoleName": finding.name, "PolicyDocument": _text(spec.trust_policy)}
    return "put back the spec's trust policy", params


def _inline_policy(change: Change, finding: Finding, spec: Any) -> Plan:
    name = change.path.split(".", 1)[1] if "." in change.path else ""
    if spec is None or not finding.name:
        return "the spec is not known"
    document = spec.inline_policies.get(name)
    if document is None:
        return f"inline policy {name} is not in the spec; removing it would delete it"
    _, name_key, _ = _IDENTITIES[finding.kind]
    params = {name_key: finding.name, "PolicyName": name, "PolicyDocument": _text(document)}
    return f"put back inline policy {name} as the spec writes it", params


def _detach(change: Change, finding: Finding, spec: Any) -> Plan:
    if not isinstance(change.actual, str) or not change.actual.startswith("arn:"):
        return "the attached policy's ARN is not known"
    if not finding.name:
        return "the identity's name is not known"
    _, name_key, _ = _IDENTITIES[finding.kind]
    return f"detach {change.actual}", {name_key: finding.name, "PolicyArn": change.actual}


def _named(arn_type: str) -> Any:
    """The spec's ARN under its path, or under any path when the spec names none."""

    def scope(spec: Any) -> tuple[str, ...]:
        if spec.path:
            return (f"{_IAM}{arn_type}{normal_path(spec.path)}{spec.name}",)
        return (f"{_IAM}{arn_type}/{spec.name}", f"{_IAM}{arn_type}/*/{spec.name}")

    return scope


def _rows() -> tuple[Undo, ...]:
    rows = [
        Undo(
            (IAM_POLICY,),
            op,
            "document*",
            "iam",
            "CreatePolicyVersion",
            "iam:CreatePolicyVersion",
            _IAM + "policy/*",
            _policy_document,
            scope=_named("policy"),
        )
        for op in _OPS
    ]
    rows += [
        Undo(
            (IAM_ROLE,),
            op,
            "trust_policy*",
            "iam",
            "UpdateAssumeRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            _IAM + "role/*",
            _trust_policy,
            scope=_named("role"),
        )
        for op in _OPS
    ]
    for kind, (word, _, arn_type) in _IDENTITIES.items():
        rows += [
            Undo(
                (kind,),
                op,
                "inline_policies.*",
                "iam",
                f"Put{word}Policy",
                f"iam:Put{word}Policy",
                f"{_IAM}{arn_type}/*",
                _inline_policy,
                scope=_named(arn_type),
            )
            for op in _OPS
        ]
        rows.append(
            Undo(
                (kind,),
                "add",
                "managed_policies",
                "iam",
                f"Detach{word}Policy",
                f"iam:Detach{word}Policy",
                f"{_IAM}{arn_type}/*",
                _detach,
                scope=_named(arn_type),
            )
        )
    return tuple(rows)


REVERTS: tuple[Undo, ...] = _rows()
