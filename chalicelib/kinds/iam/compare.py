"""Spec × live → Finding for IAM policies, roles, users and groups. Pure: no I/O, no clock.

Documents (policy, trust policy, inline policies) go through `diff_policies`, so only a
change in meaning is drift and each changed statement reads as a sentence. Attachments
and boundaries are ARNs; a spec may name a customer-managed policy by its bare name,
which is resolved against what is attached live (names are unique in an account).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import replace

from chalicelib.compare.policy_document import PolicyDocument, change_policy_flags, diff_policies
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.model import (
    IamIdentitySpec,
    IamIdentityState,
    IamPolicySpec,
    IamPolicyState,
    IamSpec,
    IamState,
    is_admin_policy,
    parse_arn,
    partition_of,
    policy_label,
    spec_arn,
    spec_kind,
)
from chalicelib.kinds.iam.next_steps import drift_next_steps, unmanaged_next_steps
from chalicelib.kinds.security_group.compare import tag_changes
from chalicelib.model import (
    GLOBAL_REGION,
    Change,
    Finding,
    Kind,
    ResourceRef,
    Status,
    at_spec_fields,
    tag_pairs,
    with_next_steps,
)

_OP_ORDER = {"add": 0, "remove": 1, "modify": 2}
_WHY = {"add": "not in spec", "remove": "in spec, missing"}


def _sorted(changes: Iterable[Change]) -> tuple[Change, ...]:
    return tuple(sorted(changes, key=lambda c: (c.path, _OP_ORDER[c.op], c.summary)))


def _prefixed(changes: Iterable[Change], prefix: str) -> list[Change]:
    return [dataclasses.replace(c, summary=f"{prefix}{c.summary}") for c in changes]


# ------------------------------------------------------------------ managed policies


def resolve_policy_ref(value: str, live: Iterable[str]) -> str:
    """A spec's managed-policy entry as the live ARN it means.

    ARNs stand for themselves. A bare name means the customer-managed policy of that
    name, whatever its path; when none is attached it stays a name (and shows as missing).
    """
    if value.startswith("arn:"):
        return value
    for arn in live:
        parsed = parse_arn(arn)
        if parsed is not None and not parsed.aws_managed and parsed.name == value:
            return arn
    return value


def _attach_words(arn: str) -> tuple[str, bool]:
    """`AdministratorAccess (AWS managed, admin)` and whether it grants admin."""
    parsed = parse_arn(arn)
    if parsed is None:
        return arn, False
    admin = is_admin_policy(arn)
    label = policy_label(arn)
    if admin:
        label = label.replace("(AWS managed)", "(AWS managed, admin)")
    return label, admin


def managed_policy_changes(
    expected: frozenset[str], actual: frozenset[str], path: str = "managed_policies"
) -> list[Change]:
    """Attachments present on one side only, with a hint when a bare name meant AWS's."""
    want = {resolve_policy_ref(value, actual) for value in expected}
    changes: list[Change] = []
    for arn in sorted(actual - want):
        label, _ = _attach_words(arn)
        changes.append(Change("add", path, None, arn, f"attaches {label} — {_WHY['add']}"))
    for value in sorted(want - actual):
        label, _ = _attach_words(value)
        summary = f"attaches {label} — {_WHY['remove']}"
        if not value.startswith("arn:"):
            aws = [a for a in actual if (p := parse_arn(a)) and p.aws_managed and p.name == value]
            if aws:
                summary += f" (AWS managed policies are written as ARNs: {aws[0]})"
        changes.append(Change("remove", path, value, None, summary))
    return changes


def group_changes(
    expected: frozenset[str], actual: frozenset[str], admin_groups: frozenset[str] = frozenset()
) -> list[Change]:
    """A user's group memberships: one change per group joined or left, by name.

    `admin_groups` (groups that attach AdministratorAccess, as read live) makes a join
    say that it grants admin.
    """
    path = "groups"
    changes: list[Change] = []
    for name in sorted(actual - expected):
        admin = " (attaches AdministratorAccess: admin)" if name in admin_groups else ""
        changes.append(Change("add", path, None, name, f"joins group {name}{admin} — not in spec"))
    for name in sorted(expected - actual):
        changes.append(
            Change("remove", path, name, None, f"member of group {name} — in spec, missing")
        )
    return changes


def boundary_changes(expected: str | None, actual: str | None) -> list[Change]:
    """The permissions boundary: omitted in the spec means there must be none."""
    path = "permissions_boundary"
    want = resolve_policy_ref(expected, [actual] if actual else []) if expected else None
    if want == actual:
        return []
    if want is None:
        label = policy_label(actual or "")
        return [Change("add", path, None, actual, f"permissions boundary {label} — not in spec")]
    if actual is None:
        return [
            Change(
                "remove",
                path,
                want,
                None,
                f"permissions boundary {policy_label(want)} — in spec, missing "
                "(permissions are no longer capped)",
            )
        ]
    return [
        Change(
            "modify",
            path,
            want,
            actual,
            f"permissions boundary is {policy_label(actual)}, spec says {policy_label(want)}",
        )
    ]


# --------------------------------------------------------------------------- documents


def _document_changes(
    expected: PolicyDocument | None,
    actual: PolicyDocument | None,
    *,
    path: str,
    own_account: str,
    prefix: str = "",
) -> list[Change]:
    changes = diff_policies(expected, actual, path=path, own_account=own_account)
    return _prefixed(changes, prefix) if prefix else list(changes)


def inline_policy_changes(
    expected: Mapping[str, PolicyDocument],
    actual: Mapping[str, PolicyDocument],
    own_account: str,
) -> list[Change]:
    """Inline policies by name; a whole policy added or removed lists its statements."""
    changes: list[Change] = []
    for name in sorted(set(expected) | set(actual)):
        want, have = expected.get(name), actual.get(name)
        if want is not None and have is not None:
            prefix = f"inline policy {name}: "
        elif have is not None:
            prefix = f"inline policy {name} (not in spec): "
        else:
            prefix = f"inline policy {name} (in spec, missing): "
        changes += _document_changes(
            want, have, path=f"inline_policies.{name}", own_account=own_account, prefix=prefix
        )
    return changes


def _scalar_change(path: str, expected: str | None, actual: str) -> list[Change]:
    if expected is None or expected == actual:
        return []
    return [
        Change("modify", path, expected, actual, f"{path} is {actual!r}, spec says {expected!r}")
    ]


# ----------------------------------------------------------------------------- compare


def compare_iam_policy(spec: IamPolicySpec, live: IamPolicyState) -> tuple[Change, ...]:
    changes = _document_changes(
        spec.document, live.document, path="document", own_account=live.account
    )
    changes += _scalar_change("path", spec.path, live.path)
    changes += _scalar_change("description", spec.description, live.description)
    return _sorted(changes)


def _identity_changes(
    live: IamIdentityState,
    *,
    trust_policy: PolicyDocument | None,
    inline_policies: Mapping[str, PolicyDocument],
    managed_policies: frozenset[str],
    permissions_boundary: str | None,
    groups: frozenset[str] = frozenset(),
) -> list[Change]:
    changes: list[Change] = []
    if live.kind is IAM_ROLE:
        changes += _document_changes(
            trust_policy, live.trust_policy, path="trust_policy", own_account=live.account
        )
    changes += inline_policy_changes(inline_policies, live.inline_policies, live.account)
    changes += managed_policy_changes(managed_policies, live.managed_policies)
    if live.kind is not IAM_GROUP:
        changes += boundary_changes(permissions_boundary, live.permissions_boundary)
    if live.kind is IAM_USER:
        changes += group_changes(groups, live.groups, live.admin_groups)
    return changes


def compare_iam_identity(spec: IamIdentitySpec, live: IamIdentityState) -> tuple[Change, ...]:
    changes = _identity_changes(
        live,
        trust_policy=spec.trust_policy,
        inline_policies=spec.inline_policies,
        managed_policies=spec.managed_policies,
        permissions_boundary=spec.permissions_boundary,
        groups=spec.groups,
    )
    changes += _scalar_change("path", spec.path, live.path)
    if spec.tags is not None:
        changes += tag_changes(spec.tags, live.tags)
    return _sorted(changes)


def _unmanaged_changes(live: IamState) -> tuple[Change, ...]:
    """Everything the resource grants, so an unmanaged admin role is not a quiet line."""
    if isinstance(live, IamPolicyState):
        return _sorted(
            _document_changes(None, live.document, path="document", own_account=live.account)
        )
    return _sorted(
        _identity_changes(
            live,
            trust_policy=None,
            inline_policies={},
            managed_policies=frozenset(),
            permissions_boundary=None,
        )
    )


def evaluate_iam(
    spec: IamSpec | None,
    live: IamState | None,
    *,
    ref: ResourceRef | None = None,
) -> Finding:
    """The finding for one IAM resource: drifted, in sync, unmanaged or missing."""
    if live is not None:
        kind = IAM_POLICY if isinstance(live, IamPolicyState) else live.kind
        if spec is None:
            return _finding(
                kind,
                live,
                Status.UNMANAGED,
                with_next_steps(_unmanaged_changes(live), unmanaged_next_steps(live)),
                None,
                f"no spec names this {kind_words(kind)}",
            )
        if isinstance(spec, IamPolicySpec) and isinstance(live, IamPolicyState):
            found = compare_iam_policy(spec, live)
        elif isinstance(spec, IamIdentitySpec) and isinstance(live, IamIdentityState):
            found = compare_iam_identity(spec, live)
        else:
            raise ValueError("evaluate_iam needs a spec and a live resource of the same kind")
        found = at_spec_fields(found, spec.source)
        found = with_next_steps(found, drift_next_steps(spec, live))
        status = Status.DRIFTED if found else Status.IN_SYNC
        return _finding(kind, live, status, found, str(spec.source), None)
    if spec is None:
        raise ValueError("evaluate_iam needs a spec, a live resource, or both")
    kind = spec_kind(spec)
    account = spec.account or (ref.account if ref else None)
    # The id comes from the spec (its path), never from the ref: an event names a role by
    # name and guesses path "/", the sweep knows only the spec; both must agree.
    arn = spec_arn(spec, account, partition_of(ref.id if ref else None)) if account else None
    return Finding(
        kind=kind,
        id=arn or (ref.id if ref else None),
        name=spec.name,
        account=account,
        region=GLOBAL_REGION,
        status=Status.MISSING,
        spec=str(spec.source),
        reason=f"the spec names an IAM {kind_words(kind)} that does not exist",
    )


def change_flags(change: Change, own_account: str | None = None) -> frozenset[str]:
    """What a renderer should mark on one IAM change: "admin", "near_admin", "public",
    "cross_account" (the words the summary already carries, as data).

    An attached (or detached) AdministratorAccess is "admin"; statement changes are read
    back from their JSON (`own_account`, the finding's account, enables cross_account).
    `Change` itself has only `world_open`, which is set for "public" alone.
    """
    if change.path == "managed_policies":
        arn = change.actual if change.actual is not None else change.expected
        return (
            frozenset({"admin"}) if isinstance(arn, str) and is_admin_policy(arn) else frozenset()
        )
    return change_policy_flags(change, own_account)


def kind_words(kind: Kind) -> str:
    return kind.value.removeprefix("iam_")


def _finding(
    kind: Kind,
    live: IamState,
    status: Status,
    changes: tuple[Change, ...],
    spec: str | None,
    reason: str | None,
) -> Finding:
    flagged = tuple(
        replace(c, flags=tuple(sorted(change_flags(c, live.account) & {"admin"})))
        if c.op != "remove"
        else c
        for c in changes
    )
    return Finding(
        kind=kind,
        id=live.arn,
        name=live.name,
        account=live.account,
        region=GLOBAL_REGION,
        status=status,
        changes=flagged,
        spec=spec,
        reason=reason,
        tags=tag_pairs(live.tags),
    )
