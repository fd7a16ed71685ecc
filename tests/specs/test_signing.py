"""Signed spec bundles: `push --sign-key`, `check --verify-key` and the Lambda's source.

KMS runs on moto (in-process `mock_aws`). moto 5.2.5 answers Verify of a signature that
does not match with SignatureValid=false, where AWS raises KMSInvalidSignatureException;
that answer is tested with botocore's Stubber. moto also hashes a DIGEST message again
(getmoto/moto#10202), which is self-consistent between its Sign and Verify, so these
round trips hold on AWS too (verification happens in KMS, never locally).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.cli.main import main
from chalicelib.errors import SpecSetError
from chalicelib.specs.s3_source import S3SpecSource, content_hash
from chalicelib.specs.signing import (
    SIGNATURE_METADATA,
    KmsSigner,
    KmsVerifier,
    SpecSignatureError,
)
from tests.conftest import REGION

BUCKET = "setpoint-specs-123456789012-prod"
KEY = "policies/bundle.json"
WEB = """kind: security_group
name: web
description: Public web
ingress:
  - proto: tcp
    ports: 443
    cidr: 0.0.0.0/0
"""


@pytest.fixture
def kit(aws: None) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]
    kms.create_alias(AliasName="alias/setpoint-specs", TargetKeyId=key["KeyId"])
    other = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]
    return {"s3": s3, "kms": kms, "key": key["Arn"], "other": other["Arn"]}


def forged_bundle(specs: dict[str, str]) -> bytes:
    """What an attacker with s3:PutObject writes: a bundle with a made-up content_hash."""
    return json.dumps(
        {"format_version": "1", "content_hash": "sha256:" + "0" * 64, "specs": specs}
    ).encode()


def specs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str = WEB) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "web.yaml").write_text(text, encoding="utf-8")


def test_a_made_up_content_hash_is_refused_even_without_a_verify_key(kit: dict[str, Any]):
    kit["s3"].put_object(Bucket=BUCKET, Key=KEY, Body=forged_bundle({"p/web.yaml": WEB}))
    with pytest.raises(SpecSetError, match=r"content_hash 'sha256:0+' does not match"):
        S3SpecSource(kit["s3"], f"s3://{BUCKET}/{KEY}").load()


def test_push_signs_and_a_verifying_reader_accepts(
    kit: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    specs_dir(tmp_path, monkeypatch)
    uri = f"s3://{BUCKET}/policies"
    assert (
        main(["push", "--specs", "policies", "--to", uri, "--sign-key", "alias/setpoint-specs"])
        == 0
    )
    head = kit["s3"].head_object(Bucket=BUCKET, Key=KEY)
    assert head["Metadata"]["setpoint-signing-key"] == kit["key"]
    assert head["Metadata"]["setpoint-signing-algorithm"] == "ECDSA_SHA_256"
    source = S3SpecSource(kit["s3"], uri, KmsVerifier(kit["kms"], "alias/setpoint-specs"))
    catalog = source.load()
    assert [spec.name for spec in catalog.specs_of("security_group")] == ["web"]
    assert source.refusals == ()


def _check(verify_key: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(
        [
            *("check", "--specs", f"s3://{BUCKET}/policies", "--region", REGION),
            *("--verify-key", verify_key),
        ]
    )
    return code, capsys.readouterr().err


def test_check_exits_2_on_an_unsigned_bundle(kit: dict[str, Any], capsys: Any):
    specs = {"policies/web.yaml": WEB}
    body = json.dumps({"format_version": "1", "content_hash": content_hash(specs), "specs": specs})
    kit["s3"].put_object(Bucket=BUCKET, Key=KEY, Body=body.encode())
    code, err = _check("alias/setpoint-specs", capsys)
    assert code == 2
    assert f"s3://{BUCKET}/{KEY}: refused: unsigned" in err


def test_check_exits_2_on_a_tampered_bundle(
    kit: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
):
    specs_dir(tmp_path, monkeypatch)
    main(
        ["push", "--specs", "policies", "--to", f"s3://{BUCKET}/policies", "--sign-key", kit["key"]]
    )
    head = kit["s3"].head_object(Bucket=BUCKET, Key=KEY)
    # the attacker keeps the signature and rewrites the specs (with a correct hash)
    specs = {"policies/web.yaml": WEB.replace("443", "5432")}
    body = json.dumps({"format_version": "1", "content_hash": content_hash(specs), "specs": specs})
    kit["s3"].put_object(Bucket=BUCKET, Key=KEY, Body=body.encode(), Metadata=head["Metadata"])
    capsys.readouterr()
    code, err = _check(kit["key"], capsys)
    assert code == 2
    assert "refused: signature does not match the content" in err


def test_check_exits_2_on_a_bundle_signed_by_another_key(
    kit: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
):
    specs_dir(tmp_path, monkeypatch)
    main(
        [
            "push",
            "--specs",
            "policies",
            "--to",
            f"s3://{BUCKET}/policies",
            "--sign-key",
            kit["other"],
        ]
    )
    capsys.readouterr()
    code, err = _check("alias/setpoint-specs", capsys)
    assert code == 2
    assert f"refused: signed by key {kit['other']}, not by the verify key {kit['key']}" in err


def test_another_keys_signature_with_our_key_named_fails_in_kms(kit: dict[str, Any]):
    body = b'{"format_version": "1", "specs": {}}'
    forged = KmsSigner(kit["kms"], kit["other"]).sign(body).metadata()
    forged["setpoint-signing-key"] = kit["key"]
    forged["setpoint-signing-algorithm"] = "ECDSA_SHA_256"
    with pytest.raises(SpecSignatureError, match="signature does not match"):
        KmsVerifier(kit["kms"], kit["key"]).verify("b", body, forged)


def test_aws_answers_a_bad_signature_with_an_exception_and_that_is_a_refusal():
    """Stubber: AWS raises KMSInvalidSignatureException where moto says SignatureValid=false."""
    kms = boto3.client("kms", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:kms:eu-west-1:123456789012:key/k"
    with Stubber(kms) as stub:
        stub.add_response("describe_key", {"KeyMetadata": {"KeyId": "k", "Arn": arn}})
        stub.add_client_error("verify", "KMSInvalidSignatureException", http_status_code=400)
        metadata = {SIGNATURE_METADATA: "AAAA", "setpoint-signing-algorithm": "ECDSA_SHA_256"}
        with pytest.raises(SpecSignatureError, match="signature does not match"):
            KmsVerifier(kms, arn).verify("s3://b/k", b"body", metadata)
