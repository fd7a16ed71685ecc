"""`kind: s3_bucket` specs: defaults, errors with lines, duplicates, and the writer round trip."""

from __future__ import annotations

import pytest

from chalicelib.compare.policy_document import parse_policy
from chalicelib.errors import SpecSetError
from chalicelib.kinds.s3_bucket.compare import compare_bucket
from chalicelib.kinds.s3_bucket.model import (
    ALL_PROPERTIES,
    LOG_DELIVERY,
    BucketState,
    Encryption,
    Grant,
    Logging,
    PublicAccessBlock,
    Versioning,
)
from chalicelib.kinds.s3_bucket.writer import render_s3_bucket_spec
from chalicelib.specs.loading import load_documents


def load(text: str) -> tuple:
    return load_documents([("b.yaml", text)]).specs_of("s3_bucket")


def test_a_bare_spec_holds_the_bucket_to_the_security_defaults() -> None:
    (spec,) = load("kind: s3_bucket\nname: logs\n")
    assert spec.policy is None and spec.grants == frozenset()
    assert spec.public_access_block == PublicAccessBlock(True, True, True, True)
    assert spec.encryption is None  # any default encryption
    assert spec.compared() == ("policy", "grants", "public_access_block", "encryption")


def test_a_flag_left_out_of_the_block_stays_on() -> None:
    (spec,) = load(
        "kind: s3_bucket\nname: site\npublic_access_block:\n  block_public_policy: false\n"
    )
    assert spec.public_access_block == PublicAccessBlock(True, True, False, True)


def test_policy_as_yaml_with_an_unquoted_version_or_as_json_text() -> None:
    text = (
        "kind: s3_bucket\nname: bkt\npolicy:\n  Version: 2012-10-17\n  Statement:\n"
        "    - Effect: Allow\n      Principal: '*'\n      Action: s3:GetObject\n"
        "      Resource: arn:aws:s3:::b/*\n"
    )
    (spec,) = load(text)
    (as_json,) = load(
        'kind: s3_bucket\nname: bkt\npolicy: \'{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject"],'
        ' "Resource": "arn:aws:s3:::b/*"}]}\'\n'
    )
    assert spec.policy == as_json.policy


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "policy:\n  Statement: [{Effect: Maybe, Action: s3:*, Resource: '*'}]\n",
            "b.yaml:3: policy:",
        ),
        ("encryption:\n  sse: AES256\n  kms_key_id: k\n", "b.yaml:5: encryption.kms_key_id:"),
        ("grants:\n  - group: Everybody\n    permission: READ\n", "b.yaml:4: grants[0].group:"),
        ("versioning:\n  status: On\n", "b.yaml:4: versioning.status:"),
        (
            "tags:\n  aws:cloudformation:stack-name: x\n",
            "b.yaml:4: tags.aws:cloudformation:stack-name:",
        ),
        ("acl: private\n", "b.yaml:3: acl:"),
    ],
)
def test_mistakes_name_file_line_and_field(text: str, where: str) -> None:
    with pytest.raises(SpecSetError) as caught:
        load("kind: s3_bucket\nname: bkt\n" + text)
    assert any(str(e).startswith(where) for e in caught.value.errors), caught.value


def test_two_specs_for_one_bucket_are_refused() -> None:
    with pytest.raises(SpecSetError, match=r"bucket 'bkt' is also specified in b\.yaml:1"):
        load("kind: s3_bucket\nname: bkt\n---\nkind: s3_bucket\nname: bkt\nregion: eu-west-1\n")


def test_the_writer_output_parses_back_to_the_live_bucket() -> None:
    state = BucketState(
        name="data",
        account="012345678901",
        region="eu-west-1",
        policy=parse_policy(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::data/*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
        public_access_block=PublicAccessBlock(True, False, True, False),
        encryption=Encryption("aws:kms", "alias/data", True),
        versioning=Versioning("Enabled", False),
        object_ownership="BucketOwnerPreferred",
        grants=frozenset({Grant("group", LOG_DELIVERY, "WRITE"), Grant("id", "abc123", "READ")}),
        logging=Logging("logs", "data/"),
        tags={"team": "data", "cost-center": "0042"},
        read=frozenset(ALL_PROPERTIES),
    )
    text = render_s3_bucket_spec(state)
    assert "account: '012345678901'" in text and "cost-center: '0042'" in text
    (spec,) = load(text)
    assert compare_bucket(spec, state) == ()


def test_an_email_grantee_is_refused_naming_file_line_field_and_why() -> None:
    # GetBucketAcl answers with the canonical user id, never the email: such a spec
    # would report drift on every check.
    with pytest.raises(SpecSetError) as caught:
        load(
            "kind: s3_bucket\nname: bkt\ngrants:\n"
            "  - email: ops@example.com\n    permission: READ\n"
        )
    (error,) = caught.value.errors
    text = str(error)
    assert text.startswith("b.yaml:4: grants[0].email:"), text
    assert "canonical user id" in text and "canonical_id" in text and "drift" in text


def test_the_aws_managed_key_round_trips_through_the_writer() -> None:
    state = BucketState(
        name="kms",
        account="012345678901",
        region="eu-west-1",
        public_access_block=PublicAccessBlock(),
        encryption=Encryption("aws:kms", "aws/s3", False),
        read=frozenset(ALL_PROPERTIES),
    )
    text = render_s3_bucket_spec(state)
    assert "kms_key_id: aws/s3" in text
    (spec,) = load(text)
    assert spec.encryption == Encryption("aws:kms", "aws/s3", False)
    assert compare_bucket(spec, state) == ()


def test_a_grant_with_a_misspelt_permission_still_reports_its_two_grantees() -> None:
    """A grant with two mistakes reports both in one validate run, not one per run."""
    from chalicelib.specs.parse import parse_file

    text = (
        "kind: s3_bucket\nname: logs\ngrants:\n"
        "  - canonical_id: abc123\n    group: AllUsers\n    permission: READD\n"
        "  - group: Everyone\n    permission: WRIT\n"
    )
    errors = parse_file("logs.yaml", text).errors
    assert [(e.line, e.field) for e in errors] == [
        (4, "grants[0]"),
        (6, "grants[0].permission"),
        (7, "grants[1].group"),
        (8, "grants[1].permission"),
    ]
    assert "found canonical_id, group" in errors[0].message
    assert "unknown group 'Everyone'" in errors[2].message
