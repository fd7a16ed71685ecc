"""Which calls bring a whole resource into being or take it away.

Creates open a settle window (infrastructure tools follow a create with several calls
seconds apart, and only the end state is worth a word); deletes of a resource no spec
names close its open alert as "gone". Calls that only change a part of a resource
(DeleteRolePolicy, DeleteBucketPolicy, DeletePolicyVersion...) are neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from chalicelib.model import Kind

CREATES: Mapping[str, Kind] = MappingProxyType(
    {
        "CreateSecurityGroup": Kind.SECURITY_GROUP,
        "CreateBucket": Kind.S3_BUCKET,
        "CreatePolicy": Kind.IAM_POLICY,
        "CreateRole": Kind.IAM_ROLE,
        "CreateUser": Kind.IAM_USER,
        "CreateGroup": Kind.IAM_GROUP,
    }
)

DELETES: Mapping[str, Kind] = MappingProxyType(
    {
        "DeleteSecurityGroup": Kind.SECURITY_GROUP,
        "DeleteBucket": Kind.S3_BUCKET,
        "DeletePolicy": Kind.IAM_POLICY,
        "DeleteRole": Kind.IAM_ROLE,
        "DeleteUser": Kind.IAM_USER,
        "DeleteGroup": Kind.IAM_GROUP,
    }
)


def creates(event_name: str | None, kind: Kind) -> bool:
    """True when `event_name` creates a resource of `kind` (not a part of one)."""
    return event_name is not None and CREATES.get(event_name) is kind


def deletes(event_name: str | None, kind: Kind) -> bool:
    """True when `event_name` deletes a resource of `kind` (not a part of one)."""
    return event_name is not None and DELETES.get(event_name) is kind
