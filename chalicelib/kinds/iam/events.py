"""Event-table rows for IAM: which calls change a policy, role, user or group, and which one.

IAM is global: its records are delivered in us-east-1 whatever `awsRegion` says (some
published samples carry made-up regions), so every ref is in region "global". Records
name roles, users and groups by name only; the ARN is built from the name and the
account (path "/" unless the record says otherwise, partition from the record), and
collectors read by name, so a role with a path is still found; a finding about one that
cannot be read (gone, unreadable) takes its id from the spec, as the sweep does. Records
about AWS managed policies name nothing Setpoint manages: they are skipped with that
reason.
"""

from __future__ import annotations

from chalicelib.events.fields import ci_dig, text
from chalicelib.events.locators import EventRoute, Locate, Locator, first
from chalicelib.events.record import CloudTrailRecord
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.model import NAME_RE, make_arn, parse_arn, partition_of
from chalicelib.model import GLOBAL_REGION, Kind, ResourceRef

IAM_SOURCE = "iam.amazonaws.com"

_NAME_PARAMS = {IAM_ROLE: "roleName", IAM_USER: "userName", IAM_GROUP: "groupName"}
_RESPONSE_KEYS = {
    IAM_POLICY: "policy",
    IAM_ROLE: "role",
    IAM_USER: "user",
    IAM_GROUP: "group",
}


def _partition(record: CloudTrailRecord) -> str:
    """`aws`, `aws-us-gov`, `aws-cn`: from the caller's ARN (or its session issuer's),
    else from the region the record was delivered in (cn-…, us-gov-…), else `aws`."""
    identity = record.user_identity
    return partition_of(
        text(ci_dig(identity, "arn")),
        text(ci_dig(identity, "sessionContext", "sessionIssuer", "arn")),
        record.aws_region,
        record.envelope_region,
    )


def _name(value: object) -> str | None:
    name = text(value)
    return name if name and NAME_RE.match(name) and name.strip(".") else None


def _by_arn(kind: Kind, value: object) -> list[ResourceRef]:
    arn = text(value)
    parsed = parse_arn(arn) if arn else None
    if parsed is None or parsed.aws_managed or parsed.type != _RESPONSE_KEYS[kind]:
        return []
    return [ResourceRef(kind, parsed.account, GLOBAL_REGION, id=str(parsed), name=parsed.name)]


def _by_name(
    record: CloudTrailRecord, kind: Kind, name: str | None, path: object = None
) -> list[ResourceRef]:
    if name is None:
        return []
    account = record.account
    partition = _partition(record)
    arn = make_arn(kind, account, name, text(path) or "/", partition=partition) if account else None
    return [ResourceRef(kind, account, GLOBAL_REGION, id=arn, name=name)]


def _request_name(kind: Kind) -> Locator:
    key = _NAME_PARAMS[kind]

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        params = record.request_parameters
        return _by_name(record, kind, _name(params.get(key)), params.get("path"))

    return Locator((f"requestParameters.{key}",), find)


def _created(kind: Kind) -> Locator:
    """CreatePolicy/CreateRole/…: the ARN (with its path) is in the response."""
    key = _RESPONSE_KEYS[kind]

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        return _by_arn(kind, ci_dig(record.response_elements, key, "arn"))

    return Locator((f"responseElements.{key}.arn",), find)


def _policy_arn_miss(record: CloudTrailRecord) -> str:
    arn = text(record.request_parameters.get("policyArn"))
    parsed = parse_arn(arn) if arn else None
    if parsed is not None and parsed.aws_managed:
        return (
            f"{record.event_name} on {arn}: an AWS managed policy, which AWS owns and "
            "Setpoint never specs"
        )
    return f"{record.event_name}: no customer-managed policy ARN in requestParameters.policyArn"


POLICY_ARN = Locator(
    ("requestParameters.policyArn",),
    lambda record: _by_arn(IAM_POLICY, record.request_parameters.get("policyArn")),
    _policy_arn_miss,
)


def _policy_name(record: CloudTrailRecord) -> list[ResourceRef]:
    params = record.request_parameters
    return _by_name(record, IAM_POLICY, _name(params.get("policyName")), params.get("path"))


CREATED_POLICY = first(
    _created(IAM_POLICY), Locator(("requestParameters.policyName",), _policy_name)
)
ROLE_NAME = _request_name(IAM_ROLE)
USER_NAME = _request_name(IAM_USER)
GROUP_NAME = _request_name(IAM_GROUP)
CREATED_ROLE = first(_created(IAM_ROLE), ROLE_NAME)
CREATED_USER = first(_created(IAM_USER), USER_NAME)
CREATED_GROUP = first(_created(IAM_GROUP), GROUP_NAME)


def _rows(kind: Kind, locate: Locate, *names: str) -> tuple[EventRoute, ...]:
    return tuple(EventRoute(name, IAM_SOURCE, kind, locate) for name in names)


IAM_ROWS: tuple[EventRoute, ...] = (
    *_rows(IAM_POLICY, CREATED_POLICY, "CreatePolicy"),
    *_rows(
        IAM_POLICY,
        POLICY_ARN,
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "DeletePolicy",
        "DeletePolicyVersion",
    ),
    *_rows(IAM_ROLE, CREATED_ROLE, "CreateRole"),
    *_rows(
        IAM_ROLE,
        ROLE_NAME,
        "DeleteRole",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "UpdateAssumeRolePolicy",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "TagRole",
        "UntagRole",
    ),
    *_rows(IAM_USER, CREATED_USER, "CreateUser"),
    *_rows(
        IAM_USER,
        USER_NAME,
        "DeleteUser",
        "PutUserPolicy",
        "DeleteUserPolicy",
        "AttachUserPolicy",
        "DetachUserPolicy",
        "AddUserToGroup",  # membership changes the user's permissions: it is the user's
        "RemoveUserFromGroup",
        "PutUserPermissionsBoundary",
        "DeleteUserPermissionsBoundary",
        "TagUser",
        "UntagUser",
    ),
    *_rows(IAM_GROUP, CREATED_GROUP, "CreateGroup"),
    *_rows(
        IAM_GROUP,
        GROUP_NAME,
        "DeleteGroup",
        "PutGroupPolicy",
        "DeleteGroupPolicy",
        "AttachGroupPolicy",
        "DetachGroupPolicy",
    ),
)
