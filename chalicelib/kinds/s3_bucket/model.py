"""S3 bucket state and spec: the frozen data the bucket collector, specs and compare share.

Kept apart from `model.py` so the bucket kind plugs in without touching the shared types.
Values are canonical on both sides (grantee group URIs in full, flags as booleans), so
comparison is plain equality per property. Pure data: no boto3, no clock, no environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from chalicelib.compare.policy_document import PolicyDocument
from chalicelib.model import SourceLocation

# Property names, as specs spell them and Change paths start with.
POLICY = "policy"
PUBLIC_ACCESS_BLOCK = "public_access_block"
ENCRYPTION = "encryption"
VERSIONING = "versioning"
OBJECT_OWNERSHIP = "object_ownership"
GRANTS = "grants"
LOGGING = "logging"
TAGS = "tags"

# Compared on every bucket, even when a spec leaves them out: these decide who can read it.
SECURITY_PROPERTIES: tuple[str, ...] = (POLICY, GRANTS, PUBLIC_ACCESS_BLOCK, ENCRYPTION)
# Compared only when a spec writes them.
PINNED_PROPERTIES: tuple[str, ...] = (VERSIONING, OBJECT_OWNERSHIP, LOGGING, TAGS)
ALL_PROPERTIES: tuple[str, ...] = SECURITY_PROPERTIES + PINNED_PROPERTIES

# (AWS name, spec name) of the four Block Public Access flags, in the console's order.
PAB_FLAGS: tuple[tuple[str, str], ...] = (
    ("BlockPublicAcls", "block_public_acls"),
    ("IgnorePublicAcls", "ignore_public_acls"),
    ("BlockPublicPolicy", "block_public_policy"),
    ("RestrictPublicBuckets", "restrict_public_buckets"),
)

GROUP_URI_PREFIX = "http://acs.amazonaws.com/groups/"
ALL_USERS = GROUP_URI_PREFIX + "global/AllUsers"
AUTHENTICATED_USERS = GROUP_URI_PREFIX + "global/AuthenticatedUsers"
LOG_DELIVERY = GROUP_URI_PREFIX + "s3/LogDelivery"
# Short names a spec may use for the predefined groups.
GROUP_NAMES: Mapping[str, str] = {
    "AllUsers": ALL_USERS,
    "AuthenticatedUsers": AUTHENTICATED_USERS,
    "LogDelivery": LOG_DELIVERY,
}
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})

GranteeType = Literal["id", "group", "email"]
NO_ENCRYPTION = "none"
# Default-encryption algorithms that use a KMS key.
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
# The spelling of the AWS-managed S3 key (alias aws/s3): what GetBucketEncryption implies
# when it names no KMSMasterKeyID, and what `import` writes for it.
AWS_MANAGED_KEY = "aws/s3"


@dataclass(frozen=True)
class PublicAccessBlock:
    """The four flags; `None` on a state means no block is configured (all effectively off)."""

    block_public_acls: bool = True
    ignore_public_acls: bool = True
    block_public_policy: bool = True
    restrict_public_buckets: bool = True

    def flags(self) -> dict[str, bool]:
        """AWS flag name -> value, in the console's order."""
        return {aws: bool(getattr(self, name)) for aws, name in PAB_FLAGS}


ALL_OFF = PublicAccessBlock(False, False, False, False)


@dataclass(frozen=True)
class Encryption:
    """Default encryption: `sse` is AES256, aws:kms, aws:kms:dsse, or "none".

    On a spec, `kms_key_id=None` means "any key of the bucket's own account" and
    `bucket_key=None` "not compared". On a state read from S3, SSE-KMS without a key id is
    the AWS-managed key, spelled `AWS_MANAGED_KEY`.
    """

    sse: str
    kms_key_id: str | None = None
    bucket_key: bool | None = None


@dataclass(frozen=True)
class Versioning:
    """`status`: Enabled, Suspended or Disabled (never enabled). `mfa_delete` None: not compared."""

    status: str
    mfa_delete: bool | None = None


@dataclass(frozen=True, order=True)
class Grant:
    """One ACL grant: a canonical user id, a group URI (in full) or an email, and a permission."""

    grantee_type: GranteeType
    grantee: str
    permission: str


@dataclass(frozen=True)
class Logging:
    """Server access logging target; a bucket without logging has `logging=None`."""

    target_bucket: str
    prefix: str = ""


@dataclass(frozen=True)
class BucketState:
    """A bucket as read from S3. Only properties in `read` hold live values.

    `unreadable` maps a property to why it could not be read ("GetBucketAcl: AccessDenied"),
    so its finding can say `unknown` for that property without failing the others.
    """

    name: str
    account: str | None
    region: str
    owner_id: str | None = None
    policy: PolicyDocument | None = None
    public_access_block: PublicAccessBlock | None = None
    encryption: Encryption | None = None
    versioning: Versioning = Versioning("Disabled", False)
    object_ownership: str | None = None
    grants: frozenset[Grant] = frozenset()
    logging: Logging | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    read: frozenset[str] = frozenset()
    unreadable: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BucketSpec:
    """The desired state of one bucket, matched by `name` (+ `account`, `region` when given).

    Security properties always have an expectation: `policy=None` means no bucket policy,
    `grants` lists the grants beyond the owner's FULL_CONTROL (empty: none),
    `public_access_block` defaults to all four on, `encryption=None` means "some default
    encryption". The others are compared only when named in `pinned`.
    """

    source: SourceLocation
    name: str
    account: str | None = None
    region: str | None = None
    policy: PolicyDocument | None = None
    public_access_block: PublicAccessBlock = PublicAccessBlock()
    encryption: Encryption | None = None
    grants: frozenset[Grant] = frozenset()
    versioning: Versioning | None = None
    object_ownership: str | None = None
    logging: Logging | None = None
    tags: Mapping[str, str] | None = None
    pinned: frozenset[str] = frozenset()

    def compared(self) -> tuple[str, ...]:
        """The properties this spec is compared on, in report order."""
        return tuple(p for p in ALL_PROPERTIES if p in SECURITY_PROPERTIES or p in self.pinned)

    def label(self) -> str:
        return self.name
