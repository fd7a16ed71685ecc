"""Reads S3 buckets into canonical `BucketState`, one table row per property.

get → transform: `BucketCollector` does the I/O; the `parse_*` functions are pure and
tested on canned responses. Each property is one row of `PROPERTY_READS`: the API call,
the error codes that mean "not configured" (and the value that stands for it), and the
IAM permission it needs. AccessDenied on one property is recorded on the state
(`unreadable`), so the finding says `unknown` for that property and the sweep goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.compare.policy_document import PolicyError, parse_policy
from chalicelib.errors import ReadError
from chalicelib.kinds.s3_bucket.model import (
    ALL_PROPERTIES,
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
    SECURITY_PROPERTIES,
    TAGS,
    VERSIONING,
    BucketState,
    Encryption,
    Grant,
    Logging,
    PublicAccessBlock,
    Versioning,
)

ClientFactory = Callable[[str], Any]
WORKERS = 8
LIST_PAGE_SIZE = 10_000  # ListBuckets' maximum MaxBuckets
NO_SUCH_BUCKET = frozenset({"NoSuchBucket"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


# -- pure transforms ---------------------------------------------------------------------


def bucket_region(location: object) -> str:
    """GetBucketLocation's LocationConstraint as a region: None/"" is us-east-1, EU eu-west-1."""
    if not location:
        return "us-east-1"
    if location == "EU":
        return "eu-west-1"
    return str(location)


def parse_policy_response(response: Mapping[str, Any]) -> Any:
    text = response.get("Policy")
    if not text:
        return None
    try:
        return parse_policy(text)
    except PolicyError as exc:  # S3 validates policies, so this means a truncated read
        raise ReadError(f"the bucket policy could not be read as JSON: {exc}") from exc


def parse_public_access_block(response: Mapping[str, Any]) -> PublicAccessBlock:
    config = response.get("PublicAccessBlockConfiguration", {})
    return PublicAccessBlock(*(bool(config.get(aws, False)) for aws, _ in PAB_FLAGS))


def parse_encryption(response: Mapping[str, Any]) -> Encryption:
    """The first rule's default (S3 keeps one); no rule means no default encryption.

    SSE-KMS without a KMSMasterKeyID uses the AWS-managed key: it is named explicitly
    (`aws/s3`) so that a spec written from it pins that key, and a swap is drift.
    """
    rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault")
        if default:
            sse = str(default.get("SSEAlgorithm", ""))
            key = default.get("KMSMasterKeyID") or None
            if key is None and sse in KMS_ALGORITHMS:
                key = AWS_MANAGED_KEY
            return Encryption(
                sse=sse,
                kms_key_id=key,
                bucket_key=bool(rule.get("BucketKeyEnabled", False)),
            )
    return Encryption(NO_ENCRYPTION)


def parse_versioning(response: Mapping[str, Any]) -> Versioning:
    return Versioning(
        status=str(response.get("Status") or "Disabled"),
        mfa_delete=response.get("MFADelete") == "Enabled",
    )


def parse_ownership(response: Mapping[str, Any]) -> str | None:
    rules = response.get("OwnershipControls", {}).get("Rules", [])
    return str(rules[0]["ObjectOwnership"]) if rules else None


def parse_grantee(grantee: Mapping[str, Any]) -> tuple[str, str] | None:
    """(type, value) of an ACL grantee: canonical id, group URI or email."""
    kind = grantee.get("Type")
    if kind == "Group" or (kind is None and grantee.get("URI")):
        return "group", str(grantee.get("URI", ""))
    if kind == "AmazonCustomerByEmail" or (kind is None and grantee.get("EmailAddress")):
        return "email", str(grantee.get("EmailAddress", ""))
    if grantee.get("ID"):
        return "id", str(grantee["ID"])
    return None


def parse_acl(response: Mapping[str, Any]) -> tuple[str | None, frozenset[Grant]]:
    """(owner id, grants beyond the owner's FULL_CONTROL, which is the baseline)."""
    owner = response.get("Owner", {}).get("ID")
    grants = set()
    for item in response.get("Grants", []):
        grantee = parse_grantee(item.get("Grantee", {}))
        permission = str(item.get("Permission", ""))
        if grantee is None:
            continue
        if grantee == ("id", owner) and permission == "FULL_CONTROL":
            continue
        grants.add(Grant(grantee[0], grantee[1], permission))  # type: ignore[arg-type]
    return owner, frozenset(grants)


def parse_logging(response: Mapping[str, Any]) -> Logging | None:
    enabled = response.get("LoggingEnabled")
    if not enabled:
        return None
    return Logging(str(enabled.get("TargetBucket", "")), str(enabled.get("TargetPrefix", "")))


def parse_tags(response: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in response.get("TagSet", [])}


# -- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyRead:
    """One row: how to read one property, and what "not configured" looks like."""

    prop: str
    api: str  # the API call, as CloudTrail and IAM name it
    method: str  # the boto3 method
    not_configured: frozenset[str]  # error codes meaning "this bucket has none"
    absent: Any  # the value that stands for "none"
    permission: str
    parse: Callable[[Mapping[str, Any]], Any]


PROPERTY_READS: tuple[PropertyRead, ...] = (
    PropertyRead(
        POLICY,
        "GetBucketPolicy",
        "get_bucket_policy",
        frozenset({"NoSuchBucketPolicy"}),
        None,
        "s3:GetBucketPolicy",
        parse_policy_response,
    ),
    PropertyRead(
        PUBLIC_ACCESS_BLOCK,
        "GetPublicAccessBlock",
        "get_public_access_block",
        frozenset({"NoSuchPublicAccessBlockConfiguration"}),
        None,
        "s3:GetBucketPublicAccessBlock",
        parse_public_access_block,
    ),
    PropertyRead(
        ENCRYPTION,
        "GetBucketEncryption",
        "get_bucket_encryption",
        frozenset({"ServerSideEncryptionConfigurationNotFoundError"}),
        Encryption(NO_ENCRYPTION),
        "s3:GetEncryptionConfiguration",
        parse_encryption,
    ),
    PropertyRead(
        VERSIONING,
        "GetBucketVersioning",
        "get_bucket_versioning",
        frozenset(),
        Versioning("Disabled", False),
        "s3:GetBucketVersioning",
        parse_versioning,
    ),
    PropertyRead(
        OBJECT_OWNERSHIP,
        "GetBucketOwnershipControls",
        "get_bucket_ownership_controls",
        frozenset({"OwnershipControlsNotFoundError"}),
        None,
        "s3:GetBucketOwnershipControls",
        parse_ownership,
    ),
    PropertyRead(
        GRANTS,
        "GetBucketAcl",
        "get_bucket_acl",
        frozenset(),
        (None, frozenset()),
        "s3:GetBucketAcl",
        parse_acl,
    ),
    PropertyRead(
        LOGGING,
        "GetBucketLogging",
        "get_bucket_logging",
        frozenset(),
        None,
        "s3:GetBucketLogging",
        parse_logging,
    ),
    PropertyRead(
        TAGS,
        "GetBucketTagging",
        "get_bucket_tagging",
        frozenset({"NoSuchTagSet"}),
        {},
        "s3:GetBucketTagging",
        parse_tags,
    ),
)
READS_BY_PROPERTY: Mapping[str, PropertyRead] = {row.prop: row for row in PROPERTY_READS}

# Reads outside the per-property table, with the permission each needs.
BUCKET_READS: tuple[tuple[str, str], ...] = (
    ("ListBuckets", "s3:ListAllMyBuckets"),
    ("GetBucketLocation", "s3:GetBucketLocation"),
    ("GetPublicAccessBlock (account, s3-control)", "s3:GetAccountPublicAccessBlock"),
)


def required_permissions() -> list[str]:
    """Every IAM action this collector needs; the Lambda's policy must grant exactly these."""
    found = [row.permission for row in PROPERTY_READS] + [perm for _, perm in BUCKET_READS]
    return sorted(set(found))


class _Gone(Exception):
    """The bucket no longer exists (NoSuchBucket mid-read)."""


# -- I/O ---------------------------------------------------------------------------------


class BucketCollector:
    """Live reads for one account. `s3_for_region` returns a client for a region.

    Clients are made on the calling thread before any fan-out (boto3 sessions are not
    thread-safe; clients are), then shared by the worker threads.
    """

    def __init__(
        self,
        s3_for_region: ClientFactory,
        s3control_for_region: ClientFactory | None = None,
        *,
        home_region: str = "us-east-1",
        workers: int = WORKERS,
    ) -> None:
        self._s3_for_region = s3_for_region
        self._s3control_for_region = s3control_for_region
        self._home_region = home_region
        self._workers = workers
        self._clients: dict[str, Any] = {}

    @property
    def home_region(self) -> str:
        """Where account-wide calls go (ListBuckets, GetBucketLocation, s3-control)."""
        return self._home_region

    def _s3(self, region: str) -> Any:
        if region not in self._clients:
            self._clients[region] = self._s3_for_region(region)
        return self._clients[region]

    def region_of(self, name: str) -> str | None:
        """The bucket's region, or None when it does not exist."""
        try:
            response = self._s3(self._home_region).get_bucket_location(Bucket=name)
        except ClientError as exc:
            code = _code(exc)
            if code in NO_SUCH_BUCKET:
                return None
            raise ReadError(f"GetBucketLocation on {name} failed: {code}", code=code) from exc
        except BotoCoreError as exc:
            raise ReadError(f"GetBucketLocation on {name} failed: {exc}") from exc
        return bucket_region(response.get("LocationConstraint"))

    def list_buckets(self) -> dict[str, str | None]:
        """Every bucket in the account -> its region when ListBuckets says (`BucketRegion`).

        One paginated ListBuckets with a page size: AWS rejects an unpaged ListBuckets on
        accounts whose bucket quota is above 10,000, and pages with ContinuationToken, which
        the paginator follows. (moto answers MaxBuckets=10000 with every bucket, no token.)
        A bucket without `BucketRegion` maps to None: `locate` asks GetBucketLocation.
        """
        found: dict[str, str | None] = {}
        try:
            paginator = self._s3(self._home_region).get_paginator("list_buckets")
            for page in paginator.paginate(PaginationConfig={"PageSize": LIST_PAGE_SIZE}):
                for bucket in page.get("Buckets", []):
                    found[str(bucket["Name"])] = bucket.get("BucketRegion") or None
        except ClientError as exc:
            code = _code(exc)
            raise ReadError(f"ListBuckets failed: {code}", code=code) from exc
        except BotoCoreError as exc:
            raise ReadError(f"ListBuckets failed: {exc}") from exc
        return found

    def list_names(self) -> list[str]:
        """Every bucket name in the account (see `list_buckets`)."""
        return list(self.list_buckets())

    def locate(self, listing: Mapping[str, str | None]) -> dict[str, str | ReadError | None]:
        """Region of every listed bucket: from the listing, else one GetBucketLocation each.

        Each value is the region, None (gone since listing) or the ReadError that stopped it.
        """
        located: dict[str, str | ReadError | None] = {
            name: region for name, region in listing.items() if region
        }
        unknown = [name for name in listing if name not in located]
        if unknown:
            self._s3(self._home_region)  # made on this thread, before the workers use it
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                for name, found in zip(unknown, pool.map(self._safe_region, unknown), strict=True):
                    located[name] = found
        return {name: located[name] for name in listing}

    def _property(self, client: Any, name: str, row: PropertyRead) -> tuple[Any, str | None]:
        """(value, None) or (None, why it could not be read). Raises _Gone on NoSuchBucket."""
        try:
            response = getattr(client, row.method)(Bucket=name)
        except ClientError as exc:
            code = _code(exc)
            if code in row.not_configured:
                return row.absent, None
            if code in NO_SUCH_BUCKET:
                raise _Gone from exc
            return None, f"{row.api}: {code}"
        except BotoCoreError as exc:
            return None, f"{row.api}: {exc}"
        try:
            return row.parse(response), None
        except ReadError as exc:
            return None, f"{row.api}: {exc}"

    def read(
        self,
        name: str,
        *,
        account: str | None,
        properties: Iterable[str] = ALL_PROPERTIES,
        region: str | None = None,
        read_rest: Callable[[Mapping[str, str]], bool] | None = None,
    ) -> BucketState | None:
        """The bucket with the named properties read; None when it does not exist.

        Raises ReadError only when the bucket itself cannot be located (GetBucketLocation
        denied); a property that cannot be read is recorded in `unreadable`.
        `read_rest`: the tags are read first, and the other properties only when it says
        so for them (a tag rule that ignores the bucket); otherwise the state holds only
        its tags. Tags that cannot be read leave the rest to be read.
        """
        region = region or self.region_of(name)
        if region is None:
            return None
        client = self._s3(region)
        values: dict[str, Any] = {}
        unreadable: dict[str, str] = {}
        wanted = [p for p in ALL_PROPERTIES if p in set(properties)]
        if read_rest is not None:
            wanted = [TAGS, *(p for p in wanted if p != TAGS)]
        try:
            for prop in wanted:
                if read_rest is not None and prop != TAGS and TAGS in values:
                    if not read_rest(values[TAGS]):
                        wanted = [TAGS]
                        break
                    read_rest = None  # decided: read the rest
                value, problem = self._property(client, name, READS_BY_PROPERTY[prop])
                if problem is None:
                    values[prop] = value
                else:
                    unreadable[prop] = problem
        except _Gone:
            return None
        owner, grants = values.pop(GRANTS, (None, frozenset()))
        if GRANTS in wanted and GRANTS not in unreadable:
            values[GRANTS] = grants
        return BucketState(
            name=name,
            account=account,
            region=region,
            owner_id=owner,
            read=frozenset(p for p in wanted if p not in unreadable),
            unreadable=unreadable,
            **values,
        )

    def read_many(
        self,
        names: Sequence[str],
        *,
        account: str | None,
        properties_for: Callable[[str], Iterable[str]] = lambda _: SECURITY_PROPERTIES,
        regions: Mapping[str, str | ReadError | None] | None = None,
        read_rest: Callable[[str, Mapping[str, str]], bool] | None = None,
    ) -> list[tuple[str, BucketState | ReadError | None]]:
        """Read many buckets in a bounded thread pool, in the order given.

        `regions` holds locations already known (`locate`); the others are located here.
        Each result is the state, None (gone since listing) or the ReadError that stopped it.
        `read_rest(name, tags)`: tags first, the rest only when it says so (see `read`).
        """
        known = dict(regions or {})
        located = {**self.locate({n: None for n in names if n not in known}), **known}
        for region in {r for r in located.values() if isinstance(r, str)}:
            self._s3(region)  # made here, on this thread, before the workers use it

        def one(name: str) -> BucketState | ReadError | None:
            region = located[name]
            if region is None or isinstance(region, ReadError):
                return region
            rest = None if read_rest is None else functools.partial(read_rest, name)
            try:
                return self.read(
                    name,
                    account=account,
                    properties=properties_for(name),
                    region=region,
                    read_rest=rest,
                )
            except ReadError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            return list(zip(names, pool.map(one, names), strict=True))

    def _safe_region(self, name: str) -> str | ReadError | None:
        try:
            return self.region_of(name)
        except ReadError as exc:
            return exc

    def read_account_block(self, account: str, region: str) -> PublicAccessBlock | None:
        """The account-wide Block Public Access settings (s3-control); None if none is set."""
        if self._s3control_for_region is None:
            raise ReadError("no s3control client configured for account-level reads")
        try:
            response = self._s3control_for_region(region).get_public_access_block(AccountId=account)
        except ClientError as exc:
            code = _code(exc)
            if code == "NoSuchPublicAccessBlockConfiguration":
                return None
            raise ReadError(
                f"GetPublicAccessBlock for account {account} failed: {code}", code=code
            ) from exc
        except BotoCoreError as exc:
            raise ReadError(f"GetPublicAccessBlock for account {account} failed: {exc}") from exc
        return parse_public_access_block(response)
