"""A bucket's changes each say the `aws s3api` command that reverts them and the spec edit
that accepts them."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace

from chalicelib.compare.policy_document import parse_policy
from chalicelib.kinds.s3_bucket.compare import evaluate_account_block, evaluate_bucket
from chalicelib.kinds.s3_bucket.model import (
    ALL_PROPERTIES,
    ALL_USERS,
    VERSIONING,
    BucketSpec,
    BucketState,
    Encryption,
    Grant,
    PublicAccessBlock,
    Versioning,
)
from chalicelib.model import Change, SourceLocation

SPEC = BucketSpec(source=SourceLocation("policies/s3_buckets/site.yaml", 2), name="site")
LOCKED = BucketState(
    name="site",
    account="123456789012",
    region="eu-west-1",
    public_access_block=PublicAccessBlock(),
    encryption=Encryption("AES256", None, False),
    read=frozenset(ALL_PROPERTIES),
)
READ_ALL = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::site/*",
        }
    ],
}
READ_ONE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/cdn"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::site/*",
        }
    ],
}


def only(spec: BucketSpec | None, live: BucketState) -> Change:
    (change,) = evaluate_bucket(spec, live).changes
    return change


def test_a_missing_block_is_put_back_with_all_four_flags():
    change = only(SPEC, replace(LOCKED, public_access_block=None))
    assert change.revert == (
        "aws s3api put-public-access-block --region eu-west-1 --bucket site "
        "--public-access-block-configuration "
        """'{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"""
        """"RestrictPublicBuckets":true}'"""
    )
    assert change.accept == (
        "set public_access_block: {block_public_acls: false, ignore_public_acls: false, "
        "block_public_policy: false, restrict_public_buckets: false}"
    )


def test_one_flag_turned_off_puts_the_specs_whole_block_back():
    spec = replace(SPEC, public_access_block=PublicAccessBlock(block_public_policy=False))
    live = replace(LOCKED, public_access_block=PublicAccessBlock(False, True, False, True))
    change = only(spec, live)
    config = json.loads(shlex.split(change.revert or "")[-1])
    assert config == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True,
    }
    assert change.accept == "set public_access_block.block_public_acls: false"


def test_a_statement_added_by_hand_reverts_to_the_specs_whole_policy():
    spec = replace(SPEC, policy=parse_policy(READ_ONE))
    live = replace(
        LOCKED,
        policy=parse_policy(
            {**READ_ONE, "Statement": [*READ_ONE["Statement"], *READ_ALL["Statement"]]}
        ),
    )
    change = only(spec, live)
    words = shlex.split(change.revert or "")
    assert words[:7] == [
        "aws",
        "s3api",
        "put-bucket-policy",
        "--region",
        "eu-west-1",
        "--bucket",
        "site",
    ]
    assert words[7] == "--policy"
    assert parse_policy(words[8]) == parse_policy(READ_ONE)
    assert change.accept == (
        "add to policy.Statement: {Effect: Allow, Principal: '*', Action: 's3:GetObject', "
        "Resource: 'arn:aws:s3:::site/*'}"
    )


def test_a_policy_the_spec_does_not_have_is_deleted():
    change = only(SPEC, replace(LOCKED, policy=parse_policy(READ_ONE)))
    assert change.revert == "aws s3api delete-bucket-policy --region eu-west-1 --bucket site"


def test_encryption_goes_back_to_the_specs_key():
    key = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666"
    spec = replace(SPEC, encryption=Encryption("aws:kms", key, True))
    change = only(spec, LOCKED)
    words = shlex.split(change.revert or "")
    assert words[2] == "put-bucket-encryption"
    assert json.loads(words[-1]) == {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": key,
                },
                "BucketKeyEnabled": True,
            }
        ]
    }
    assert change.accept == "set encryption: {sse: AES256, bucket_key: false}"


def test_versioning_suspended_by_hand_is_enabled_again():
    spec = replace(SPEC, versioning=Versioning("Enabled"), pinned=frozenset({VERSIONING}))
    change = only(spec, replace(LOCKED, versioning=Versioning("Suspended", False)))
    assert change.revert == (
        "aws s3api put-bucket-versioning --region eu-west-1 --bucket site "
        """--versioning-configuration '{"Status":"Enabled"}'"""
    )
    assert change.accept == "set versioning.status: Suspended"


def test_a_public_grant_without_spec_grants_resets_the_acl_to_private():
    live = replace(LOCKED, grants=frozenset({Grant("group", ALL_USERS, "READ")}))
    change = only(SPEC, live)
    assert change.revert == (
        "aws s3api put-bucket-acl --region eu-west-1 --bucket site --acl private"
    )
    assert change.accept == "add to grants: {group: AllUsers, permission: READ}"


def test_an_unmanaged_public_bucket_gets_the_block_back_and_an_import_hint():
    change = only(None, replace(LOCKED, public_access_block=None))
    assert change.revert is not None
    assert change.revert.startswith("aws s3api put-public-access-block --region eu-west-1")
    assert change.accept == "write a spec: setpoint import --only site"


def test_the_account_block_is_turned_on_with_s3control():
    finding = evaluate_account_block("123456789012", "eu-west-1", None)
    (change,) = finding.changes
    assert change.revert == (
        "aws s3control put-public-access-block --region eu-west-1 --account-id 123456789012 "
        "--public-access-block-configuration "
        """'{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"""
        """"RestrictPublicBuckets":true}'"""
    )
