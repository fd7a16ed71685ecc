"""What to do about an IAM change: the `aws iam` command that reverts it, and the spec edit
that accepts it. Pure: the commands are text. IAM is global, so they carry no --region.

A document (trust policy, inline policy, a managed policy's default version) is written
whole by IAM, so its revert puts the spec's entire document back, not one statement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.compare.policy_document import PolicyDocument, document_json
from chalicelib.kinds.iam import IAM_GROUP, IAM_ROLE
from chalicelib.kinds.iam.model import (
    IamIdentitySpec,
    IamIdentityState,
    IamPolicySpec,
    IamPolicyState,
    IamSpec,
    IamState,
    is_admin_policy,
    partition_of,
)
from chalicelib.model import Change
from chalicelib.next_steps import IMPORT_HINT, aws_command, yaml_flow

Advice = tuple[str | None, str | None]


def _iam(operation: str, *args: tuple[str, Any]) -> str:
    return aws_command("iam", operation, *args, region=None)


def _noun(live: IamIdentityState) -> str:
    """`role`, `user` or `group`: the word IAM's operations and options use."""
    return live.kind.value.removeprefix("iam_")


def _who(live: IamIdentityState) -> tuple[str, str]:
    return f"{_noun(live)}-name", live.name


def _policy_arn(value: str, live: IamIdentityState) -> str:
    """A spec's bare policy name as the ARN it most likely has (path `/`)."""
    if value.startswith("arn:"):
        return value
    return f"arn:{partition_of(live.arn)}:iam::{live.account}:policy/{value}"


def _statement_accept(change: Change, field: str) -> str:
    verb = "add to" if change.op == "add" else "remove from"
    value = change.actual if change.op == "add" else change.expected
    if change.path.endswith(".Version"):
        return f"set {change.path}: {yaml_flow(change.actual)}"
    return f"{verb} {field}.Statement: {yaml_flow(value)}"


def _document(document: PolicyDocument) -> dict[str, Any]:
    return document_json(document)


def _identity_advice(change: Change, spec: IamIdentitySpec, live: IamIdentityState) -> Advice:
    noun = _noun(live)
    who = _who(live)
    top, _, rest = change.path.partition(".")
    if top == "managed_policies":
        if change.op == "add":
            arn = str(change.actual)
            return (
                _iam(f"detach-{noun}-policy", who, ("policy-arn", arn)),
                f"add to managed_policies: {yaml_flow(arn)}",
            )
        value = str(change.expected)
        return (
            _iam(f"attach-{noun}-policy", who, ("policy-arn", _policy_arn(value, live))),
            f"remove from managed_policies: {yaml_flow(value)}",
        )
    if top == "inline_policies":
        name = rest.split(".", 1)[0]
        want = spec.inline_policies.get(name)
        if want is None:
            revert = _iam(f"delete-{noun}-policy", who, ("policy-name", name))
        else:
            revert = _iam(
                f"put-{noun}-policy",
                who,
                ("policy-name", name),
                ("policy-document", _document(want)),
            )
        return revert, _statement_accept(change, f"inline_policies.{name}")
    if top == "trust_policy" and live.kind is IAM_ROLE:
        trust = spec.trust_policy
        update = None
        if trust is not None:
            update = _iam(
                "update-assume-role-policy",
                ("role-name", live.name),
                ("policy-document", _document(trust)),
            )
        return update, _statement_accept(change, "trust_policy")
    if top == "permissions_boundary":
        if change.actual is not None and change.expected is None:
            return (
                _iam(f"delete-{noun}-permissions-boundary", who),
                f"set permissions_boundary: {yaml_flow(change.actual)}",
            )
        boundary = _policy_arn(str(change.expected), live)
        accept = (
            f"set permissions_boundary: {yaml_flow(change.actual)}"
            if change.actual is not None
            else "remove permissions_boundary"
        )
        revert = _iam(f"put-{noun}-permissions-boundary", who, ("permissions-boundary", boundary))
        return revert, accept
    if top == "groups":
        if change.op == "add":
            group = str(change.actual)
            return (
                _iam("remove-user-from-group", ("group-name", group), ("user-name", live.name)),
                f"add to groups: {yaml_flow(group)}",
            )
        group = str(change.expected)
        return (
            _iam("add-user-to-group", ("group-name", group), ("user-name", live.name)),
            f"remove from groups: {yaml_flow(group)}",
        )
    if top == "path":
        accept = f"set path: {yaml_flow(change.actual)}"
        if live.kind is IAM_ROLE:
            return "IAM cannot change a role's path: create it again under the spec's path", accept
        return _iam(f"update-{noun}", who, ("new-path", str(change.expected))), accept
    if top == "tags" and live.kind is not IAM_GROUP:
        return _tag_advice(change, f"{noun}", who)
    return None, None


def _tag_advice(change: Change, noun: str, who: tuple[str, str]) -> Advice:
    key = change.path.removeprefix("tags.")
    if change.op == "add":
        return (
            _iam(f"untag-{noun}", who, ("tag-keys", [key])),
            f"add to tags: {yaml_flow({key: change.actual})}",
        )
    revert = _iam(f"tag-{noun}", who, ("tags", [{"Key": key, "Value": change.expected}]))
    if change.op == "remove":
        return revert, f"remove the tag {key} from tags"
    return revert, f"set in tags: {yaml_flow({key: change.actual})}"


def _policy_advice(change: Change, spec: IamPolicySpec, live: IamPolicyState) -> Advice:
    if change.path.startswith("document"):
        revert = _iam(
            "create-policy-version",
            ("policy-arn", live.arn),
            ("policy-document", _document(spec.document)),
            ("set-as-default", []),
        )
        return revert, _statement_accept(change, "document")
    if change.path in ("path", "description"):
        return (
            f"IAM cannot change a managed policy's {change.path}: create the policy again "
            f"with the spec's {change.path}",
            f"set {change.path}: {yaml_flow(change.actual)}",
        )
    return None, None


def drift_next_steps(spec: IamSpec, live: IamState) -> Callable[[Change], Advice]:
    """(revert, accept) for each change of an IAM resource that has a spec."""

    def advise(change: Change) -> Advice:
        if isinstance(spec, IamPolicySpec) and isinstance(live, IamPolicyState):
            return _policy_advice(change, spec, live)
        if isinstance(spec, IamIdentitySpec) and isinstance(live, IamIdentityState):
            return _identity_advice(change, spec, live)
        return None, None

    return advise


def unmanaged_next_steps(live: IamState) -> Callable[[Change], Advice]:
    """An IAM resource no spec names: detach an administrator policy, or write a spec."""

    def advise(change: Change) -> Advice:
        if not isinstance(live, IamIdentityState) or change.path != "managed_policies":
            return None, None
        if change.op != "add" or not is_admin_policy(str(change.actual)):
            return None, None
        revert = _iam(
            f"detach-{_noun(live)}-policy", _who(live), ("policy-arn", str(change.actual))
        )
        return revert, IMPORT_HINT.format(id=live.arn)

    return advise
