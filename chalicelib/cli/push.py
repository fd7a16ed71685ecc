"""`setpoint push`: validate the specs, then upload them as one bundle object.

Nothing is uploaded unless every spec is valid (the same checks as `setpoint validate`).
The object carries its content hash in metadata; when the stored object already has the
same hash the upload is skipped, so a re-run of CI creates no new version and the Lambda
re-reads nothing. The version id printed is the S3 object version (bucket versioning),
the handle to roll back to.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.cli.common import EXIT_ERROR, EXIT_OK, new_clients
from chalicelib.errors import ConfigError
from chalicelib.specs.bundle import BUNDLE_NAME, SpecBundle, validated_bundle
from chalicelib.specs.s3_source import parse_s3_uri
from chalicelib.specs.signing import SIGNATURE_METADATA, KmsSigner
from chalicelib.specs.spec_index import INDEX_FORMAT_VERSION

# S3 user metadata keys (sent as x-amz-meta-setpoint-content-hash, ...-index).
HASH_METADATA = "setpoint-content-hash"
# the index format the bundle carries (`spec_index`): a bundle pushed without one (by an
# older Setpoint) is uploaded again even when its specs are the same
INDEX_METADATA = "setpoint-index"


def bundle_key(prefix: str) -> str:
    """`--to s3://B/x.json` names the object; any other path is a folder for `bundle.json`."""
    if prefix.lower().endswith(".json"):
        return prefix
    folder = prefix.strip("/")
    return f"{folder}/{BUNDLE_NAME}" if folder else BUNDLE_NAME


@dataclass(frozen=True)
class PushResult:
    bucket: str
    key: str
    content_hash: str
    version_id: str | None
    uploaded: bool

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def _stored(s3: Any, bucket: str, key: str) -> tuple[str | None, str | None, bool, str] | None:
    """(content hash, version id, signed, index format) of the object now at `key`; None
    when none."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied"):
            return None
        raise
    metadata = {k.lower(): v for k, v in head.get("Metadata", {}).items()}
    signed = bool(metadata.get(SIGNATURE_METADATA))
    index = metadata.get(INDEX_METADATA, "")
    return metadata.get(HASH_METADATA), head.get("VersionId"), signed, index


def push_bundle(
    s3: Any, bundle: SpecBundle, bucket: str, key: str, signer: KmsSigner | None = None
) -> PushResult:
    """Upload unless the object there already holds the same content (and, when signing,
    is signed already); the signature rides in the same PutObject as the bytes it signs."""
    stored = _stored(s3, bucket, key)
    index = INDEX_FORMAT_VERSION if bundle.index is not None else ""
    if (
        stored is not None
        and stored[0] == bundle.content_hash
        and (signer is None or stored[2])
        and stored[3] == index
    ):
        return PushResult(bucket, key, bundle.content_hash, stored[1], uploaded=False)
    body = bundle.body()
    metadata = {HASH_METADATA: bundle.content_hash}
    if index:
        metadata[INDEX_METADATA] = index
    if signer is not None:
        metadata.update(signer.sign(body).metadata())
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        Metadata=metadata,
    )
    return PushResult(bucket, key, bundle.content_hash, response.get("VersionId"), uploaded=True)


def bucket_versioning(s3: Any, bucket: str) -> str | None:
    """`Enabled`, `Suspended`, `Off` (never enabled), or None when it cannot be read."""
    try:
        return str(s3.get_bucket_versioning(Bucket=bucket).get("Status") or "Off")
    except ClientError:
        return None


def _version_text(version_id: str | None, versioning: str | None) -> str:
    """The object version, said with what the bucket's versioning means for older bundles
    (a "null" id is what S3 returns while versioning is suspended or was never on)."""
    if versioning == "Enabled" and version_id not in (None, "null"):
        return f"{version_id} (bucket versioning on: earlier bundles are kept)"
    if versioning == "Suspended":
        return "null (bucket versioning is suspended: this bundle replaced the previous one)"
    if versioning == "Off":
        return "none (bucket versioning is off: older bundles are not kept)"
    shown = version_id if version_id not in (None, "null") else "none"
    return f"{shown} (bucket versioning could not be read: s3:GetBucketVersioning)"


def _aws_error(exc: ClientError, uri: str) -> ConfigError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "error")
    operation = getattr(exc, "operation_name", "the call")
    return ConfigError(f"{uri}: {operation} failed: {code}: {error.get('Message', exc)}")


def run_push(args: argparse.Namespace) -> int:
    root = Path(args.specs)
    if not root.exists():
        print(f"error: {args.specs}: no such file or directory", file=sys.stderr)
        return EXIT_ERROR
    bucket, prefix = parse_s3_uri(args.to)  # ConfigError: exit 2 before anything is read
    bundle = validated_bundle(root)  # SpecSetError: every problem, exit 2, nothing uploaded
    if not bundle.specs:
        raise ConfigError(
            f"{args.specs}: no spec files (*.yaml, *.yml) found; nothing uploaded "
            "(an empty bundle would make every resource unmanaged)"
        )
    clients = new_clients()
    sign_key = getattr(args, "sign_key", None)
    signer = KmsSigner(clients.client("kms"), sign_key) if sign_key else None
    s3 = clients.client("s3")
    key = bundle_key(prefix)
    try:
        result = push_bundle(s3, bundle, bucket, key, signer)
    except ClientError as exc:  # the bucket, not a bare botocore message, is what to fix
        raise _aws_error(exc, f"s3://{bucket}/{key}") from None
    versioning = bucket_versioning(s3, bucket)
    state = "uploaded" if result.uploaded else "unchanged (same content hash), not uploaded"
    print(f"{len(bundle.specs)} spec file(s) valid; {result.uri}: {state}")
    print(f"content hash: {result.content_hash}")
    if signer is not None:
        print(f"signed with:  {sign_key}")
    print(f"version id:   {_version_text(result.version_id, versioning)}")
    print(f"Lambda reads it with SETPOINT_SPECS={result.uri}")
    return EXIT_OK
