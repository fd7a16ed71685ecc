"""Bucket comparison: what a reviewer reads, which changes are public, and the statuses."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.compare.policy_document import parse_policy
from chalicelib.kinds.s3_bucket.compare import evaluate_account_block, evaluate_bucket
from chalicelib.kinds.s3_bucket.model import (
    ALL_PROPERTIES,
    ALL_USERS,
    AUTHENTICATED_USERS,
    GRANTS,
    LOG_DELIVERY,
    POLICY,
    SECURITY_PROPERTIES,
    TAGS,
    VERSIONING,
    BucketSpec,
    BucketState,
    Encryption,
    Grant,
    Logging,
    PublicAccessBlock,
    Versioning,
)
from chalicelib.model import SourceLocation, Status

SPEC = BucketSpec(source=SourceLocation("policies/s3_buckets/b.yaml", 2), name="b")
LOCKED = BucketState(
    name="b",
    account="123456789012",
    region="eu-west-1",
    public_access_block=PublicAccessBlock(),
    encryption=Encryption("AES256", None, False),
    read=frozenset(ALL_PROPERTIES),
)
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
    ],
}


def summaries(spec: BucketSpec | None, live: BucketState) -> list[str]:
    return [c.summary for c in evaluate_bucket(spec, live).changes]


def test_a_locked_bucket_meets_a_spec_that_says_nothing() -> None:
    assert evaluate_bucket(SPEC, LOCKED).status is Status.IN_SYNC


def test_a_policy_on_a_bucket_whose_spec_has_none_is_public_drift() -> None:
    live = replace(LOCKED, policy=parse_policy(PUBLIC_READ))
    finding = evaluate_bucket(SPEC, live)
    assert finding.status is Status.DRIFTED
    (change,) = finding.changes
    assert change.summary == (
        "Allow s3:GetObject on arn:aws:s3:::b/* to everyone (public) — not in spec"
    )
    assert change.world_open and change.path == POLICY


def test_the_same_policy_spelled_differently_is_in_sync() -> None:
    spec = replace(
        SPEC,
        policy=parse_policy(
            '{"Statement": {"Resource": ["arn:aws:s3:::b/*"], "Action": ["S3:getobject"],'
            ' "Principal": {"AWS": "*"}, "Effect": "Allow"}, "Version": "2012-10-17"}'
        ),
    )
    live = replace(LOCKED, policy=parse_policy(PUBLIC_READ))
    assert evaluate_bucket(spec, live).status is Status.IN_SYNC


def test_public_access_block_omitted_means_all_four_on() -> None:
    live = replace(LOCKED, public_access_block=PublicAccessBlock(True, True, False, True))
    finding = evaluate_bucket(SPEC, live)
    (change,) = finding.changes
    assert change.summary == "public access block: BlockPublicPolicy turned off"
    assert change.world_open and change.op == "modify"


def test_a_bucket_without_any_block_is_one_change_naming_all_four_flags() -> None:
    live = replace(LOCKED, public_access_block=None)
    (change,) = evaluate_bucket(SPEC, live).changes
    assert change.op == "remove" and change.world_open
    assert change.summary.startswith("public access block removed: the bucket has none")
    for flag in (
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ):
        assert flag in change.summary


def test_encryption_omitted_means_some_default_encryption() -> None:
    assert (
        evaluate_bucket(SPEC, replace(LOCKED, encryption=Encryption("aws:kms", "k"))).changes == ()
    )
    texts = summaries(SPEC, replace(LOCKED, encryption=Encryption("none")))
    assert texts == ["default encryption (in spec: any; the bucket has none)"]


def test_kms_key_id_and_arn_name_the_same_key() -> None:
    spec = replace(SPEC, encryption=Encryption("aws:kms", "1234abcd", True))
    arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"
    assert (
        evaluate_bucket(spec, replace(LOCKED, encryption=Encryption("aws:kms", arn, True))).status
        is Status.IN_SYNC
    )
    other = replace(
        LOCKED, encryption=Encryption("aws:kms", "arn:aws:kms:eu-west-1:1:key/ffff", True)
    )
    assert summaries(spec, other) == [
        "default encryption uses key arn:aws:kms:eu-west-1:1:key/ffff, spec says 1234abcd"
    ]
    gone = replace(LOCKED, encryption=Encryption("none"))
    assert summaries(spec, gone) == [
        "default encryption (in spec: aws:kms key 1234abcd with bucket key)"
    ]


def test_grants_to_everyone_are_public_and_log_delivery_is_not() -> None:
    live = replace(
        LOCKED,
        grants=frozenset(
            {
                Grant("group", ALL_USERS, "READ"),
                Grant("group", AUTHENTICATED_USERS, "WRITE"),
                Grant("group", LOG_DELIVERY, "WRITE"),
            }
        ),
    )
    finding = evaluate_bucket(SPEC, live)
    by_summary = {c.summary: c.world_open for c in finding.changes}
    assert by_summary == {
        "ACL grants READ to everyone (AllUsers) (public) — not in spec": True,
        "ACL grants WRITE to any AWS account (AuthenticatedUsers) (public) — not in spec": True,
        "ACL grants WRITE to the S3 log delivery group — not in spec": False,
    }
    spec = replace(SPEC, grants=frozenset({Grant("group", LOG_DELIVERY, "WRITE")}))
    assert len(evaluate_bucket(spec, live).changes) == 2


def test_pinned_properties_are_compared_only_when_written() -> None:
    live = replace(
        LOCKED,
        versioning=Versioning("Suspended", False),
        logging=Logging("logs", "b/"),
        tags={"team": "x"},
        object_ownership="ObjectWriter",
    )
    assert evaluate_bucket(SPEC, live).status is Status.IN_SYNC
    spec = replace(
        SPEC,
        versioning=Versioning("Enabled", True),
        object_ownership="BucketOwnerEnforced",
        logging=None,
        tags={"team": "data"},
        pinned=frozenset({VERSIONING, "object_ownership", "logging", TAGS}),
    )
    assert summaries(spec, live) == [
        "access logging to s3://logs/b/ — not in spec",
        "object ownership is ObjectWriter, spec says BucketOwnerEnforced",
        "tag team is 'x', spec says 'data'",
        "MFA delete is off, spec says on",
        "versioning is Suspended, spec says Enabled",
    ]


def test_an_unreadable_property_is_unknown_never_in_sync() -> None:
    live = replace(
        LOCKED,
        read=frozenset(SECURITY_PROPERTIES) - {GRANTS},
        unreadable={GRANTS: "GetBucketAcl: AccessDenied"},
    )
    finding = evaluate_bucket(SPEC, live)
    assert finding.status is Status.UNKNOWN
    assert finding.reason == "could not read grants (GetBucketAcl: AccessDenied)"


def test_drift_elsewhere_wins_and_still_names_the_unreadable_property() -> None:
    live = replace(
        LOCKED,
        policy=parse_policy(PUBLIC_READ),
        read=frozenset(SECURITY_PROPERTIES) - {GRANTS},
        unreadable={GRANTS: "GetBucketAcl: AccessDenied"},
    )
    finding = evaluate_bucket(SPEC, live)
    assert finding.status is Status.DRIFTED
    assert finding.reason == "could not read grants (GetBucketAcl: AccessDenied)"


def test_no_spec_is_unmanaged_showing_what_is_exposed() -> None:
    live = replace(LOCKED, policy=parse_policy(PUBLIC_READ))
    finding = evaluate_bucket(None, live)
    assert finding.status is Status.UNMANAGED
    assert finding.reason == "no spec names this bucket"
    assert [c.world_open for c in finding.changes] == [True]


def test_a_spec_without_its_bucket_is_missing() -> None:
    finding = evaluate_bucket(SPEC, None)
    assert finding.status is Status.MISSING
    assert finding.spec == "policies/s3_buckets/b.yaml:2"


def test_account_block_turned_off_names_every_bucket_in_the_account() -> None:
    finding = evaluate_account_block(
        "123456789012", "us-east-1", PublicAccessBlock(True, True, False, True)
    )
    assert finding.status is Status.DRIFTED
    (change,) = finding.changes
    assert change.summary == (
        "account-wide public access block: BlockPublicPolicy turned off — every bucket in "
        "account 123456789012 now relies on its own setting"
    )
    assert change.world_open
    assert evaluate_account_block("1", "us-east-1", PublicAccessBlock()).status is Status.IN_SYNC
    (unset,) = evaluate_account_block("1", "us-east-1", None).changes  # one fact, one line
    assert unset.summary.startswith("account-wide public access block not set")


# -- KMS keys: the AWS managed key, and keys from another account ---------------------------

FOREIGN_KEY = "arn:aws:kms:us-east-1:999999999999:key/attacker"
OWN_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd"


def _kms(key: str | None) -> BucketState:
    return replace(LOCKED, encryption=Encryption("aws:kms", key, False))


def test_the_aws_managed_key_matches_however_it_is_spelled() -> None:
    spec = replace(SPEC, encryption=Encryption("aws:kms", "aws/s3"))
    for live in (
        None,
        "aws/s3",
        "alias/aws/s3",
        "arn:aws:kms:eu-west-1:123456789012:alias/aws/s3",
    ):
        assert evaluate_bucket(spec, _kms(live)).status is Status.IN_SYNC, live


def test_a_managed_key_swapped_for_an_own_customer_key_is_drift() -> None:
    spec = replace(SPEC, encryption=Encryption("aws:kms", "aws/s3"))
    assert summaries(spec, _kms(OWN_KEY)) == [
        f"default encryption uses key {OWN_KEY}, spec says aws/s3 (the AWS managed key)"
    ]


def test_a_managed_key_swapped_for_another_accounts_key_is_drift_saying_so() -> None:
    spec = replace(SPEC, encryption=Encryption("aws:kms", "aws/s3"))
    (summary,) = summaries(spec, _kms(FOREIGN_KEY))
    assert summary.startswith(f"default encryption uses key {FOREIGN_KEY}, spec says aws/s3")
    assert "another account (999999999999, not the bucket's 123456789012)" in summary
    assert "ransomware" in summary


def test_a_key_from_another_account_is_drift_even_when_the_spec_names_no_key() -> None:
    for encryption in (None, Encryption("aws:kms"), Encryption("aws:kms", None, False)):
        spec = replace(SPEC, encryption=encryption)
        finding = evaluate_bucket(spec, _kms(FOREIGN_KEY))
        assert finding.status is Status.DRIFTED, encryption
        (change,) = finding.changes
        assert change.path == "encryption"
        assert f"uses KMS key {FOREIGN_KEY} from another account (999999999999" in change.summary
    # an unmanaged bucket is held to the same rule
    unmanaged = evaluate_bucket(None, _kms(FOREIGN_KEY))
    assert any("another account" in c.summary for c in unmanaged.changes)


def test_a_key_from_another_account_named_in_the_spec_is_in_sync() -> None:
    # a central key in a security account, written in the reviewed spec, is a decision
    spec = replace(SPEC, encryption=Encryption("aws:kms", FOREIGN_KEY))
    assert evaluate_bucket(spec, _kms(FOREIGN_KEY)).status is Status.IN_SYNC


def test_a_key_in_the_buckets_own_account_is_fine_when_the_spec_names_none() -> None:
    assert evaluate_bucket(replace(SPEC, encryption=None), _kms(OWN_KEY)).status is Status.IN_SYNC
    assert evaluate_bucket(replace(SPEC, encryption=None), _kms(None)).status is Status.IN_SYNC


def test_findings_carry_bucket_tags_only_when_they_were_read():
    tagged = replace(LOCKED, tags={"team": "payments"}, policy=parse_policy(PUBLIC_READ))
    assert evaluate_bucket(SPEC, tagged).tags == (("team", "payments"),)
    not_read = replace(tagged, read=frozenset(ALL_PROPERTIES) - {"tags"})
    assert evaluate_bucket(SPEC, not_read).tags == ()
    assert evaluate_bucket(None, tagged).tag_map == {"team": "payments"}
