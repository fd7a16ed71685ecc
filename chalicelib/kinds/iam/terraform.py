"""Terraform's IAM resources -> `iam_policy`, `iam_role`, `iam_user`, `iam_group` specs.

A role, user or group is declared in parts: its own resource (whose `inline_policy` blocks
and `managed_policy_arns` a refresh fills in), separate inline-policy and attachment
resources, group memberships and the `*_exclusive` resources, possibly in several states.
The spec holds the principal to all of them together: a policy attached by hand to a
Terraform-managed role is drift, even though `terraform plan` would not show it.

A part whose role, user or group no state declares is left out: without the principal's
own resource (a role's trust policy) Setpoint cannot know all of it, and a spec that knew
only some of its policies would call the rest drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.sources.declared import Declared
from chalicelib.sources.terraform.attributes import account_of, refuse_sensitive, strings, tags_of
from chalicelib.sources.terraform.model import TfInstance


@dataclass(frozen=True)
class Shape:
    """The resource types that declare one kind of principal, and how parts name it."""

    kind: str  # the spec kind: "iam_role"
    resource: str  # "aws_iam_role"
    ref: str  # the attribute a part names it by: "role"
    inline: str  # "aws_iam_role_policy"
    attachment: str  # "aws_iam_role_policy_attachment"
    policies_exclusive: str  # "aws_iam_role_policies_exclusive"
    attachments_exclusive: str  # "aws_iam_role_policy_attachments_exclusive"
    noun: str  # "role"


def _shape(kind: str, noun: str) -> Shape:
    base = f"aws_iam_{noun}"
    return Shape(
        kind=kind,
        resource=base,
        ref=noun,
        inline=f"{base}_policy",
        attachment=f"{base}_policy_attachment",
        policies_exclusive=f"{base}_policies_exclusive",
        attachments_exclusive=f"{base}_policy_attachments_exclusive",
        noun=noun,
    )


ROLE = _shape(IAM_ROLE.value, "role")
USER = _shape(IAM_USER.value, "user")
GROUP = _shape(IAM_GROUP.value, "group")
SHAPES = (ROLE, USER, GROUP)
POLICY = "aws_iam_policy"
POLICY_ATTACHMENT = "aws_iam_policy_attachment"  # one policy to lists of roles/users/groups
USER_GROUPS = "aws_iam_user_group_membership"  # one user's groups (not exclusive)
GROUP_USERS = "aws_iam_group_membership"  # one group's users (exclusive for the group)

TYPES = frozenset(
    {POLICY, POLICY_ATTACHMENT, USER_GROUPS, GROUP_USERS}
    | {
        name
        for shape in SHAPES
        for name in (
            shape.resource,
            shape.inline,
            shape.attachment,
            shape.policies_exclusive,
            shape.attachments_exclusive,
        )
    }
)


def reads(type_: str) -> tuple[str, ...]:
    """The attributes the mapping reads of a type: one the state marks sensitive (set from
    a sensitive variable) is refused, so its value never reaches a message or a finding."""
    scope = ("name", "path", "arn")
    for shape in SHAPES:
        if type_ == shape.resource:
            own = ("assume_role_policy",) if shape is ROLE else ()
            boundary = () if shape is GROUP else ("permissions_boundary", "tags", "tags_all")
            return (*scope, *own, *boundary, "inline_policy", "managed_policy_arns")
        if type_ == shape.inline:
            return ("name", "policy", shape.ref)
        if type_ == shape.attachment:
            return (shape.ref, "policy_arn")
        if type_ == shape.policies_exclusive:
            return (f"{shape.ref}_name", "policy_names")
        if type_ == shape.attachments_exclusive:
            return (f"{shape.ref}_name", "policy_arns")
    return {
        POLICY: (*scope, "description", "policy"),
        POLICY_ATTACHMENT: ("policy_arn", "roles", "users", "groups"),
        USER_GROUPS: ("user", "groups"),
        GROUP_USERS: ("group", "users"),
    }.get(type_, ())


def refused(instance: TfInstance) -> SpecError | None:
    """An error naming an attribute read that the state marks sensitive (or a part of it),
    never its value; None when there is none."""
    if not instance.sensitive:
        return None
    try:
        refuse_sensitive(instance, reads(instance.type))
    except SpecError as exc:
        return exc
    return None


@dataclass
class Principal:
    """One role, user or group as the states declare it, gathered from all its parts."""

    shape: Shape
    instance: TfInstance
    # inline policy name -> (document, the instance declaring it); the principal's own
    # blocks and the separate resources are kept apart: a block may be a refresh's copy
    blocks: dict[str, tuple[Any, TfInstance]] = field(default_factory=dict)
    separate: dict[str, tuple[Any, TfInstance]] = field(default_factory=dict)
    managed: dict[str, TfInstance] = field(default_factory=dict)  # from the principal itself
    attached: dict[str, TfInstance] = field(default_factory=dict)  # from attachment resources
    groups: dict[str, TfInstance] = field(default_factory=dict)
    only_policies: list[tuple[frozenset[str], TfInstance]] = field(default_factory=list)
    only_attached: list[tuple[frozenset[str], TfInstance]] = field(default_factory=list)
    broken: bool = False  # a part could not be read: declaring the rest would call it drift

    @property
    def name(self) -> str:
        return str(self.instance.attributes.get("name") or "")


def _text(attributes: Mapping[str, Any], key: str) -> str:
    value = attributes.get(key)
    return value if isinstance(value, str) else ""


def _name_of(value: str) -> str:
    """A part names its principal by name; an ARN given instead names it too."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def parse_document(instance: TfInstance, key: str, text: Any) -> Any:
    """A policy document as the state holds it (a JSON string), or a SpecError naming where."""
    if isinstance(text, Mapping):
        return dict(text)
    if not isinstance(text, str) or not text.strip():
        raise SpecError("no policy document", instance.label, field=key)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"the policy document is not JSON ({exc.msg}, line {exc.lineno} column {exc.colno})",
            instance.label,
            field=key,
        ) from None
    if not isinstance(document, Mapping):
        raise SpecError("the policy document is not a JSON object", instance.label, field=key)
    return dict(document)


def _tags(instance: TfInstance) -> dict[str, str] | None:
    """What AWS holds (`tags_all`: the provider's default_tags included), `aws:` ones aside."""
    tags = tags_of(instance)
    if tags is None:
        return None
    return {key: value for key, value in tags.items() if not key.lower().startswith("aws:")}


class IamTerraform:
    """The IAM family's Terraform mapping (`Family.terraform`)."""

    types = TYPES

    def declare(self, instances: Sequence[TfInstance]) -> Iterable[Declared | SpecError]:
        return _Declaring(instances).run()


class _Declaring:
    """One pass over every IAM instance of every state."""

    def __init__(self, instances: Sequence[TfInstance]) -> None:
        self.errors: list[SpecError] = []
        self.instances: list[TfInstance] = []
        for instance in instances:
            if instance.type not in TYPES:
                continue
            error = refused(instance)
            if error is None:
                self.instances.append(instance)
            else:
                self.errors.append(error)
        self.principals: dict[str, dict[str, list[Principal]]] = {s.noun: {} for s in SHAPES}
        # (noun, name, state): one name in many accounts' states is found without a scan
        self.in_state: dict[tuple[str, str, str], list[Principal]] = {}

    def run(self) -> list[Declared | SpecError]:
        out: list[Declared | SpecError] = []
        by_type: dict[str, list[TfInstance]] = {}
        for instance in self.instances:
            by_type.setdefault(instance.type, []).append(instance)
        for instance in by_type.get(POLICY, []):
            out.extend(self._policy(instance))
        for shape in SHAPES:
            for instance in by_type.get(shape.resource, []):
                self._principal(shape, instance)
        for shape in SHAPES:
            for instance in by_type.get(shape.inline, []):
                self._inline(shape, instance)
            for instance in by_type.get(shape.attachment, []):
                self._attachment(shape, instance)
            for instance in by_type.get(shape.policies_exclusive, []):
                self._exclusive(shape, instance, "policy_names", inline=True)
            for instance in by_type.get(shape.attachments_exclusive, []):
                self._exclusive(shape, instance, "policy_arns", inline=False)
        for instance in by_type.get(POLICY_ATTACHMENT, []):
            self._policy_attachment(instance)
        for instance in by_type.get(USER_GROUPS, []):
            self._user_groups(instance)
        for instance in by_type.get(GROUP_USERS, []):
            self._group_users(instance)
        for shape in SHAPES:
            for found in self.principals[shape.noun].values():
                for principal in found:
                    doc = self._document(principal)
                    if doc is not None:
                        out.append(doc)
        return [*self.errors, *out]

    # ------------------------------------------------------------------ declarations

    def _policy(self, instance: TfInstance) -> list[Declared | SpecError]:
        attributes = instance.attributes
        try:
            document = parse_document(instance, "policy", attributes.get("policy"))
        except SpecError as exc:
            return [exc]
        data: dict[str, Any] = {
            "kind": IAM_POLICY.value,
            "name": _text(attributes, "name"),
            "document": document,
        }
        self._scope(data, instance)
        if _text(attributes, "description"):
            data["description"] = _text(attributes, "description")
        return [Declared(data, instance.label)]

    def _principal(self, shape: Shape, instance: TfInstance) -> None:
        principal = Principal(shape, instance)
        attributes = instance.attributes
        blocks = attributes.get("inline_policy")
        for index, block in enumerate(blocks if isinstance(blocks, list) else []):
            if not isinstance(block, Mapping) or not block.get("name"):
                continue  # `inline_policy {}`: "no inline policies but these", none here
            key = f"inline_policy[{index}].policy"
            document = self._parsed(instance, key, block.get("policy"))
            if document is None:
                principal.broken = True
                continue
            principal.blocks[str(block["name"])] = (document, instance)
        for arn in strings(attributes.get("managed_policy_arns")):
            principal.managed[arn] = instance
        self.principals[shape.noun].setdefault(principal.name, []).append(principal)
        where = (shape.noun, principal.name, instance.origin)
        self.in_state.setdefault(where, []).append(principal)

    def _inline(self, shape: Shape, instance: TfInstance) -> None:
        principal = self._find(shape, _text(instance.attributes, shape.ref), instance)
        if principal is None:
            return
        name = _text(instance.attributes, "name")
        document = self._parsed(instance, "policy", instance.attributes.get("policy"))
        if document is None:
            principal.broken = True
            return
        if name in principal.separate and principal.separate[name][0] != document:
            other = principal.separate[name][1]
            self.errors.append(
                SpecError(
                    f"inline policy {name!r} of {shape.noun} {principal.name} is also declared"
                    f" by {other.label}, with another document",
                    instance.label,
                    field="policy",
                )
            )
            return
        principal.separate[name] = (document, instance)

    def _attachment(self, shape: Shape, instance: TfInstance) -> None:
        principal = self._find(shape, _text(instance.attributes, shape.ref), instance)
        arn = _text(instance.attributes, "policy_arn")
        if principal is not None and arn:
            principal.attached.setdefault(arn, instance)

    def _exclusive(self, shape: Shape, instance: TfInstance, key: str, inline: bool) -> None:
        principal = self._find(shape, _text(instance.attributes, f"{shape.ref}_name"), instance)
        if principal is None:
            return
        listed = frozenset(strings(instance.attributes.get(key)))
        kept = principal.only_policies if inline else principal.only_attached
        if kept:
            self.errors.append(
                SpecError(
                    f"{shape.noun} {principal.name} is also held exclusively by"
                    f" {kept[0][1].label}: two exclusive resources undo each other",
                    instance.label,
                    field=key,
                )
            )
            return
        kept.append((listed, instance))

    def _policy_attachment(self, instance: TfInstance) -> None:
        arn = _text(instance.attributes, "policy_arn")
        for shape, key in ((ROLE, "roles"), (USER, "users"), (GROUP, "groups")):
            for name in strings(instance.attributes.get(key)):
                principal = self._find(shape, name, instance)
                if principal is not None and arn:
                    principal.attached.setdefault(arn, instance)

    def _user_groups(self, instance: TfInstance) -> None:
        user = self._find(USER, _text(instance.attributes, "user"), instance)
        if user is not None:
            for group in strings(instance.attributes.get("groups")):
                user.groups.setdefault(group, instance)

    def _group_users(self, instance: TfInstance) -> None:
        group = _text(instance.attributes, "group")
        for name in strings(instance.attributes.get("users")):
            user = self._find(USER, name, instance)
            if user is not None and group:
                user.groups.setdefault(group, instance)

    # --------------------------------------------------------------------- helpers

    def _parsed(self, instance: TfInstance, key: str, text: Any) -> Any:
        try:
            return parse_document(instance, key, text)
        except SpecError as exc:
            self.errors.append(exc)
            return None

    def _find(self, shape: Shape, name: str, part: TfInstance) -> Principal | None:
        """The principal a part belongs to: by name, then the part's own state and provider
        when several accounts' states declare that name."""
        found = self.principals[shape.noun].get(_name_of(name), [])
        if len(found) > 1:
            found = self.in_state.get((shape.noun, _name_of(name), part.origin)) or found
        if len(found) > 1:
            found = [p for p in found if p.instance.provider == part.provider] or found
        if len(found) > 1:
            places = ", ".join(p.instance.label for p in found)
            self.errors.append(
                SpecError(
                    f"{shape.noun} {name} is declared by {places}; cannot tell which this"
                    " belongs to (keep each account's resources in its own state)",
                    part.label,
                    field=shape.ref,
                )
            )
            return None
        return found[0] if found else None

    @staticmethod
    def _scope(data: dict[str, Any], instance: TfInstance) -> None:
        account = account_of(instance)
        if account:
            data["account"] = account
        if _text(instance.attributes, "path"):
            data["path"] = _text(instance.attributes, "path")

    def _inline_policies(self, principal: Principal) -> dict[str, Any] | None:
        """Every inline policy; with a `*_policies_exclusive` resource, exactly its names."""
        shape = principal.shape
        merged = {name: doc for name, (doc, _) in principal.blocks.items()}
        merged.update({name: doc for name, (doc, _) in principal.separate.items()})
        if not principal.only_policies:
            return merged
        listed, exclusive = principal.only_policies[0]
        problems = []
        for name in sorted(set(principal.separate) - listed):
            problems.append(
                SpecError(
                    f"declares inline policy {name!r} of {shape.noun} {principal.name}, which"
                    f" {exclusive.address} does not list: each apply removes it and puts it back",
                    principal.separate[name][1].label,
                    field="name",
                )
            )
        for name in sorted(listed - set(merged)):
            problems.append(
                SpecError(
                    f"lists inline policy {name!r}, but no {shape.inline} or inline_policy"
                    " block declares its document",
                    exclusive.label,
                    field="policy_names",
                )
            )
        self.errors.extend(problems)
        return None if problems else {name: merged[name] for name in sorted(listed)}

    def _managed(self, principal: Principal) -> list[str] | None:
        """Every attachment; with a `*_policy_attachments_exclusive` resource, exactly its ARNs."""
        if not principal.only_attached:
            return sorted(set(principal.managed) | set(principal.attached))
        listed, exclusive = principal.only_attached[0]
        problems = [
            SpecError(
                f"attaches {arn} to {principal.shape.noun} {principal.name}, which"
                f" {exclusive.address} does not list: each apply detaches it and attaches it back",
                part.label,
                field="policy_arn",
            )
            for arn, part in sorted(principal.attached.items())
            if arn not in listed
        ]
        self.errors.extend(problems)
        return None if problems else sorted(listed)

    def _document(self, principal: Principal) -> Declared | None:
        shape, instance = principal.shape, principal.instance
        if principal.broken:
            return None
        attributes = instance.attributes
        data: dict[str, Any] = {"kind": shape.kind, "name": principal.name}
        self._scope(data, instance)
        if shape is ROLE:
            trust = self._parsed(
                instance, "assume_role_policy", attributes.get("assume_role_policy")
            )
            if trust is None:
                return None
            data["trust_policy"] = trust
        inline, managed = self._inline_policies(principal), self._managed(principal)
        if inline is None or managed is None:
            return None
        data["inline_policies"] = inline
        data["managed_policies"] = managed
        if shape is not GROUP:
            if _text(attributes, "permissions_boundary"):
                data["permissions_boundary"] = _text(attributes, "permissions_boundary")
            tags = _tags(instance)
            if tags is not None:
                data["tags"] = tags
        if shape is USER:
            data["groups"] = sorted(principal.groups)
        return Declared(data, instance.label)


def mapping() -> IamTerraform:
    """The lazy factory `Family.terraform` calls."""
    return IamTerraform()
