"""`kind: s3_bucket` documents -> `BucketSpec`, and the duplicate check for the catalog.

The schema has already checked shapes; this builder is the semantic check: the policy
parses as an IAM policy, a KMS key only goes with aws:kms, no `aws:` tags, no grant
listed twice, no `email` grantee (S3 answers with canonical ids, so it could never
match). It does not import `specs.parse` (which imports it for the KINDS table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib.compare.policy_document import PolicyDocument, PolicyError, parse_policy
from chalicelib.errors import SpecError
from chalicelib.kinds.s3_bucket.model import (
    GROUP_NAMES,
    KMS_ALGORITHMS,
    LOGGING,
    NO_ENCRYPTION,
    OBJECT_OWNERSHIP,
    PAB_FLAGS,
    TAGS,
    VERSIONING,
    BucketSpec,
    Encryption,
    Grant,
    GranteeType,
    Logging,
    PublicAccessBlock,
    Versioning,
)
from chalicelib.specs.builder import Skip
from chalicelib.specs.yamldoc import FieldPath, SpecDocument

Issue = tuple[FieldPath, SpecError]
EMAIL_GRANTEE_UNSUPPORTED = (
    "email grantees cannot be compared: S3 reports every grant by the account's canonical "
    "user id (GetBucketAcl never returns the email), so this spec would drift forever; "
    "write canonical_id: <that account's canonical user id> instead"
)
_GRANTEE_KEYS: tuple[tuple[str, GranteeType], ...] = (
    ("canonical_id", "id"),
    ("group", "group"),
    ("email", "email"),
)


class _Issues:
    def __init__(self, doc: SpecDocument, skip: Callable[[FieldPath], bool]) -> None:
        self.doc = doc
        self.skip = skip
        self.items: list[Issue] = []

    def add(self, path: FieldPath, message: str) -> None:
        if not self.skip(path):
            self.items.append((path, self.doc.error(path, message)))

    def rejected(self, path: FieldPath) -> bool:
        """The schema rejected this field or a parent (not merely something below it)."""
        if isinstance(self.skip, Skip):
            return self.skip.rejected(path)
        return self.skip(path)

    def add_beside(self, path: FieldPath, message: str) -> None:
        """An issue that a schema error below `path` does not explain (a grant's grantee
        count beside a misspelt permission): reported unless `path` itself was rejected."""
        if not self.rejected(path):
            self.items.append((path, self.doc.error(path, message)))


def _policy(data: Mapping[str, Any], issues: _Issues) -> PolicyDocument | None:
    raw = data.get("policy")
    if raw is None or issues.skip(("policy",)):
        return None
    try:
        return parse_policy(raw)
    except PolicyError as exc:
        issues.add(("policy",), f"not a valid policy document: {exc}")
        return None


def _public_access_block(data: Mapping[str, Any]) -> PublicAccessBlock:
    """Flags not written default to on: leaving one out never opens the bucket."""
    raw = data.get("public_access_block")
    if not isinstance(raw, Mapping):
        return PublicAccessBlock()
    return PublicAccessBlock(*(raw.get(name, True) is not False for _, name in PAB_FLAGS))


def _encryption(data: Mapping[str, Any], issues: _Issues) -> Encryption | None:
    raw = data.get("encryption")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("sse"), str):
        return None
    sse = raw["sse"]
    key = raw.get("kms_key_id")
    bucket_key = raw.get("bucket_key")
    if key is not None and sse not in KMS_ALGORITHMS:
        issues.add(("encryption", "kms_key_id"), f"a KMS key only applies to aws:kms, not {sse}")
    if sse == NO_ENCRYPTION and bucket_key is not None:
        issues.add(("encryption", "bucket_key"), "a bucket key needs encryption; remove it")
    return Encryption(sse, key if isinstance(key, str) else None, bucket_key)


def _versioning(data: Mapping[str, Any]) -> Versioning | None:
    raw = data.get("versioning")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("status"), str):
        return None
    mfa = raw.get("mfa_delete")
    return Versioning(raw["status"], mfa if isinstance(mfa, bool) else None)


def _grants(data: Mapping[str, Any], issues: _Issues) -> frozenset[Grant]:
    raw = data.get("grants")
    if not isinstance(raw, list):
        return frozenset()
    seen: dict[Grant, int] = {}
    for index, item in enumerate(raw):
        path: FieldPath = ("grants", index)
        if issues.rejected(path) or not isinstance(item, Mapping):
            continue
        # the grantee is checked even when the schema rejected another field of the grant
        found = [(key, kind) for key, kind in _GRANTEE_KEYS if key in item]
        if len(found) != 1:
            names = ", ".join(key for key, _ in found) or "none"
            message = f"a grant needs exactly one of canonical_id or group; found {names}"
            issues.add_beside(path, message)
            continue
        key, kind = found[0]
        if issues.skip((*path, key)):
            continue
        if kind == "email":
            issues.add((*path, key), EMAIL_GRANTEE_UNSUPPORTED)
            continue
        value = str(item[key])
        if kind == "group":
            value = GROUP_NAMES.get(value, value)
            if not value.startswith("http://acs.amazonaws.com/groups/"):
                known = ", ".join(GROUP_NAMES)
                issues.add((*path, key), f"unknown group {item[key]!r} (use {known} or its URI)")
                continue
        if issues.skip(path):
            continue  # a field of it was rejected: no grant is built from the rest
        grant = Grant(kind, value, str(item.get("permission", "")))
        if grant in seen:
            issues.add(path, f"same grant as grants[{seen[grant]}]")
            continue
        seen[grant] = index
    return frozenset(seen)


def _logging(data: Mapping[str, Any]) -> Logging | None:
    raw = data.get("logging")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("target_bucket"), str):
        return None
    return Logging(raw["target_bucket"], str(raw.get("prefix", "")))


def _tags(data: Mapping[str, Any], issues: _Issues) -> dict[str, str] | None:
    tags = data.get("tags")
    if not isinstance(tags, Mapping):
        return None
    for key in tags:
        if str(key).lower().startswith("aws:"):
            issues.add(
                ("tags", key), "tags starting with aws: belong to AWS and are always ignored"
            )
    return {str(k): str(v) for k, v in tags.items()}


def build_s3_bucket(
    doc: SpecDocument, skip: Callable[[FieldPath], bool]
) -> tuple[BucketSpec | None, list[Issue]]:
    """A BucketSpec from a schema-checked document, or the semantic issues."""
    data = doc.data
    issues = _Issues(doc, skip)
    name = data.get("name")
    policy = _policy(data, issues)
    encryption = _encryption(data, issues)
    grants = _grants(data, issues)
    tags = _tags(data, issues)
    if issues.items or not isinstance(name, str):
        return None, issues.items
    pinned = frozenset(p for p in (VERSIONING, OBJECT_OWNERSHIP, LOGGING, TAGS) if p in data)
    spec = BucketSpec(
        source=doc.location(),
        name=name,
        account=data.get("account"),
        region=data.get("region"),
        policy=policy,
        public_access_block=_public_access_block(data),
        encryption=encryption,
        grants=grants,
        versioning=_versioning(data),
        object_ownership=data.get("object_ownership"),
        logging=_logging(data),
        tags=tags,
        pinned=pinned,
    )
    return spec, []


def _overlap(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def s3_bucket_conflicts(specs: Sequence[BucketSpec]) -> list[SpecError]:
    """Two specs that could claim one bucket (same name, overlapping account and region)."""
    errors: list[SpecError] = []
    seen: dict[str, list[BucketSpec]] = {}  # by name: only same-named specs can collide
    for spec in specs:
        for first in seen.get(spec.name, ()):
            if _overlap(first.account, spec.account) and _overlap(first.region, spec.region):
                errors.append(
                    SpecError(
                        f"bucket {spec.name!r} is also specified in {first.source}",
                        spec.source.file,
                        spec.source.line,
                        "name",
                    )
                )
                break
        seen.setdefault(spec.name, []).append(spec)
    return errors


def match_bucket(
    specs: Sequence[BucketSpec], name: str, account: str | None, region: str | None
) -> BucketSpec | None:
    """The spec for a live bucket: same name, and account/region when the spec gives them."""
    for spec in specs:
        if (
            spec.name == name
            and (spec.account is None or account is None or spec.account == account)
            and (spec.region is None or region is None or spec.region == region)
        ):
            return spec
    return None
