"""Spec input over a size, node or depth budget is refused before it is parsed.

Unbounded, a 5 MB alias-free bundle took 323 MB and a 16 MB one 880 MB in a 512 MB Lambda;
a document nested 500 deep crashed the composer with RecursionError; and a large document
without a single alias was reported as "aliases expand too far".
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.errors import SpecSetError
from chalicelib.specs.budgets import (
    MAX_BUNDLE_BYTES,
    MAX_BUNDLE_OBJECT_BYTES,
    MAX_DOCUMENT_DEPTH,
    MAX_DOCUMENT_NODES,
    MAX_SPEC_FILE_BYTES,
)
from chalicelib.specs.bundle import validated_bundle
from chalicelib.specs.loading import load_directory
from chalicelib.specs.parse import parse_file
from chalicelib.specs.s3_source import S3SpecSource, content_hash, parse_bundle
from chalicelib.specs.signing import KmsSigner, KmsVerifier
from tests.conftest import REGION

HEADER = "kind: security_group\nname: web\n"
BUCKET = "setpoint-specs-123456789012-prod"


def rules(count: int) -> str:
    """An alias-free ingress list of `count` rules (4 nodes and 3 fields each)."""
    body = "".join(
        f"  - {{proto: tcp, ports: {1 + i % 60000}, cidr: 10.0.0.0/8}}\n" for i in range(count)
    )
    return "ingress:\n" + body


def test_a_large_alias_free_document_is_over_the_node_budget_not_an_alias_problem() -> None:
    text = "# a generated spec\n" + HEADER + rules(MAX_DOCUMENT_NODES // 7 + 10)
    (error,) = parse_file("policies/web.yaml", text).errors
    assert error.file == "policies/web.yaml"
    assert error.line == 2  # where the document starts
    assert "alias" not in error.message
    assert f"over the budget of {MAX_DOCUMENT_NODES:,} per document" in error.message
    nodes = int(error.message.split(" nodes")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert nodes > MAX_DOCUMENT_NODES


def test_a_document_at_the_budget_parses() -> None:
    parsed = parse_file("policies/web.yaml", HEADER + rules(1000))
    assert parsed.errors == ()
    assert len(parsed.specs[0].spec.ingress) == 1000


def test_each_document_is_counted_on_its_own() -> None:
    one = HEADER + rules(MAX_DOCUMENT_NODES // 14)
    parsed = parse_file("policies/web.yaml", f"{one}---\n{one.replace('web', 'db')}")
    assert parsed.errors == ()
    assert len(parsed.specs) == 2


def test_the_second_document_over_budget_is_named_by_its_line() -> None:
    small = HEADER + rules(1)
    big = HEADER.replace("web", "db") + rules(MAX_DOCUMENT_NODES // 7 + 10)
    (error,) = parse_file("policies/web.yaml", f"{small}---\n{big}").errors
    assert error.line == small.count("\n") + 2


def test_alias_expansion_still_says_aliases() -> None:
    lol = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        lol.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
    errors = parse_file("policies/lol.yaml", HEADER + "\n".join(lol) + "\n").errors
    assert any("aliases expand too far" in e.message for e in errors), errors


def test_a_chain_of_aliases_cannot_nest_past_the_depth_budget() -> None:
    """Each anchor wraps the one before: 2 levels in the text, 400 once expanded, which
    the (recursive) walk must not follow to the interpreter's recursion limit."""
    chain = ["x0: &a0 {k: 1}"] + [f"x{i}: &a{i} {{k: *a{i - 1}}}" for i in range(1, 400)]
    errors = parse_file("policies/web.yaml", HEADER + "\n".join(chain) + "\n").errors
    (error,) = [e for e in errors if "alias" in e.message]
    assert f"aliases nest deeper than {MAX_DOCUMENT_DEPTH} levels" in error.message
    assert len(str(error)) < 200


@pytest.mark.parametrize("depth", [500, 5000])
def test_deep_nesting_is_an_error_not_a_recursion_error(depth: int) -> None:
    text = HEADER + "tags: " + "[" * depth + "]" * depth + "\n"
    errors = parse_file("policies/web.yaml", text).errors
    assert len(errors) == 1
    assert errors[0].file == "policies/web.yaml"
    assert "levels deep" in errors[0].message or "nesting depth" in errors[0].message


def test_nesting_over_the_depth_budget_names_the_budget() -> None:
    depth = MAX_DOCUMENT_DEPTH + 1
    text = HEADER + "tags: " + "[" * depth + "]" * depth + "\n"
    (error,) = parse_file("policies/web.yaml", text).errors
    assert f"nests {depth + 1} levels deep, over the budget of {MAX_DOCUMENT_DEPTH}" in (
        error.message
    )


def test_a_file_over_the_size_budget_is_refused_with_its_size() -> None:
    text = HEADER + "# " + "x" * MAX_SPEC_FILE_BYTES + "\n"
    (error,) = parse_file("policies/web.yaml", text).errors
    assert error.file == "policies/web.yaml"
    size = len(text.encode())
    assert f"{size:,} bytes" in error.message
    assert f"{MAX_SPEC_FILE_BYTES:,} bytes" in error.message


def test_size_counts_utf8_bytes_not_characters() -> None:
    # each "é" is 2 bytes: under the budget in characters, over it in bytes
    text = HEADER + "# " + "é" * (MAX_SPEC_FILE_BYTES // 2 + 10) + "\n"
    assert len(text) < MAX_SPEC_FILE_BYTES
    (error,) = parse_file("policies/web.yaml", text).errors
    assert "over the budget" in error.message


def bundle(specs: dict[str, str]) -> bytes:
    document = {"format_version": "1", "content_hash": content_hash(specs), "specs": specs}
    return json.dumps(document).encode()


def test_a_bundle_over_budget_is_refused_before_json_is_read() -> None:
    body = b"{" + b" " * MAX_BUNDLE_OBJECT_BYTES + b"}"  # would parse (to {}) if it were read
    (parsed,) = parse_bundle("s3://specs/policies/bundle.json", body)
    (error,) = parsed.errors
    assert error.file == "s3://specs/policies/bundle.json"
    assert f"{len(body):,} bytes" in error.message
    assert f"{MAX_BUNDLE_OBJECT_BYTES:,} bytes" in error.message


def test_a_bundle_whose_specs_are_over_budget_is_refused_though_the_object_is_not() -> None:
    """The object may hold an index beside the specs; the specs' text alone has the budget."""
    text = HEADER + "# " + "x" * (MAX_SPEC_FILE_BYTES - len(HEADER) - 10) + "\n"
    count = MAX_BUNDLE_BYTES // len(text) + 1
    body = bundle({f"policies/g{i}.yaml": text for i in range(count)})
    assert len(body) < MAX_BUNDLE_OBJECT_BYTES
    (parsed,) = parse_bundle("s3://specs/policies/bundle.json", body)
    (error,) = parsed.errors
    assert "per bundle" in error.message and f"{MAX_BUNDLE_BYTES:,} bytes" in error.message


def test_a_file_in_a_bundle_over_budget_is_named() -> None:
    big = HEADER + "# " + "x" * MAX_SPEC_FILE_BYTES + "\n"
    files = parse_bundle(
        "s3://specs/b.json", bundle({"policies/big.yaml": big, "policies/ok.yaml": HEADER})
    )
    errors = [e for f in files for e in f.errors]
    assert [e.file for e in errors] == ["policies/big.yaml"]
    assert "per file" in errors[0].message


def fill(root: Path, files: int, size: int) -> None:
    """`files` spec files of `size` bytes each (comments: never read when over budget)."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"g{i}.yaml").write_text("#" * (size - 1) + "\n")


def test_a_spec_directory_over_the_bundle_budget_is_refused_by_validate_and_push(
    tmp_path: Path,
) -> None:
    root = tmp_path / "policies"
    count = MAX_BUNDLE_BYTES // MAX_SPEC_FILE_BYTES + 1
    fill(root, count, MAX_SPEC_FILE_BYTES)
    for load in (load_directory, validated_bundle):
        with pytest.raises(SpecSetError) as raised:
            load(root)
        (error,) = raised.value.errors
        assert error.file == str(root)
        assert f"{count * MAX_SPEC_FILE_BYTES:,} bytes" in error.message


def test_a_spec_file_over_budget_on_disk_is_refused_unread(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    fill(root, 1, MAX_SPEC_FILE_BYTES + 1)
    (root / "g0.yaml").write_bytes(b"\xff" * (MAX_SPEC_FILE_BYTES + 1))  # unreadable as UTF-8
    with pytest.raises(SpecSetError) as raised:
        load_directory(root)
    (error,) = raised.value.errors
    assert error.file == f"{root}/g0.yaml"
    assert "over the budget" in error.message


# -- objects in S3: told by the listing's size, never fetched -----------------------------


class Calls(Counter[str]):
    def __call__(self, model: Any, **_: Any) -> None:
        self[model.name] += 1


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


def test_an_oversized_object_is_an_error_and_is_not_fetched(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="policies/web.yaml", Body=HEADER.encode())
    s3.put_object(Bucket=BUCKET, Key="policies/big.yaml", Body=b"#" * (MAX_SPEC_FILE_BYTES + 1))
    calls = Calls()
    s3.meta.events.register("before-call.s3", calls)
    source = S3SpecSource(s3, f"s3://{BUCKET}/policies")
    with pytest.raises(SpecSetError) as raised:
        source.load()
    (error,) = raised.value.errors
    assert error.file == f"s3://{BUCKET}/policies/big.yaml"
    assert f"{MAX_SPEC_FILE_BYTES + 1:,} bytes" in error.message
    assert calls["GetObject"] == 1  # web.yaml only


def test_an_oversized_bundle_is_not_fetched(s3: Any) -> None:
    key = "policies/bundle.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b" " * (MAX_BUNDLE_OBJECT_BYTES + 1))
    calls = Calls()
    s3.meta.events.register("before-call.s3", calls)
    with pytest.raises(SpecSetError, match="per bundle"):
        S3SpecSource(s3, f"s3://{BUCKET}/{key}").load()
    assert calls["GetObject"] == 0


def test_with_a_verify_key_an_oversized_object_is_refused_like_a_bad_signature(
    s3: Any,
) -> None:
    """An upload by someone without the key must not unseat the verified specs: it is a
    refusal (the last verified version stays), not a broken spec set."""
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    signer, verifier = KmsSigner(kms, key), KmsVerifier(kms, key)
    object_key = "policies/bundle.json"
    good = bundle({"policies/web.yaml": HEADER})
    metadata = signer.sign(good).metadata()
    s3.put_object(Bucket=BUCKET, Key=object_key, Body=good, Metadata=metadata)
    source = S3SpecSource(s3, f"s3://{BUCKET}/{object_key}", verifier)
    assert [spec.name for spec in source.load().specs_of("security_group")] == ["web"]
    s3.put_object(Bucket=BUCKET, Key=object_key, Body=b" " * (MAX_BUNDLE_OBJECT_BYTES + 1))
    assert [spec.name for spec in source.load().specs_of("security_group")] == ["web"]
    (reason,) = source.refusals
    assert "over the budget" in reason and "refused" in reason
