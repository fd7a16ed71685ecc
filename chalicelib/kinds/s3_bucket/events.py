"""Event-table rows for S3 buckets: every bucket call names its bucket in `bucketName`.

Published records show what else to expect there: `""`, redactions made only of dots,
and single-element lists; none of these names a bucket, so the record is skipped as
`no_resource` with the value found. The account-level Block Public Access calls
(s3-control, logged with eventSource s3.amazonaws.com) name no bucket: they route to one
account-scope ref, whose finding says that every bucket in the account is affected.
"""

from __future__ import annotations

import re

from chalicelib.events.locators import EventRoute, Locator
from chalicelib.events.record import CloudTrailRecord
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.s3_bucket.compare import ACCOUNT_BLOCK_NAME
from chalicelib.model import ResourceRef

S3_SOURCE = "s3.amazonaws.com"

# Current rules are 3-63 of [a-z0-9.-]; buckets made in us-east-1 before 2018 may also use
# capitals and underscores, up to 255 characters.
_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")


def bucket_name(value: object) -> str | None:
    """A usable bucket name, or None for "", lists and redactions like "..."."""
    if not isinstance(value, str) or not _BUCKET_NAME.fullmatch(value):
        return None
    return value


def _bucket(record: CloudTrailRecord) -> list[ResourceRef]:
    name = bucket_name(record.request_parameters.get("bucketName"))
    region = record.aws_region
    if name is None or region is None:
        return []
    return [ResourceRef(S3_BUCKET, record.account, region, id=name, name=name)]


def _bucket_miss(record: CloudTrailRecord) -> str:
    params = record.request_parameters
    if "bucketName" not in params:
        return f"{record.event_name}: no requestParameters.bucketName in the record"
    return (
        f"{record.event_name}: requestParameters.bucketName is "
        f"{params['bucketName']!r}, not a bucket name (redacted?)"
    )


def account_block_ref(account: str, region: str) -> ResourceRef:
    """The ref an account-wide Block Public Access change routes to."""
    return ResourceRef(S3_BUCKET, account, region, id=None, name=ACCOUNT_BLOCK_NAME)


def is_account_block(ref: ResourceRef) -> bool:
    return ref.kind == S3_BUCKET and ref.id is None and ref.name == ACCOUNT_BLOCK_NAME


def _account(record: CloudTrailRecord) -> list[ResourceRef]:
    region = record.aws_region
    account = record.account
    if region is None or not account:
        return []
    return [account_block_ref(account, region)]


def _account_miss(record: CloudTrailRecord) -> str:
    return f"{record.event_name}: the record names no account (recipientAccountId)"


BUCKET_NAME = Locator(("requestParameters.bucketName",), _bucket, _bucket_miss)
ACCOUNT = Locator(("recipientAccountId", "userIdentity.accountId"), _account, _account_miss)

_BUCKET_CALLS = (
    "CreateBucket",
    "DeleteBucket",
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutBucketEncryption",
    "DeleteBucketEncryption",
    "PutBucketVersioning",
    "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls",
    "PutBucketLogging",
    "PutBucketTagging",
    "DeleteBucketTagging",
)
_ACCOUNT_CALLS = ("PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock")

S3_ROWS: tuple[EventRoute, ...] = tuple(
    EventRoute(name, S3_SOURCE, S3_BUCKET, BUCKET_NAME) for name in _BUCKET_CALLS
) + tuple(EventRoute(name, S3_SOURCE, S3_BUCKET, ACCOUNT) for name in _ACCOUNT_CALLS)
