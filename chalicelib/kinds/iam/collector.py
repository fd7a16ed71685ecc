"""Reads IAM policies, roles, users and groups and turns them into canonical state.

Two ways in, one parser. The sweep makes one paginated GetAccountAuthorizationDetails
call per account for every kind it wants (never one call per resource). The event path
reads the one resource it was told about with the few targeted Get/List calls, and
assembles the same shape GetAccountAuthorizationDetails returns, so `parse_policy_detail`
and `parse_identity_detail` (pure, tested on canned responses) serve both.

Documents arrive URL-encoded from AWS (botocore usually decodes them; `parse_policy`
accepts both). NoSuchEntity means the resource is gone; anything else is a `ReadError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.compare.policy_document import PolicyDocument, PolicyError, parse_policy
from chalicelib.errors import ReadError
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.model import (
    IDENTITY_KINDS,
    IamIdentityState,
    IamPolicyState,
    IamState,
    is_admin_policy,
    parse_arn,
)
from chalicelib.model import Kind, ResourceRef

# GetAccountAuthorizationDetails accepts MaxItems up to 1000: the fewest calls.
PAGE_SIZE = 1000
NOT_FOUND = "NoSuchEntity"


def _camel(method: str) -> str:
    """`get_role_policy` → `GetRolePolicy`: the API name CloudTrail and IAM use."""
    return "".join(part.title() for part in method.split("_"))


@dataclass(frozen=True)
class IdentityReads:
    """The targeted calls that read one role, user or group (event path)."""

    get: str  # boto3 method; the entity itself
    name_param: str
    result_key: str
    list_inline: str
    get_inline: str
    list_attached: str
    inline_key: str  # where GetAccountAuthorizationDetails puts inline policies


IDENTITY_READS: Mapping[Kind, IdentityReads] = {
    IAM_ROLE: IdentityReads(
        "get_role",
        "RoleName",
        "Role",
        "list_role_policies",
        "get_role_policy",
        "list_attached_role_policies",
        "RolePolicyList",
    ),
    IAM_USER: IdentityReads(
        "get_user",
        "UserName",
        "User",
        "list_user_policies",
        "get_user_policy",
        "list_attached_user_policies",
        "UserPolicyList",
    ),
    IAM_GROUP: IdentityReads(
        "get_group",
        "GroupName",
        "Group",
        "list_group_policies",
        "get_group_policy",
        "list_attached_group_policies",
        "GroupPolicyList",
    ),
}

# GetAccountAuthorizationDetails Filter values, per kind.
GAAD_FILTERS: Mapping[Kind, str] = {
    IAM_POLICY: "LocalManagedPolicy",  # customer-managed only: AWS's are never specced
    IAM_ROLE: "Role",
    IAM_USER: "User",
    IAM_GROUP: "Group",
}

# Every read this collector makes, with the IAM permission it needs; NoSuchEntity on any
# of them means "the resource does not exist". The Lambda's policy is checked against it.
READS: tuple[tuple[str, str], ...] = (
    ("GetAccountAuthorizationDetails", "iam:GetAccountAuthorizationDetails"),
    ("GetPolicy", "iam:GetPolicy"),
    ("GetPolicyVersion", "iam:GetPolicyVersion"),
    *(
        (_camel(method), f"iam:{_camel(method)}")
        for reads in IDENTITY_READS.values()
        for method in (reads.get, reads.list_inline, reads.get_inline, reads.list_attached)
    ),
    ("ListGroupsForUser", "iam:ListGroupsForUser"),
)

IamClientFactory = Callable[[], Any]


def _document(value: Any, what: str) -> PolicyDocument:
    try:
        return parse_policy(value)
    except PolicyError as exc:
        raise ReadError(
            f"{what}: IAM returned a policy document Setpoint cannot read: {exc}"
        ) from exc


def _tags(raw: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw.get("Tags") or []}


def _default_document(raw: Mapping[str, Any]) -> tuple[Any, str | None]:
    versions = raw.get("PolicyVersionList") or []
    default = raw.get("DefaultVersionId")
    for version in versions:
        if version.get("IsDefaultVersion") or version.get("VersionId") == default:
            return version.get("Document"), version.get("VersionId")
    raise ReadError(f"policy {raw.get('Arn')}: no default version in the response")


def parse_policy_detail(raw: Mapping[str, Any]) -> IamPolicyState:
    """One `Policies[]` item of GetAccountAuthorizationDetails → canonical state."""
    arn = str(raw["Arn"])
    parsed = parse_arn(arn)
    document, version = _default_document(raw)
    return IamPolicyState(
        arn=arn,
        name=str(raw.get("PolicyName") or (parsed.name if parsed else arn)),
        path=str(raw.get("Path") or (parsed.path if parsed else "/")),
        account=parsed.account if parsed else "",
        document=_document(document, arn),
        description=str(raw.get("Description") or ""),
        default_version=version,
    )


_NAME_KEYS: Mapping[Kind, str] = {
    IAM_ROLE: "RoleName",
    IAM_USER: "UserName",
    IAM_GROUP: "GroupName",
}


def parse_identity_detail(
    kind: Kind, raw: Mapping[str, Any], admin_groups: Iterable[str] = ()
) -> IamIdentityState:
    """One `RoleDetailList[]` / `UserDetailList[]` / `GroupDetailList[]` item → state.

    A user's groups come from its `GroupList` (names); `admin_groups` says which of
    them attach an admin managed policy (the caller knows the groups, the item does not).
    """
    arn = str(raw["Arn"])
    parsed = parse_arn(arn)
    reads = IDENTITY_READS[kind]
    inline = {
        str(item["PolicyName"]): _document(
            item.get("PolicyDocument"), f"{arn} inline policy {item['PolicyName']}"
        )
        for item in raw.get(reads.inline_key) or []
    }
    boundary = (raw.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    trust = raw.get("AssumeRolePolicyDocument")
    groups = (
        frozenset(str(g) for g in raw.get("GroupList") or []) if kind is IAM_USER else frozenset()
    )
    return IamIdentityState(
        kind=kind,
        arn=arn,
        name=str(raw.get(_NAME_KEYS[kind]) or (parsed.name if parsed else arn)),
        path=str(raw.get("Path") or "/"),
        account=parsed.account if parsed else "",
        inline_policies=inline,
        managed_policies=frozenset(
            str(p["PolicyArn"]) for p in raw.get("AttachedManagedPolicies") or []
        ),
        permissions_boundary=str(boundary) if boundary else None,
        trust_policy=_document(trust, f"{arn} trust policy")
        if kind is IAM_ROLE and trust is not None
        else None,
        tags=_tags(raw),
        groups=groups,
        admin_groups=groups & frozenset(admin_groups),
    )


@dataclass(frozen=True)
class Unreadable:
    """A resource the sweep listed but could not turn into state (a document Setpoint
    cannot parse, no default version): reported `unknown` on its own, with the reason."""

    kind: Kind
    arn: str
    name: str
    path: str
    account: str
    reason: str


@dataclass
class IamListing:
    """Everything one GetAccountAuthorizationDetails sweep found, by kind.

    `unreadable` holds the items that could not be parsed; the rest of the sweep stands.
    `group_policies` maps each group name to its attached policy ARNs (from the raw
    listing, so a group whose inline policy is unreadable still counts).
    """

    policies: list[IamPolicyState] = field(default_factory=list)
    identities: dict[Kind, list[IamIdentityState]] = field(
        default_factory=lambda: {kind: [] for kind in IDENTITY_KINDS}
    )
    unreadable: list[Unreadable] = field(default_factory=list)
    group_policies: dict[str, frozenset[str]] = field(default_factory=dict)

    def unreadable_of(self, kind: Kind) -> list[Unreadable]:
        return [item for item in self.unreadable if item.kind is kind]

    def admin_groups(self) -> frozenset[str]:
        return frozenset(
            name for name, arns in self.group_policies.items() if any(map(is_admin_policy, arns))
        )

    def states(self, kind: Kind) -> list[IamState]:
        if kind is IAM_POLICY:
            return list(self.policies)
        return list(self.identities.get(kind, []))


class _Gone(Exception):
    """NoSuchEntity: the resource (or one of its parts) no longer exists."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


class IamCollector:
    """Live IAM reads for one account; the client is made on first use (IAM is global)."""

    def __init__(self, iam_client: IamClientFactory) -> None:
        self._factory = iam_client
        self._client: Any | None = None

    def _iam(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._iam(), method)(**kwargs)
            return result
        except ClientError as exc:
            code = _code(exc)
            if code == NOT_FOUND:
                raise _Gone(method) from exc
            raise ReadError(f"{_camel(method)} failed: {code}", code=code) from exc
        except BotoCoreError as exc:
            raise ReadError(f"{_camel(method)} failed: {exc}", code="ClientError") from exc

    def _pages(self, method: str, key: str, **kwargs: Any) -> list[Any]:
        """Every item of a paginated List* call."""
        found: list[Any] = []
        try:
            for page in self._iam().get_paginator(method).paginate(**kwargs):
                found.extend(page.get(key, []))
        except ClientError as exc:
            code = _code(exc)
            if code == NOT_FOUND:
                raise _Gone(method) from exc
            raise ReadError(f"{_camel(method)} failed: {code}", code=code) from exc
        except BotoCoreError as exc:
            raise ReadError(f"{_camel(method)} failed: {exc}", code="ClientError") from exc
        return found

    # -- event path: one resource --------------------------------------------------------

    def read(self, ref: ResourceRef) -> IamState | None:
        """The live resource a reference points at; None when it does not exist.

        Raises ReadError when IAM would not tell (AccessDenied, throttled past retries).
        """
        try:
            if ref.kind is IAM_POLICY:
                return self._read_policy(ref)
            if ref.kind in IDENTITY_READS:
                return self._read_identity(ref)
        except _Gone:
            return None
        return None

    def _read_policy(self, ref: ResourceRef) -> IamPolicyState | None:
        parsed = parse_arn(ref.id or "")
        if parsed is None or parsed.aws_managed:
            return None
        policy = self._call("get_policy", PolicyArn=ref.id)["Policy"]
        version = self._call(
            "get_policy_version", PolicyArn=ref.id, VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]
        detail = dict(policy)
        detail["PolicyVersionList"] = [{**version, "IsDefaultVersion": True}]
        return parse_policy_detail(detail)

    def _read_identity(self, ref: ResourceRef) -> IamIdentityState | None:
        name = ref.name or (parsed.name if (parsed := parse_arn(ref.id or "")) else None)
        if not name:
            return None
        reads = IDENTITY_READS[ref.kind]
        by_name = {reads.name_param: name}
        entity = dict(self._call(reads.get, **by_name)[reads.result_key])
        inline = []
        for policy_name in self._pages(reads.list_inline, "PolicyNames", **by_name):
            try:
                got = self._call(reads.get_inline, PolicyName=policy_name, **by_name)
            except _Gone:
                continue  # deleted between the list and the get: it is not there
            inline.append({"PolicyName": policy_name, "PolicyDocument": got["PolicyDocument"]})
        entity[reads.inline_key] = inline
        entity["AttachedManagedPolicies"] = self._pages(
            reads.list_attached, "AttachedPolicies", **by_name
        )
        if ref.kind is not IAM_USER:
            return parse_identity_detail(ref.kind, entity)
        groups = [
            str(g["GroupName"]) for g in self._pages("list_groups_for_user", "Groups", **by_name)
        ]
        entity["GroupList"] = groups
        return parse_identity_detail(ref.kind, entity, self._admin_groups(groups))

    def _admin_groups(self, groups: Iterable[str]) -> set[str]:
        """Which of a user's groups attach an admin managed policy (one List call each)."""
        admin = set()
        for group in groups:
            try:
                attached = self._pages(
                    "list_attached_group_policies", "AttachedPolicies", GroupName=group
                )
            except _Gone:
                continue  # deleted since the user was read
            if any(is_admin_policy(str(p.get("PolicyArn", ""))) for p in attached):
                admin.add(group)
        return admin

    # -- sweep: the whole account in one paginated call --------------------------------

    def list_account(self, kinds: Iterable[Kind]) -> IamListing:
        """Every resource of `kinds` in the account, from GetAccountAuthorizationDetails.

        Users come with their groups, so groups are read too when users are wanted (the
        same call): a user joining a group that attaches AdministratorAccess says so.
        """
        wanted = [k for k in GAAD_FILTERS if k in set(kinds)]
        listing = IamListing()
        if not wanted:
            return listing
        if IAM_USER in wanted and IAM_GROUP not in wanted:
            wanted.append(IAM_GROUP)
        try:
            paginator = self._iam().get_paginator("get_account_authorization_details")
            pages = paginator.paginate(
                Filter=[GAAD_FILTERS[k] for k in wanted],
                PaginationConfig={"PageSize": PAGE_SIZE},
            )
            for page in pages:
                self._add_page(page, listing)
        except ClientError as exc:
            code = _code(exc)
            raise ReadError(f"GetAccountAuthorizationDetails failed: {code}", code=code) from exc
        except BotoCoreError as exc:
            raise ReadError(f"GetAccountAuthorizationDetails failed: {exc}") from exc
        admin = listing.admin_groups()
        listing.identities[IAM_USER] = [
            dataclasses.replace(user, admin_groups=user.groups & admin)
            for user in listing.identities[IAM_USER]
        ]
        return listing

    @staticmethod
    def _add_page(page: Mapping[str, Any], listing: IamListing) -> None:
        for raw in page.get("Policies", []):
            parsed = parse_arn(str(raw.get("Arn", "")))
            if parsed is not None and not parsed.aws_managed:
                try:
                    listing.policies.append(parse_policy_detail(raw))
                except ReadError as exc:
                    listing.unreadable.append(_unreadable(IAM_POLICY, raw, exc))
        for raw in page.get("GroupDetailList", []):
            listing.group_policies[str(raw.get("GroupName", ""))] = frozenset(
                str(p.get("PolicyArn", "")) for p in raw.get("AttachedManagedPolicies") or []
            )
        for kind, key in (
            (IAM_ROLE, "RoleDetailList"),
            (IAM_USER, "UserDetailList"),
            (IAM_GROUP, "GroupDetailList"),
        ):
            for raw in page.get(key, []):
                try:
                    listing.identities[kind].append(parse_identity_detail(kind, raw))
                except ReadError as exc:
                    listing.unreadable.append(_unreadable(kind, raw, exc))


_LISTING_NAME_KEYS: Mapping[Kind, str] = {IAM_POLICY: "PolicyName", **_NAME_KEYS}


def _unreadable(kind: Kind, raw: Mapping[str, Any], exc: ReadError) -> Unreadable:
    arn = str(raw.get("Arn", ""))
    parsed = parse_arn(arn)
    return Unreadable(
        kind=kind,
        arn=arn,
        name=str(raw.get(_LISTING_NAME_KEYS[kind]) or (parsed.name if parsed else arn)),
        path=str(raw.get("Path") or (parsed.path if parsed else "/")),
        account=parsed.account if parsed else "",
        reason=str(exc),
    )
