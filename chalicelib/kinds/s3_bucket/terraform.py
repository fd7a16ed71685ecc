"""Terraform's buckets -> bucket spec documents.

A bucket is declared by its `aws_s3_bucket` and by the split resources that name it in
`bucket` (provider v4+): `_policy`, `_public_access_block`,
`_server_side_encryption_configuration`, `_versioning`, `_acl` and
`_ownership_controls`, in any state. Where a split resource exists it wins: since v4 the
bucket's inline `policy`, `grant`/`acl`, `server_side_encryption_configuration` and
`versioning` are computed copies of what the last refresh read. Without one, the inline
value is what the state declares. What no resource declares gets the spec's safe
defaults (no policy, owner-only grants, all four public access blocks on, some default
encryption); versioning and ownership are then not compared.

Split resources of a bucket no state declares declare nothing (the bucket stays
`unmanaged`): Setpoint compares whole buckets, and the rest of that one is unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.sources.declared import Declared
from chalicelib.sources.terraform.attributes import (
    attribute,
    blocks,
    first_block,
    refuse_sensitive,
    region_of,
    strings,
    tags_of,
)
from chalicelib.sources.terraform.model import TfInstance

BUCKET = "aws_s3_bucket"
POLICY = "aws_s3_bucket_policy"
BLOCK = "aws_s3_bucket_public_access_block"
ENCRYPTION = "aws_s3_bucket_server_side_encryption_configuration"
VERSIONING = "aws_s3_bucket_versioning"
ACL = "aws_s3_bucket_acl"
OWNERSHIP = "aws_s3_bucket_ownership_controls"
SPLIT = frozenset({POLICY, BLOCK, ENCRYPTION, VERSIONING, ACL, OWNERSHIP})

_GROUPS = "http://acs.amazonaws.com/groups/"
_ALL_USERS = "AllUsers"
_AUTHENTICATED = "AuthenticatedUsers"
_LOG_DELIVERY = "LogDelivery"
# canned ACLs as the grants beyond the owner's FULL_CONTROL they stand for (S3 user guide,
# "Canned ACL"); aws-exec-read grants EC2 a canonical user id S3 does not document
CANNED: Mapping[str, tuple[tuple[str, str], ...]] = {
    "private": (),
    "public-read": ((_ALL_USERS, "READ"),),
    "public-read-write": ((_ALL_USERS, "READ"), (_ALL_USERS, "WRITE")),
    "authenticated-read": ((_AUTHENTICATED, "READ"),),
    "log-delivery-write": ((_LOG_DELIVERY, "WRITE"), (_LOG_DELIVERY, "READ_ACP")),
    # object ACLs: on a bucket they leave the owner alone
    "bucket-owner-read": (),
    "bucket-owner-full-control": (),
}
# every attribute the mapping reads: one the state marks sensitive is refused, unprinted
READS = frozenset(
    {
        "bucket",
        "id",
        "region",
        "bucket_region",
        "expected_bucket_owner",
        "policy",
        "acl",
        "grant",
        "access_control_policy",
        "server_side_encryption_configuration",
        "rule",
        "versioning",
        "versioning_configuration",
        "tags",
        "tags_all",
        "block_public_acls",
        "ignore_public_acls",
        "block_public_policy",
        "restrict_public_buckets",
    }
)
_BLOCK_FLAGS = (
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
)


def _group_name(uri: str) -> str:
    """`http://acs.amazonaws.com/groups/global/AllUsers` -> `AllUsers`; others stay URIs."""
    short = uri.rsplit("/", 1)[-1]
    return short if short in (_ALL_USERS, _AUTHENTICATED, _LOG_DELIVERY) else uri


def _canned(instance: TfInstance, acl: str, field: str) -> list[dict[str, str]]:
    if acl not in CANNED:
        raise SpecError(
            f"canned ACL {acl!r} has no grants Setpoint can compare; write the grants with"
            " access_control_policy",
            instance.label,
            field=field,
        )
    return [{"group": group, "permission": permission} for group, permission in CANNED[acl]]


def _grantee(instance: TfInstance, grantee: Mapping[str, Any], field: str) -> dict[str, str]:
    kind = grantee.get("type")
    if kind == "Group" and isinstance(grantee.get("uri"), str) and grantee["uri"]:
        return {"group": _group_name(grantee["uri"])}
    if kind == "CanonicalUser" and isinstance(grantee.get("id"), str) and grantee["id"]:
        return {"canonical_id": grantee["id"]}
    raise SpecError(
        f"grantee of type {kind!r} cannot be compared (S3 reports grants by canonical id"
        " or group); grant to the canonical id",
        instance.label,
        field=field,
    )


def _unique(grants: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    for grant in grants:
        if grant not in seen:
            seen.append(grant)
    return seen


def _split_grants(instance: TfInstance) -> list[dict[str, str]]:
    """`aws_s3_bucket_acl`: a canned `acl`, else `access_control_policy` minus the owner's
    FULL_CONTROL (the baseline every bucket has)."""
    acl = attribute(instance, "acl")
    if isinstance(acl, str) and acl:
        return _canned(instance, acl, "acl")
    policy = first_block(attribute(instance, "access_control_policy")) or {}
    owner = first_block(policy.get("owner")) or {}
    owner_id = owner.get("id")
    grants = []
    for index, grant in enumerate(blocks(policy.get("grant"))):
        field = f"access_control_policy[0].grant[{index}]"
        grantee = _grantee(instance, first_block(grant.get("grantee")) or {}, field)
        permission = str(grant.get("permission", ""))
        if grantee.get("canonical_id") == owner_id and permission == "FULL_CONTROL":
            continue
        grants.append({**grantee, "permission": permission})
    return _unique(grants)


def _inline_grants(bucket: TfInstance) -> list[dict[str, str]] | None:
    """The bucket's own `acl` or `grant` blocks; None when it holds neither. In `grant`
    the owner's FULL_CONTROL cannot be told from another user's, so a canonical user's
    FULL_CONTROL is taken for the owner's."""
    acl = attribute(bucket, "acl")
    if isinstance(acl, str) and acl:
        return _canned(bucket, acl, "acl")
    found = blocks(attribute(bucket, "grant"))
    if not found:
        return None
    grants = []
    for index, grant in enumerate(found):
        grantee = _grantee(bucket, grant, f"grant[{index}]")
        for permission in strings(grant.get("permissions")):
            if "canonical_id" in grantee and permission == "FULL_CONTROL":
                continue
            grants.append({**grantee, "permission": permission})
    return _unique(grants)


def _encryption(rule_blocks: Any) -> dict[str, Any] | None:
    rule = first_block(rule_blocks)
    if rule is None:
        return None
    default = first_block(rule.get("apply_server_side_encryption_by_default")) or {}
    algorithm = default.get("sse_algorithm")
    if not isinstance(algorithm, str) or not algorithm:
        return None
    out: dict[str, Any] = {"sse": algorithm}
    key = default.get("kms_master_key_id")
    if isinstance(key, str) and key:
        out["kms_key_id"] = key
    if isinstance(rule.get("bucket_key_enabled"), bool):
        out["bucket_key"] = rule["bucket_key_enabled"]
    return out


def _policy(value: Any, instance: TfInstance) -> Any:
    """A policy attribute as the spec takes it: the JSON text, parsed when it parses."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise SpecError("policy is not JSON", instance.label, field="policy") from None


def _versioning(split: TfInstance | None, bucket: TfInstance) -> dict[str, Any] | None:
    if split is not None:
        config = first_block(split.attributes.get("versioning_configuration")) or {}
        status = config.get("status")
        if status not in ("Enabled", "Suspended", "Disabled"):
            return None
        out: dict[str, Any] = {"status": status}
        if config.get("mfa_delete") in ("Enabled", "Disabled"):
            out["mfa_delete"] = config["mfa_delete"] == "Enabled"
        return out
    inline = first_block(bucket.attributes.get("versioning"))
    if inline is None or inline.get("enabled") is not True:
        return None  # false is Disabled or Suspended: the block cannot tell which
    out = {"status": "Enabled"}
    if isinstance(inline.get("mfa_delete"), bool):
        out["mfa_delete"] = inline["mfa_delete"]
    return out


def _document(bucket: TfInstance, parts: Mapping[str, TfInstance]) -> dict[str, Any]:
    for instance in (bucket, *parts.values()):
        refuse_sensitive(instance, READS)
    attributes = bucket.attributes
    name = attributes.get("bucket") or attributes.get("id")
    data: dict[str, Any] = {"kind": str(S3_BUCKET), "name": name}
    region = region_of(bucket, "bucket_region")
    if region:
        data["region"] = region
    owner = next(
        (
            str(part.attributes["expected_bucket_owner"])
            for part in parts.values()
            if part.attributes.get("expected_bucket_owner")
        ),
        None,
    )
    if owner:
        data["account"] = owner
    if POLICY in parts:
        policy = _policy(attribute(parts[POLICY], "policy"), parts[POLICY])
    else:
        policy = _policy(attribute(bucket, "policy"), bucket)
    if policy is not None:
        data["policy"] = policy
    grants = _split_grants(parts[ACL]) if ACL in parts else _inline_grants(bucket)
    if grants:
        data["grants"] = grants
    if BLOCK in parts:
        flags = parts[BLOCK].attributes
        data["public_access_block"] = {
            flag: flags[flag] for flag in _BLOCK_FLAGS if isinstance(flags.get(flag), bool)
        }
    if ENCRYPTION in parts:
        encryption = _encryption(parts[ENCRYPTION].attributes.get("rule"))
    else:
        inline = first_block(attributes.get("server_side_encryption_configuration")) or {}
        encryption = _encryption(inline.get("rule"))
    if encryption is not None:
        data["encryption"] = encryption
    versioning = _versioning(parts.get(VERSIONING), bucket)
    if versioning is not None:
        data["versioning"] = versioning
    if OWNERSHIP in parts:
        rule = first_block(parts[OWNERSHIP].attributes.get("rule")) or {}
        if isinstance(rule.get("object_ownership"), str):
            data["object_ownership"] = rule["object_ownership"]
    tags = tags_of(bucket)
    if tags is not None:
        data["tags"] = {k: v for k, v in tags.items() if not k.lower().startswith("aws:")}
    return data


class BucketMapping:
    """`TerraformMapping` for buckets (see the module docstring)."""

    types = SPLIT | {BUCKET}

    def declare(self, instances: Sequence[TfInstance]) -> Iterable[Declared | SpecError]:
        out: list[Declared | SpecError] = []
        parts: dict[str, dict[str, TfInstance]] = {}
        for instance in instances:
            name = instance.attributes.get("bucket")
            if instance.type not in SPLIT or not isinstance(name, str):
                continue
            mine = parts.setdefault(name, {})
            if instance.type in mine:
                first = mine[instance.type]
                out.append(
                    SpecError(f"bucket {name!r} is also declared by {first.label}", instance.label)
                )
                continue
            mine[instance.type] = instance
        for instance in instances:
            if instance.type != BUCKET:
                continue
            name = instance.attributes.get("bucket") or instance.attributes.get("id")
            if not isinstance(name, str) or not name:
                out.append(SpecError("the bucket has no name in the state", instance.label))
                continue
            try:
                data = _document(instance, parts.get(name, {}))
            except SpecError as exc:
                out.append(exc)
                continue
            out.append(Declared(data, instance.label))
        return out


def mapping() -> BucketMapping:
    return BucketMapping()
