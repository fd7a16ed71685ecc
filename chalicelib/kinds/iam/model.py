"""Frozen data for the IAM kinds: customer-managed policies, roles, users and groups.

Roles, users and groups carry the same things (inline policies, attached managed
policies, a boundary, tags), so one state and one spec class serve all three, with
`kind` saying which; only roles have a trust policy. Documents are `PolicyDocument`s,
which compare by meaning. Pure data and ARN helpers: no boto3, no clock, no environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.compare.policy_document import PolicyDocument
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.model import Kind, SourceLocation

IDENTITY_KINDS: tuple[Kind, ...] = (IAM_ROLE, IAM_USER, IAM_GROUP)
IAM_KINDS: tuple[Kind, ...] = (IAM_POLICY, *IDENTITY_KINDS)

# The ARN resource type of each kind: arn:aws:iam::123456789012:<type>/<path><name>
ARN_TYPES: Mapping[Kind, str] = {
    IAM_POLICY: "policy",
    IAM_ROLE: "role",
    IAM_USER: "user",
    IAM_GROUP: "group",
}
AWS_MANAGED_ACCOUNT = "aws"  # arn:aws:iam::aws:policy/ReadOnlyAccess
SERVICE_LINKED_PATH = "/aws-service-role/"
# AWS managed policies that grant every action on every resource.
ADMIN_MANAGED_POLICIES = frozenset({"AdministratorAccess"})

_IAM_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}|aws):(policy|role|user|group)(/.*)$")
NAME_RE = re.compile(r"^[\w+=,.@-]{1,128}$")


@dataclass(frozen=True)
class IamArn:
    """An IAM ARN taken apart: `arn:aws:iam::123456789012:role/ops/deploy`."""

    partition: str
    account: str
    type: str
    path: str
    name: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:{self.type}{self.path}{self.name}"

    @property
    def aws_managed(self) -> bool:
        return self.account == AWS_MANAGED_ACCOUNT


def parse_arn(value: str) -> IamArn | None:
    """The parts of an IAM policy/role/user/group ARN, or None for anything else."""
    match = _IAM_ARN.match(value)
    if match is None:
        return None
    partition, account, kind, rest = match.groups()
    path, _, name = rest.rpartition("/")
    if not name:
        return None
    return IamArn(partition, account, kind, path + "/", name)


DEFAULT_PARTITION = "aws"
_REGION_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"))


def make_arn(kind: Kind, account: str, name: str, path: str = "/", *, partition: str) -> str:
    """An IAM ARN; the partition is always given (aws, aws-cn, aws-us-gov, …)."""
    return str(IamArn(partition, account, ARN_TYPES[kind], normal_path(path), name))


def partition_of(*hints: str | None) -> str:
    """The partition the first ARN or region among `hints` names; "aws" when none does."""
    for hint in hints:
        if not hint:
            continue
        if hint.startswith("arn:"):
            parts = hint.split(":")
            if len(parts) > 2 and parts[1]:
                return parts[1]
            continue
        for prefix, partition in _REGION_PARTITIONS:
            if hint.startswith(prefix):
                return partition
    return DEFAULT_PARTITION


def is_admin_policy(arn: str) -> bool:
    """An AWS managed policy that grants every action on every resource."""
    parsed = parse_arn(arn)
    return parsed is not None and parsed.aws_managed and parsed.name in ADMIN_MANAGED_POLICIES


def normal_path(path: str | None) -> str:
    """IAM paths begin and end with a slash; "/" when none was given."""
    if not path:
        return "/"
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def policy_label(arn: str) -> str:
    """How an attached policy is named in a sentence: its name, plus where it lives."""
    parsed = parse_arn(arn)
    if parsed is None:
        return arn
    if parsed.aws_managed:
        return f"{parsed.name} (AWS managed)"
    path = "" if parsed.path == "/" else f" (path {parsed.path})"
    return f"{parsed.name}{path}"


@dataclass(frozen=True)
class IamPolicyState:
    """A customer-managed policy as read from IAM: its default version's document."""

    arn: str
    name: str
    path: str
    account: str
    document: PolicyDocument
    description: str = ""
    default_version: str | None = None
    # GetPolicy returns them; GetAccountAuthorizationDetails does not, so a sweep has none
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IamIdentityState:
    """A role, user or group as read from IAM.

    `managed_policies` holds the ARNs of attached managed policies (AWS or customer).
    `trust_policy` is set for roles only; `permissions_boundary` never for groups.
    `groups` (users only) names the groups the user belongs to; `admin_groups` is the
    part of them that attach an admin managed policy (AdministratorAccess), known from
    the same read, so a join can say it grants admin.
    """

    kind: Kind
    arn: str
    name: str
    path: str
    account: str
    inline_policies: Mapping[str, PolicyDocument] = field(default_factory=dict)
    managed_policies: frozenset[str] = frozenset()
    permissions_boundary: str | None = None
    trust_policy: PolicyDocument | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()
    admin_groups: frozenset[str] = frozenset()

    @property
    def service_linked(self) -> bool:
        """Roles AWS services create and own: never specced, never reported unmanaged."""
        return self.kind is IAM_ROLE and self.path.startswith(SERVICE_LINKED_PATH)


IamState = IamPolicyState | IamIdentityState


@dataclass(frozen=True)
class IamPolicySpec:
    """The desired state of one customer-managed policy, matched by name (+ account).

    `path` and `description` are compared only when written (None: not compared).
    """

    source: SourceLocation
    name: str
    account: str | None
    document: PolicyDocument
    path: str | None = None
    description: str | None = None

    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class IamIdentitySpec:
    """The desired state of a role, user or group, matched by kind, name (+ account).

    Omitted inline policies, managed policies and boundary mean "none": they are
    security-relevant, so nothing may appear unnoticed. `managed_policies` entries are
    ARNs, or bare names of customer-managed policies in the same account. `groups`
    (users only) lists every group the user belongs to: omitted means none, like the
    policies, because a group passes on its permissions. `tags=None` and `path=None`
    mean not compared.
    """

    kind: Kind
    source: SourceLocation
    name: str
    account: str | None
    inline_policies: Mapping[str, PolicyDocument] = field(default_factory=dict)
    managed_policies: frozenset[str] = frozenset()
    permissions_boundary: str | None = None
    trust_policy: PolicyDocument | None = None
    path: str | None = None
    tags: Mapping[str, str] | None = None
    groups: frozenset[str] = frozenset()

    def label(self) -> str:
        return self.name


IamSpec = IamPolicySpec | IamIdentitySpec


def spec_kind(spec: IamSpec) -> Kind:
    return IAM_POLICY if isinstance(spec, IamPolicySpec) else spec.kind


def spec_arn(spec: IamSpec, account: str, partition: str) -> str:
    """The ARN a spec's resource has (or would have): its own path, "/" when not written.

    Every finding about a resource that cannot be read (missing, unknown) takes its id
    from here, so the event path and the sweep name it the same way.
    """
    return make_arn(
        spec_kind(spec), spec.account or account, spec.name, spec.path or "/", partition=partition
    )
