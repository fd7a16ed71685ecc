"""What Setpoint may undo on a bucket: its public access block and default encryption.

Both are put back whole, as the spec has them: one PutPublicAccessBlock however many
flags were turned off, one PutBucketEncryption. Nothing is deleted: encryption the spec
does not want stays (removing it would be a delete), and a bucket policy or ACL is left
for a person. Pure: the spec in, the call's parameters out.
"""

from __future__ import annotations

from typing import Any

from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.s3_bucket.model import (
    AWS_MANAGED_KEY,
    ENCRYPTION,
    NO_ENCRYPTION,
    PUBLIC_ACCESS_BLOCK,
    Encryption,
)
from chalicelib.model import Change, Finding
from chalicelib.revert.table import Plan, Undo

# S3 ARNs name no account or region: the revert role's statement adds aws:ResourceAccount
_BUCKET_ARN = "arn:${AWS::Partition}:s3:::*"


def _block(change: Change, finding: Finding, spec: Any) -> Plan:
    if spec is None or not finding.id:
        return "the bucket's spec is not known"
    flags = spec.public_access_block.flags()
    on = ", ".join(flag for flag, value in flags.items() if value) or "every flag off"
    return (
        f"restore the public access block as the spec has it ({on})",
        {"Bucket": finding.id, "PublicAccessBlockConfiguration": flags},
    )


def _default_encryption(spec_encryption: Encryption | None) -> dict[str, Any]:
    if spec_encryption is None:  # the spec accepts any: S3's own default
        return {"SSEAlgorithm": "AES256"}
    rule: dict[str, Any] = {"SSEAlgorithm": spec_encryption.sse}
    if spec_encryption.kms_key_id and spec_encryption.kms_key_id != AWS_MANAGED_KEY:
        rule["KMSMasterKeyID"] = spec_encryption.kms_key_id
    return rule


def _encryption(change: Change, finding: Finding, spec: Any) -> Plan:
    if spec is None or not finding.id:
        return "the bucket's spec is not known"
    if spec.encryption is not None and spec.encryption.sse == NO_ENCRYPTION:
        return "the spec wants no default encryption; removing it is left to a person"
    default = _default_encryption(spec.encryption)
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
    if spec.encryption is not None and spec.encryption.bucket_key is not None:
        rule["BucketKeyEnabled"] = spec.encryption.bucket_key
    return (
        f"restore default encryption {default['SSEAlgorithm']}",
        {"Bucket": finding.id, "ServerSideEncryptionConfiguration": {"Rules": [rule]}},
    )


def _scope(spec: Any) -> tuple[str, ...]:
    return (f"arn:${{AWS::Partition}}:s3:::{spec.name}",)


def _row(op: Any, path: str, operation: str, plan: Any) -> Undo:
    return Undo(
        (S3_BUCKET,), op, path, "s3", operation, f"s3:{operation}", _BUCKET_ARN, plan, scope=_scope
    )


REVERTS: tuple[Undo, ...] = (
    _row("remove", PUBLIC_ACCESS_BLOCK, "PutPublicAccessBlock", _block),
    _row("modify", f"{PUBLIC_ACCESS_BLOCK}.*", "PutPublicAccessBlock", _block),
    _row("remove", ENCRYPTION, "PutBucketEncryption", _encryption),
    _row("modify", ENCRYPTION, "PutBucketEncryption", _encryption),
)
