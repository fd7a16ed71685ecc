"""Signed spec objects: only the holder of an asymmetric KMS key can approve specs.

Anyone with `s3:PutObject` on the spec prefix could otherwise write a bundle that calls
drift "in sync". `setpoint push --sign-key KEY` signs the SHA-256 digest of the exact bytes
it uploads (`kms:Sign`, MessageType DIGEST) and stores the signature, the key's ARN and the
algorithm as S3 user metadata on the same object. Metadata, not a sidecar object: it is
written in the same PutObject as the bytes it signs, so every object version carries its
own signature (no window where a new bundle sits beside an old signature, nothing to keep
in step on rollback), and `GetObject` returns it without a second request.

Readers configured with a verify key (`check --verify-key`, `SETPOINT_SPECS_VERIFY_KEY`)
call `kms:Verify` with *their* key, never the one the metadata names, so a bundle signed by
any other key is refused. Verification happens in KMS rather than locally with the public
key because the Lambda's requirements do not include `cryptography` (requirements.txt),
and bodies are fetched, hence verified, only when their ETag changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError

# S3 user metadata keys (sent as x-amz-meta-setpoint-...)
SIGNATURE_METADATA = "setpoint-signature"
KEY_METADATA = "setpoint-signing-key"
ALGORITHM_METADATA = "setpoint-signing-algorithm"
# algorithms over a SHA-256 digest, most preferred first (the digest is always SHA-256)
SHA256_ALGORITHMS = ("ECDSA_SHA_256", "RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256")


class SpecSignatureError(ConfigError):
    """A spec object that is unsigned, tampered with or signed by another key."""


@dataclass(frozen=True)
class Signature:
    signature: str  # base64
    key_id: str  # the signing key's ARN
    algorithm: str

    def metadata(self) -> dict[str, str]:
        return {
            SIGNATURE_METADATA: self.signature,
            KEY_METADATA: self.key_id,
            ALGORITHM_METADATA: self.algorithm,
        }


def digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def _kms_error(exc: Exception, action: str, key: str) -> ConfigError:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        return ConfigError(f"cannot {action} with KMS key {key!r}: {code}")
    return ConfigError(f"cannot {action} with KMS key {key!r}: {exc}")


class KmsSigner:
    """Signs spec objects with an asymmetric KMS key (`kms:Sign`, CI only)."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self._kms = kms
        self.key_id = key_id

    def _key(self) -> tuple[str, str]:
        """(key ARN, the SHA-256 algorithm to sign with); ConfigError when the key cannot."""
        try:
            meta = self._kms.describe_key(KeyId=self.key_id)["KeyMetadata"]
        except (ClientError, BotoCoreError) as exc:
            raise _kms_error(exc, "sign", self.key_id) from exc
        offered = meta.get("SigningAlgorithms") or []
        if meta.get("KeyUsage") != "SIGN_VERIFY" or not offered:
            raise ConfigError(
                f"KMS key {self.key_id!r} is not an asymmetric SIGN_VERIFY key "
                f"(KeyUsage {meta.get('KeyUsage')!r})"
            )
        for algorithm in SHA256_ALGORITHMS:
            if algorithm in offered:
                return str(meta["Arn"]), algorithm
        raise ConfigError(
            f"KMS key {self.key_id!r} offers no SHA-256 signing algorithm "
            f"({', '.join(offered)}); use ECC_NIST_P256 or an RSA key"
        )

    def sign(self, body: bytes) -> Signature:
        arn, algorithm = self._key()
        try:
            response = self._kms.sign(
                KeyId=arn, Message=digest(body), MessageType="DIGEST", SigningAlgorithm=algorithm
            )
        except (ClientError, BotoCoreError) as exc:
            raise _kms_error(exc, "sign", self.key_id) from exc
        encoded = base64.b64encode(response["Signature"]).decode("ascii")
        return Signature(encoded, arn, algorithm)


class KmsVerifier:
    """Verifies spec objects against the one configured key (`kms:Verify`)."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self._kms = kms
        self.key_id = key_id
        self._arn: str | None = None

    def _key_arn(self) -> str:
        """The configured key's ARN (an alias resolved once), to name a wrong signer."""
        if self._arn is None:
            try:
                self._arn = str(self._kms.describe_key(KeyId=self.key_id)["KeyMetadata"]["Arn"])
            except (ClientError, BotoCoreError) as exc:
                raise _kms_error(exc, "verify specs", self.key_id) from exc
        return self._arn

    def verify(self, name: str, body: bytes, metadata: Mapping[str, str]) -> None:
        """Return when `body` was signed by the configured key; else SpecSignatureError
        naming the object and the problem (ConfigError when KMS cannot be asked)."""
        meta = {k.lower(): v for k, v in metadata.items()}
        encoded = meta.get(SIGNATURE_METADATA)
        if not encoded:
            raise SpecSignatureError(
                f"{name}: refused: unsigned (no {SIGNATURE_METADATA} metadata; "
                "push it with `setpoint push --sign-key`)"
            )
        algorithm = meta.get(ALGORITHM_METADATA, "")
        if algorithm not in SHA256_ALGORITHMS:
            raise SpecSignatureError(
                f"{name}: refused: signing algorithm {algorithm!r} is not one of "
                f"{', '.join(SHA256_ALGORITHMS)}"
            )
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SpecSignatureError(f"{name}: refused: signature is not base64") from None
        expected = self._key_arn()
        signer = meta.get(KEY_METADATA, "")
        if signer and signer not in (expected, self.key_id):
            raise SpecSignatureError(
                f"{name}: refused: signed by key {signer}, not by the verify key {expected}"
            )
        try:
            response = self._kms.verify(
                KeyId=expected,
                Message=digest(body),
                MessageType="DIGEST",
                Signature=signature,
                SigningAlgorithm=algorithm,
            )
            valid = bool(response.get("SignatureValid"))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code != "KMSInvalidSignatureException":
                raise _kms_error(exc, "verify specs", self.key_id) from exc
            valid = False  # what AWS answers for a signature that does not match
        except BotoCoreError as exc:
            raise _kms_error(exc, "verify specs", self.key_id) from exc
        if not valid:
            raise SpecSignatureError(
                f"{name}: refused: signature does not match the content "
                f"(tampered with, or signed by another key than {expected})"
            )
