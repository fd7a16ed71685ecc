"""IAM spec documents -> `IamPolicySpec` / `IamIdentitySpec`, plus matching and conflicts.

The schema checks shapes; the builders check meaning: every policy document must parse
(`parse_policy` names the statement and element that is wrong), managed-policy ARNs must
be policy ARNs, and nothing is listed twice. Kept apart from `parse.py` (which registers
these builders in `KINDS`) so it imports nothing from there.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib.compare.policy_document import PolicyDocument, PolicyError, parse_policy
from chalicelib.errors import SpecError
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.model import (
    IamIdentitySpec,
    IamPolicySpec,
    IamPolicyState,
    IamSpec,
    IamState,
    parse_arn,
)
from chalicelib.model import Kind
from chalicelib.specs.yamldoc import FieldPath, SpecDocument

Issue = tuple[FieldPath, SpecError]
SkipPath = Callable[[FieldPath], bool]


def _plain_document(value: Any) -> Any:
    """YAML 1.1 reads an unquoted `Version: 2012-10-17` as a date; IAM means the text."""
    if isinstance(value, Mapping) and isinstance(value.get("Version"), datetime.date):
        return {**value, "Version": value["Version"].isoformat()}
    return value


def _document(
    doc: SpecDocument, path: FieldPath, skip: SkipPath, issues: list[Issue]
) -> PolicyDocument | None:
    value: Any = doc.data
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None or skip(path):
        return None
    try:
        return parse_policy(_plain_document(value))
    except PolicyError as exc:
        issues.append((path, doc.error(path, f"not a valid policy document: {exc}")))
        return None


def _policy_ref(
    doc: SpecDocument, value: object, path: FieldPath, issues: list[Issue]
) -> str | None:
    if not isinstance(value, str):
        return None
    if value.startswith("arn:"):
        parsed = parse_arn(value)
        if parsed is None or parsed.type != "policy":
            issues.append((path, doc.error(path, f"{value!r} is not an IAM policy ARN")))
            return None
    return value


def _managed(doc: SpecDocument, skip: SkipPath, issues: list[Issue]) -> frozenset[str]:
    items = doc.data.get("managed_policies")
    if not isinstance(items, list) or skip(("managed_policies",)):
        return frozenset()
    seen: dict[str, int] = {}
    for index, value in enumerate(items):
        path: FieldPath = ("managed_policies", index)
        if skip(path):
            continue
        ref = _policy_ref(doc, value, path, issues)
        if ref is None:
            continue
        if ref in seen:
            first = ("managed_policies", seen[ref])
            issues.append(
                (path, doc.error(path, f"listed twice (also on line {doc.line_of(first)})"))
            )
            continue
        seen[ref] = index
    return frozenset(seen)


def _groups(doc: SpecDocument, skip: SkipPath, issues: list[Issue]) -> frozenset[str]:
    """A user's groups, by name; listing one twice is an error, as for policies."""
    items = doc.data.get("groups")
    if not isinstance(items, list) or skip(("groups",)):
        return frozenset()
    seen: dict[str, int] = {}
    for index, value in enumerate(items):
        path: FieldPath = ("groups", index)
        if skip(path) or not isinstance(value, str):
            continue
        if value in seen:
            first = ("groups", seen[value])
            issues.append(
                (path, doc.error(path, f"listed twice (also on line {doc.line_of(first)})"))
            )
            continue
        seen[value] = index
    return frozenset(seen)


def _inline(doc: SpecDocument, skip: SkipPath, issues: list[Issue]) -> dict[str, PolicyDocument]:
    items = doc.data.get("inline_policies")
    if not isinstance(items, Mapping):
        return {}
    out: dict[str, PolicyDocument] = {}
    for name in items:
        document = _document(doc, ("inline_policies", name), skip, issues)
        if document is not None:
            out[str(name)] = document
    return out


def _tags(doc: SpecDocument, skip: SkipPath, issues: list[Issue]) -> dict[str, str] | None:
    tags = doc.data.get("tags")
    if not isinstance(tags, Mapping):
        return None
    for key in tags:
        if str(key).lower().startswith("aws:") and not skip(("tags", key)):
            path: FieldPath = ("tags", key)
            issues.append(
                (
                    path,
                    doc.error(
                        path,
                        "tags starting with aws: belong to AWS and are always ignored; remove it",
                    ),
                )
            )
    return {str(k): str(v) for k, v in tags.items()}


def build_iam_policy(doc: SpecDocument, skip: SkipPath) -> tuple[IamPolicySpec | None, list[Issue]]:
    """An IamPolicySpec from a schema-checked document, or the semantic issues."""
    data = doc.data
    issues: list[Issue] = []
    document = _document(doc, ("document",), skip, issues)
    name = data.get("name")
    # a missing or mistyped name is the schema's error to report; nothing to build
    if issues or document is None or not isinstance(name, str):
        return None, issues
    return (
        IamPolicySpec(
            source=doc.location(),
            name=name,
            account=data.get("account"),
            document=document,
            path=data.get("path"),
            description=data.get("description"),
        ),
        [],
    )


def _identity_builder(
    kind: Kind,
) -> Callable[[SpecDocument, SkipPath], tuple[IamIdentitySpec | None, list[Issue]]]:
    def build(doc: SpecDocument, skip: SkipPath) -> tuple[IamIdentitySpec | None, list[Issue]]:
        data = doc.data
        issues: list[Issue] = []
        trust = _document(doc, ("trust_policy",), skip, issues) if kind is IAM_ROLE else None
        inline = _inline(doc, skip, issues)
        managed = _managed(doc, skip, issues)
        boundary = None
        if "permissions_boundary" in data and not skip(("permissions_boundary",)):
            boundary = _policy_ref(
                doc, data["permissions_boundary"], ("permissions_boundary",), issues
            )
        tags = _tags(doc, skip, issues)
        groups = _groups(doc, skip, issues) if kind is IAM_USER else frozenset()
        name = data.get("name")
        # a missing or mistyped name is the schema's error to report; nothing to build
        if issues or (kind is IAM_ROLE and trust is None) or not isinstance(name, str):
            return None, issues
        spec = IamIdentitySpec(
            kind=kind,
            source=doc.location(),
            name=name,
            account=data.get("account"),
            inline_policies=inline,
            managed_policies=managed,
            permissions_boundary=boundary,
            trust_policy=trust,
            path=data.get("path"),
            tags=tags,
            groups=groups,
        )
        return spec, []

    build.__name__ = f"build_{kind.value}"
    build.__doc__ = f"An IamIdentitySpec ({kind.value}) from a schema-checked document."
    return build


build_iam_role = _identity_builder(IAM_ROLE)
build_iam_user = _identity_builder(IAM_USER)
build_iam_group = _identity_builder(IAM_GROUP)


# ------------------------------------------------------------------- catalog helpers


def _overlap(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def iam_conflicts(specs: Sequence[IamSpec]) -> list[SpecError]:
    """Specs of one kind that could claim the same resource (same name, overlapping account)."""
    errors: list[SpecError] = []
    seen: list[IamSpec] = []
    for spec in specs:
        for first in seen:
            if first.name == spec.name and _overlap(first.account, spec.account):
                errors.append(
                    SpecError(
                        f"{spec.name!r} is also specified in {first.source} and their accounts "
                        "overlap (an omitted account matches any); give them different "
                        "accounts or merge them",
                        spec.source.file,
                        spec.source.line,
                        "name",
                    )
                )
                break
        seen.append(spec)
    return errors


def in_account(spec: IamSpec, account: str | None) -> bool:
    return spec.account is None or account is None or spec.account == account


def match_iam(specs: Sequence[IamSpec], state: IamState) -> IamSpec | None:
    """The spec governing a live IAM resource: same name, account in scope.

    Raises SpecError when several specs claim it (only possible for a catalog built
    without the conflict check).
    """
    kind = IAM_POLICY if isinstance(state, IamPolicyState) else state.kind
    matches = [
        spec
        for spec in specs
        if spec.name == state.name
        and in_account(spec, state.account)
        and (isinstance(spec, IamPolicySpec) == (kind is IAM_POLICY))
        and (not isinstance(spec, IamIdentitySpec) or spec.kind is kind)
    ]
    if len(matches) > 1:
        others = ", ".join(str(s.source) for s in matches[1:])
        raise SpecError(
            f"{state.arn} is matched by several specs; also by {others}",
            matches[0].source.file,
            matches[0].source.line,
        )
    return matches[0] if matches else None
