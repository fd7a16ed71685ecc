"""What to do about a bucket's change: the `aws s3api` command that puts the spec's value
back, and the spec edit that accepts the live one. Pure: the commands are text.

S3 sets most properties whole (a policy, the block's four flags, the tag set), so a
revert writes the spec's entire value, not a patch: running it leaves the property
exactly as the spec says, whatever else drifted in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.compare.policy_document import document_json
from chalicelib.kinds.s3_bucket.model import (
    AWS_MANAGED_KEY,
    ENCRYPTION,
    GRANTS,
    KMS_ALGORITHMS,
    LOGGING,
    NO_ENCRYPTION,
    OBJECT_OWNERSHIP,
    PAB_FLAGS,
    POLICY,
    PUBLIC_ACCESS_BLOCK,
    TAGS,
    VERSIONING,
    BucketSpec,
    BucketState,
    Encryption,
    PublicAccessBlock,
)
from chalicelib.model import Change
from chalicelib.next_steps import IMPORT_HINT, aws_command, yaml_flow

Advice = tuple[str | None, str | None]
_SPEC_FLAG = dict(PAB_FLAGS)  # AWS flag name -> spec field name


def _s3api(operation: str, live: BucketState, *args: tuple[str, Any]) -> str:
    return aws_command("s3api", operation, ("bucket", live.name), *args, region=live.region)


def block_command(block: PublicAccessBlock, live: BucketState) -> str:
    return _s3api(
        "put-public-access-block", live, ("public-access-block-configuration", block.flags())
    )


def encryption_command(want: Encryption | None, live: BucketState) -> str:
    """Default encryption as the spec says; "any" (None) is put back as SSE-S3 (AES256)."""
    if want is not None and want.sse == NO_ENCRYPTION:
        return _s3api("delete-bucket-encryption", live)
    by_default: dict[str, Any] = {"SSEAlgorithm": want.sse if want else "AES256"}
    if want is not None and want.sse in KMS_ALGORITHMS and want.kms_key_id:
        key = want.kms_key_id
        by_default["KMSMasterKeyID"] = "alias/" + key if key == AWS_MANAGED_KEY else key
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": by_default}
    if want is not None and want.bucket_key is not None:
        rule["BucketKeyEnabled"] = want.bucket_key
    return _s3api(
        "put-bucket-encryption", live, ("server-side-encryption-configuration", {"Rules": [rule]})
    )


def _policy_revert(spec: BucketSpec, live: BucketState) -> str:
    if spec.policy is None:
        return _s3api("delete-bucket-policy", live)
    return _s3api("put-bucket-policy", live, ("policy", document_json(spec.policy)))


def _grants_revert(spec: BucketSpec, live: BucketState) -> str:
    if not spec.grants:
        # no grants beyond the owner's: the canned private ACL is exactly that
        return _s3api("put-bucket-acl", live, ("acl", "private"))
    return (
        f"in the S3 console, bucket {live.name} → Permissions → Access control list: set the "
        "grants the spec lists (put-bucket-acl replaces the whole ACL and needs the owner's id)"
    )


def _versioning_revert(change: Change, live: BucketState) -> str:
    if change.path.endswith(".mfa_delete"):
        state = "Enabled" if change.expected else "Disabled"
        return (
            "only the root user, signing in with its MFA device, can change MFA delete: "
            + _s3api(
                "put-bucket-versioning",
                live,
                ("versioning-configuration", {"Status": "Enabled", "MFADelete": state}),
                ("mfa", "SERIAL CODE"),
            )
        )
    if change.expected == "Disabled":
        return (
            "versioning once enabled cannot be turned off, only suspended: "
            + _s3api(
                "put-bucket-versioning", live, ("versioning-configuration", {"Status": "Suspended"})
            )
            + " (or accept it)"
        )
    return _s3api(
        "put-bucket-versioning", live, ("versioning-configuration", {"Status": change.expected})
    )


def _logging_revert(spec: BucketSpec, live: BucketState) -> str:
    status: dict[str, Any] = {}
    if spec.logging is not None:
        status["LoggingEnabled"] = {
            "TargetBucket": spec.logging.target_bucket,
            "TargetPrefix": spec.logging.prefix,
        }
    return _s3api("put-bucket-logging", live, ("bucket-logging-status", status))


def _tags_revert(spec: BucketSpec, live: BucketState) -> str:
    tags = spec.tags or {}
    if not tags:
        return _s3api("delete-bucket-tagging", live)
    tag_set = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return _s3api("put-bucket-tagging", live, ("tagging", {"TagSet": tag_set}))


def _accept(change: Change) -> str | None:
    """The spec edit that writes the live value down."""
    top, _, rest = change.path.partition(".")
    if top == POLICY:
        if rest == "Version":
            return f"set policy.Version: {yaml_flow(change.actual)}"
        verb = "add to" if change.op == "add" else "remove from"
        value = change.actual if change.op == "add" else change.expected
        return f"{verb} policy.Statement: {yaml_flow(value)}"
    if top == PUBLIC_ACCESS_BLOCK:
        if not rest:  # no block at all: every flag the spec wants on is off live
            off = {_SPEC_FLAG[flag]: False for flag in change.expected or {}}
            return f"set public_access_block: {yaml_flow(off)}"
        return f"set public_access_block.{_SPEC_FLAG.get(rest, rest)}: {yaml_flow(change.actual)}"
    if top == GRANTS:
        verb = "add to" if change.op == "add" else "remove from"
        value = change.actual if change.op == "add" else change.expected
        return f"{verb} grants: {yaml_flow(value)}"
    if top == ENCRYPTION:
        return f"set encryption: {yaml_flow(change.actual or {'sse': NO_ENCRYPTION})}"
    if top == TAGS:
        key = rest
        if change.op == "remove":
            return f"remove the tag {key} from tags"
        return f"set in tags: {yaml_flow({key: change.actual})}"
    if top in (VERSIONING, OBJECT_OWNERSHIP, LOGGING):
        return f"set {change.path}: {yaml_flow(change.actual)}"
    return None


def _revert(change: Change, spec: BucketSpec, live: BucketState) -> str | None:
    top = change.path.partition(".")[0]
    if top == POLICY:
        return _policy_revert(spec, live)
    if top == PUBLIC_ACCESS_BLOCK:
        return block_command(spec.public_access_block, live)
    if top == GRANTS:
        return _grants_revert(spec, live)
    if top == ENCRYPTION:
        return encryption_command(spec.encryption, live)
    if top == VERSIONING:
        return _versioning_revert(change, live)
    if top == OBJECT_OWNERSHIP and spec.object_ownership:
        controls = {"Rules": [{"ObjectOwnership": spec.object_ownership}]}
        return _s3api("put-bucket-ownership-controls", live, ("ownership-controls", controls))
    if top == LOGGING:
        return _logging_revert(spec, live)
    if top == TAGS:
        return _tags_revert(spec, live)
    return None


def drift_next_steps(spec: BucketSpec, live: BucketState) -> Callable[[Change], Advice]:
    """(revert, accept) for each change of a bucket that has a spec."""

    def advise(change: Change) -> Advice:
        return _revert(change, spec, live), _accept(change)

    return advise


def unmanaged_next_steps(baseline: BucketSpec, live: BucketState) -> Callable[[Change], Advice]:
    """A bucket no spec names: close what is public, or write a spec for it.

    The block and the ACL are put back to the private baseline; a public policy statement
    is named for removal (deleting the whole policy could cut off what else it allows).
    """

    def advise(change: Change) -> Advice:
        if not change.world_open or (change.op == "remove" and change.path != PUBLIC_ACCESS_BLOCK):
            return None, None
        top = change.path.partition(".")[0]
        revert: str | None
        if top == POLICY:
            revert = (
                f"remove that statement from the policy of bucket {live.name}: edit the "
                "output of " + _s3api("get-bucket-policy", live) + ", then put-bucket-policy"
            )
        else:
            revert = _revert(change, baseline, live)
        return revert, IMPORT_HINT.format(id=live.name)

    return advise


def account_block_command(account: str | None, region: str) -> str:
    """Turn every flag of the account-wide Block Public Access on."""
    return aws_command(
        "s3control",
        "put-public-access-block",
        ("account-id", account or "ACCOUNT_ID"),
        ("public-access-block-configuration", PublicAccessBlock().flags()),
        region=region,
    )
