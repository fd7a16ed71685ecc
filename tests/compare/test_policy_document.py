"""Policy documents compare by meaning: each equivalence the issue names, each difference
that is drift, the words a reviewer reads, and clear errors on junk."""

from __future__ import annotations

import datetime
import json
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.compare.policy_document import (
    PolicyDocument,
    PolicyError,
    Statement,
    change_policy_flags,
    describe_statement,
    diff_policies,
    document_json,
    parse_policy,
    policy_flags,
    regroup,
    statement_json,
)
from chalicelib.errors import SetpointError

OWN = "123456789012"
OTHER = "210987654321"
GITHUB = "token.actions.githubusercontent.com"


def doc(*statements: Any, version: str | None = "2012-10-17") -> dict[str, Any]:
    out: dict[str, Any] = {"Statement": list(statements)}
    if version:
        out["Version"] = version
    return out


def same(a: Any, b: Any) -> None:
    """Equal as documents, and no change either way."""
    left, right = parse_policy(a), parse_policy(b)
    assert left == right
    assert hash(left) == hash(right)
    assert diff_policies(left, right, path="policy") == ()
    assert diff_policies(right, left, path="policy") == ()


def differ(a: Any, b: Any) -> tuple[Any, ...]:
    left, right = parse_policy(a), parse_policy(b)
    assert left != right
    changes = diff_policies(left, right, path="policy")
    assert changes
    return changes


def one(statement: dict[str, Any]) -> Statement:
    (parsed,) = parse_policy(doc(statement)).statements
    return parsed


READ: dict[str, Any] = {
    "Sid": "Read",
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
}
DENY_HTTP: dict[str, Any] = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
PUBLIC_READ: dict[str, Any] = {
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::b/*",
}
TRUST_OTHER: dict[str, Any] = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
    "Action": "sts:AssumeRole",
}


# ------------------------------------------------------------------ equivalences


def test_statement_order_does_not_matter():
    same(doc(READ, DENY_HTTP), doc(DENY_HTTP, READ))


@pytest.mark.parametrize("element", ["Action", "NotAction", "Resource", "NotResource"])
def test_a_single_string_equals_a_one_item_list(element):
    base = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    base.pop("Action" if "Action" in element else "Resource")
    value = "s3:GetObject" if "Action" in element else "arn:aws:s3:::b/*"
    same(doc({**base, element: value}), doc({**base, element: [value]}))


def test_principal_and_condition_values_as_string_or_list():
    same(
        doc(
            {
                **TRUST_OTHER,
                "Principal": {"AWS": OTHER, "Service": "ec2.amazonaws.com"},
                "Condition": {"StringEquals": {"sts:ExternalId": "abc"}},
            }
        ),
        doc(
            {
                **TRUST_OTHER,
                "Principal": {"AWS": [OTHER], "Service": ["ec2.amazonaws.com"]},
                "Condition": {"StringEquals": {"sts:ExternalId": ["abc"]}},
            }
        ),
    )


def test_action_names_ignore_letter_case():
    same(doc(READ), doc({**READ, "Action": ["S3:GETOBJECT", "s3:listbucket"]}))


def test_duplicate_entries_and_duplicate_statements_do_not_matter():
    twice = {**READ, "Action": [*READ["Action"], "s3:GetObject"], "Resource": READ["Resource"] * 2}
    same(doc(READ), doc(twice, READ, {**READ, "Sid": "Again"}))


@pytest.mark.parametrize("everyone", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_principal_star_spelled_every_way_aws_accepts(everyone):
    same(doc(PUBLIC_READ), doc({**PUBLIC_READ, "Principal": everyone}))


def test_whitespace_and_key_order_do_not_matter():
    compact = json.dumps(doc(READ, DENY_HTTP), separators=(",", ":"))
    pretty = json.dumps(doc(DENY_HTTP, READ), indent=4, sort_keys=True)
    same(compact, "\n\t " + pretty + "\n")


@pytest.mark.parametrize(
    "spelling",
    [OTHER, f"arn:aws:iam::{OTHER}:root", [OTHER, f"arn:aws:iam::{OTHER}:root"]],
)
def test_account_id_equals_its_root_arn(spelling):
    same(doc(TRUST_OTHER), doc({**TRUST_OTHER, "Principal": {"AWS": spelling}}))


def test_root_arn_in_another_partition_is_the_same_account():
    cn = {**TRUST_OTHER, "Principal": {"AWS": f"arn:aws-cn:iam::{OTHER}:root"}}
    same(doc(TRUST_OTHER), doc(cn))


def test_sid_and_id_do_not_change_meaning():
    same(doc(READ), {**doc({**READ, "Sid": "Other"}), "Id": "Policy1562365274513"})


def test_several_actions_equal_one_statement_per_action():
    split = [{**READ, "Action": action} for action in READ["Action"]]
    same(doc(READ), doc(*split))


def test_actions_times_resources_equal_their_full_split():
    split = [
        {"Effect": "Allow", "Action": action, "Resource": resource}
        for action in READ["Action"]
        for resource in READ["Resource"]
    ]
    same(doc(READ), doc(*split))


def test_several_principals_equal_one_statement_per_principal():
    both = {**TRUST_OTHER, "Principal": {"AWS": OTHER, "Service": "ec2.amazonaws.com"}}
    split = [
        {**TRUST_OTHER, "Principal": {"AWS": OTHER}},
        {**TRUST_OTHER, "Principal": {"Service": "ec2.amazonaws.com"}},
    ]
    same(doc(both), doc(*split))


def test_condition_keys_ignore_case_and_values_read_as_strings():
    same(
        doc(
            {
                **PUBLIC_READ,
                "Condition": {
                    "Bool": {"aws:SecureTransport": True},
                    "NumericLessThan": {"s3:max-keys": 10},
                },
            }
        ),
        doc(
            {
                **PUBLIC_READ,
                "Condition": {
                    "Bool": {"AWS:SECURETRANSPORT": "true"},
                    "NumericLessThan": {"S3:Max-Keys": "10"},
                },
            }
        ),
    )


def test_empty_condition_equals_none():
    same(doc(READ), doc({**READ, "Condition": {}}))


def test_a_single_statement_object_equals_a_list_of_one():
    same(doc(READ), {"Version": "2012-10-17", "Statement": READ})


def test_effect_letter_case_does_not_matter():
    same(doc(READ), doc({**READ, "Effect": "allow"}))


def test_version_does_not_matter_without_policy_variables():
    same(doc(READ), doc(READ, version=None))
    same(doc(READ), doc(READ, version="2008-10-17"))


def test_version_matters_when_a_policy_variable_is_used():
    home = {**READ, "Resource": "arn:aws:s3:::b/home/${aws:username}/*"}
    current, legacy = parse_policy(doc(home)), parse_policy(doc(home, version=None))
    assert current != legacy
    (change,) = diff_policies(current, legacy, path="policy")
    assert change.op == "modify"
    assert change.path == "policy.Version"
    assert (change.expected, change.actual) == ("2012-10-17", None)
    assert change.summary.startswith("Version is 2008-10-17, spec says 2012-10-17")


# ----------------------------------------------------------------------- inputs


def test_url_encoded_json_as_cloudtrail_logs_it():
    encoded = (
        "%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22%2C%0A%20%20%22Statement%22%3A%20%5B"
        "%0A%20%20%20%20%7B%0A%20%20%20%20%20%20%22Effect%22%3A%20%22Allow%22%2C%0A%20%20%20%20"
        "%20%20%22Principal%22%3A%20%7B%0A%20%20%20%20%20%20%20%20%22AWS%22%3A%20%22arn%3Aaws"
        "%3Aiam%3A%3A123456789012%3Aroot%22%0A%20%20%20%20%20%20%7D%2C%0A%20%20%20%20%20%20%22"
        "Action%22%3A%20%22sts%3AAssumeRole%22%0A%20%20%20%20%7D%0A%20%20%5D%0A%7D"
    )
    same(encoded, doc({**TRUST_OTHER, "Principal": {"AWS": OWN}}))


def test_json_string_url_encoded_string_bytes_and_dict_agree():
    text = json.dumps(doc(READ, DENY_HTTP))
    same(text, doc(READ, DENY_HTTP))
    same(quote(text), text)
    same(text.encode(), text)


def test_a_percent_sign_inside_plain_json_is_not_decoded():
    value = {**PUBLIC_READ, "Condition": {"StringLike": {"s3:prefix": "100%25/*"}}}
    (statement,) = parse_policy(json.dumps(doc(value))).statements
    assert statement.conditions == {("StringLike", "s3:prefix", frozenset({"100%25/*"}))}


def test_a_document_encoded_twice_is_read():
    same(json.dumps(json.dumps(doc(READ))), doc(READ))


def test_an_unquoted_yaml_version_date_is_accepted():
    assert parse_policy({**doc(READ), "Version": datetime.date(2012, 10, 17)}).version == (
        "2012-10-17"
    )


def test_document_json_round_trips_and_keeps_spelling():
    parsed = parse_policy(doc(READ, DENY_HTTP, TRUST_OTHER))
    written = document_json(parsed)
    assert parse_policy(written) == parsed
    read = next(s for s in written["Statement"] if s.get("Sid") == "Read")
    assert read == {
        "Sid": "Read",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    }


def test_canonical_statement_fields():
    statement = one(
        {
            "Sid": "S",
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{OTHER}:root", "*"]},
            "Action": ["S3:GetObject", "s3:Get*"],
            "Resource": "arn:aws:s3:::B/*",
            "Condition": {"StringEquals": {"AWS:SourceAccount": [OWN, 5, False]}},
        }
    )
    assert statement == Statement(
        effect="Allow",
        actions=frozenset({"s3:getobject", "s3:get*"}),
        resources=frozenset({"arn:aws:s3:::B/*"}),
        principals=frozenset({("AWS", OTHER), ("AWS", "*")}),
        conditions=frozenset(
            {("StringEquals", "aws:sourceaccount", frozenset({OWN, "5", "false"}))}
        ),
    )
    assert statement.sid == "S"
    assert statement.spelled("s3:getobject") == "S3:GetObject"


# ------------------------------------------------------------------ differences


def test_a_different_effect_is_drift():
    (added, removed) = differ(doc(READ), doc({**READ, "Effect": "Deny"}))
    assert added.op == "add" and added.summary.startswith("Deny s3:GetObject, s3:ListBucket")
    assert removed.op == "remove" and removed.summary.startswith("Allow s3:GetObject")


def test_an_extra_action_is_reported_alone_and_keeps_the_sid():
    wider = {**READ, "Action": [*READ["Action"], "s3:PutObject"]}
    (change,) = differ(doc(READ), doc(wider))
    assert change.op == "add"
    assert change.path == "policy"
    assert change.expected is None
    assert change.actual == {
        "Sid": "Read",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    }
    assert change.summary == (
        "Allow s3:PutObject on arn:aws:s3:::b, arn:aws:s3:::b/* — not in spec"
    )
    assert not change.world_open


def test_a_missing_resource_is_a_remove():
    narrower = {**READ, "Resource": "arn:aws:s3:::b"}
    (change,) = differ(doc(READ), doc(narrower))
    assert change.op == "remove"
    assert change.actual is None
    assert change.expected["Resource"] == "arn:aws:s3:::b/*"
    assert change.summary == (
        "Allow s3:GetObject, s3:ListBucket on arn:aws:s3:::b/* — in spec, missing"
    )


def test_resources_are_case_sensitive():
    differ(doc(READ), doc({**READ, "Resource": ["arn:aws:s3:::B", "arn:aws:s3:::B/*"]}))


def test_a_different_principal_is_drift():
    changes = differ(doc(TRUST_OTHER), doc({**TRUST_OTHER, "Principal": {"AWS": OWN}}))
    assert [c.summary for c in changes] == [
        f"role trusts account {OWN} — not in spec",
        f"role trusts account {OTHER} — in spec, missing",
    ]


@pytest.mark.parametrize(
    "condition",
    [
        {"Bool": {"aws:SecureTransport": "true"}},  # value
        {"StringEquals": {"aws:SecureTransport": "false"}},  # operator
        {"Bool": {"aws:ViaAWSService": "false"}},  # key
        {"Bool": {"aws:SecureTransport": "false"}, "Null": {"aws:SourceIp": "true"}},  # more
    ],
)
def test_a_different_condition_is_drift(condition):
    changes = differ(doc(DENY_HTTP), doc({**DENY_HTTP, "Condition": condition}))
    assert {c.op for c in changes} == {"add", "remove"}


def test_a_dropped_condition_is_drift():
    no_condition = {k: v for k, v in DENY_HTTP.items() if k != "Condition"}
    differ(doc(DENY_HTTP), doc(no_condition))


def test_condition_operators_are_case_sensitive():
    differ(
        doc(DENY_HTTP), doc({**DENY_HTTP, "Condition": {"bool": {"aws:SecureTransport": "false"}}})
    )


def test_action_and_not_action_with_the_same_value_differ():
    not_read = {k: v for k, v in READ.items() if k != "Action"}
    differ(doc(READ), doc({**not_read, "NotAction": READ["Action"]}))


def test_not_action_lists_are_never_split():
    whole = {"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*"}
    split = [{**whole, "NotAction": "iam:*"}, {**whole, "NotAction": "sts:*"}]
    differ(doc(whole), doc(*split))


def test_condition_blocks_are_never_split():
    both = {
        **PUBLIC_READ,
        "Condition": {
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            "Bool": {"aws:SecureTransport": "true"},
        },
    }
    split = [
        {**PUBLIC_READ, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {**PUBLIC_READ, "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    ]
    differ(doc(both), doc(*split))


def test_wildcards_covering_listed_actions_are_still_reported():
    # documented as conservative: s3:* next to s3:GetObject is spelled differently
    differ(doc({**READ, "Action": "s3:*"}), doc({**READ, "Action": ["s3:*", "s3:GetObject"]}))


def test_no_spec_means_every_live_statement_is_added_and_no_live_policy_removes_all():
    live = parse_policy(doc(READ, PUBLIC_READ))
    added = diff_policies(None, live, path="policy")
    assert [c.op for c in added] == ["add", "add"]
    assert any(c.world_open for c in added)
    removed = diff_policies(live, None, path="policy")
    assert [c.op for c in removed] == ["remove", "remove"]
    assert diff_policies(None, None, path="policy") == ()


def test_changes_carry_the_callers_path_and_come_in_stable_order():
    changes = diff_policies(
        parse_policy(doc(READ)),
        parse_policy(doc(PUBLIC_READ, TRUST_OTHER)),
        path="inline_policies.deploy",
    )
    assert {c.path for c in changes} == {"inline_policies.deploy"}
    assert [c.op for c in changes] == ["add", "add", "remove"]
    assert changes == diff_policies(
        parse_policy(doc(READ)),
        parse_policy(doc(TRUST_OTHER, PUBLIC_READ)),
        path="inline_policies.deploy",
    )


def test_an_atom_in_two_live_statements_is_reported_once():
    wider = {**PUBLIC_READ, "Action": ["s3:GetObject", "s3:GetObjectVersion"]}
    changes = diff_policies(
        parse_policy(doc(READ)), parse_policy(doc(READ, wider, PUBLIC_READ)), path="p"
    )
    assert [c.summary for c in changes] == [
        "Allow s3:GetObject on arn:aws:s3:::b/* to everyone (public) — not in spec",
        "Allow s3:GetObjectVersion on arn:aws:s3:::b/* to everyone (public) — not in spec",
    ]


def test_new_principals_of_one_statement_are_one_change():
    both = {
        **TRUST_OTHER,
        "Principal": {"AWS": [OTHER, "111122223333"], "Service": "ec2.amazonaws.com"},
    }
    (change,) = diff_policies(
        parse_policy(doc(TRUST_OTHER)), parse_policy(doc(both)), path="trust_policy"
    )
    assert change.summary == (
        "role trusts account 111122223333, service ec2.amazonaws.com — not in spec"
    )
    assert change.actual["Principal"] == {"AWS": "111122223333", "Service": "ec2.amazonaws.com"}


def test_regroup_covers_exactly_the_atoms_it_was_given():
    statement = one({**READ, "Principal": {"AWS": [OWN, OTHER]}})
    some = set(list(statement.atoms)[:5])
    rebuilt = regroup(some)
    assert {atom for s in rebuilt for atom in s.atoms} == some


# ------------------------------------------------------------------------- words


def test_public_read_reads_as_the_issue_says():
    (change,) = diff_policies(None, parse_policy(doc(PUBLIC_READ)), path="policy")
    assert change.summary == (
        "Allow s3:GetObject on arn:aws:s3:::b/* to everyone (public) — not in spec"
    )
    assert change.world_open
    assert change.actual == {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
    }


def test_a_trusted_account_reads_as_the_issue_says():
    statement = one(TRUST_OTHER)
    assert describe_statement(statement) == f"role trusts account {OTHER}"
    assert describe_statement(statement, own_account=OWN) == (
        f"role trusts account {OTHER} (cross-account)"
    )
    assert describe_statement(statement, own_account=OTHER) == f"role trusts account {OTHER}"
    (change,) = diff_policies(
        None, parse_policy(doc(TRUST_OTHER)), path="trust_policy", own_account=OWN
    )
    assert change.summary == f"role trusts account {OTHER} (cross-account) — not in spec"
    assert not change.world_open


def test_admin_reads_as_the_issue_says():
    statement = one({"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert describe_statement(statement) == "Allow * on * (admin)"
    assert policy_flags(statement) == {"admin"}
    assert policy_flags(one({"Effect": "Allow", "Action": "*:*", "Resource": ["*"]})) == {"admin"}
    assert policy_flags(one({"Effect": "Deny", "Action": "*", "Resource": "*"})) == set()
    assert policy_flags(one({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})) == set()


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        (
            DENY_HTTP,
            "Deny s3:* on arn:aws:s3:::b, arn:aws:s3:::b/* for everyone "
            "when aws:SecureTransport is false",
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            },
            "role trusts service ec2.amazonaws.com",
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:aws:iam::{OWN}:oidc-provider/{GITHUB}",
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/*"}
                },
            },
            f"role trusts federated arn:aws:iam::{OWN}:oidc-provider/{GITHUB} "
            f"with sts:AssumeRoleWithWebIdentity when {GITHUB}:sub matches repo:org/*",
        ),
        (
            {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
            "Allow every action except iam:*, organizations:* on * (near-admin)",
        ),
        (
            {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"},
            "Deny s3:* on everything except arn:aws:s3:::b/*",
        ),
        (
            {**PUBLIC_READ, "Principal": {"AWS": [OTHER, "arn:aws:iam::111122223333:role/ci"]}},
            f"Allow s3:GetObject on arn:aws:s3:::b/* to account {OTHER}, "
            "arn:aws:iam::111122223333:role/ci (cross-account)",
        ),
        (
            {
                **PUBLIC_READ,
                "Principal": {"AWS": OWN},
                "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
            },
            f"Allow s3:GetObject on arn:aws:s3:::b/* to account {OWN} "
            "when aws:SourceIp in one of 10.0.0.0/8, 192.168.0.0/16",
        ),
        (
            {**READ, "Condition": {"Null": {"aws:MultiFactorAuthPresent": True}}},
            "Allow s3:GetObject, s3:ListBucket on arn:aws:s3:::b, arn:aws:s3:::b/* "
            "when aws:MultiFactorAuthPresent is absent",
        ),
        (
            {
                **READ,
                "Condition": {
                    "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["team*"]},
                    "DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
                    "SomethingNew": {"x:y": "z"},
                },
            },
            "Allow s3:GetObject, s3:ListBucket on arn:aws:s3:::b, arn:aws:s3:::b/* "
            "when aws:CurrentTime after 2024-01-01T00:00:00Z and any of aws:TagKeys "
            "matches team* (if present) and x:y SomethingNew z",
        ),
        (
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": OWN},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            },
            f"Allow s3:GetObject on arn:aws:s3:::b/* to everyone except account {OWN} (public)",
        ),
        (
            {"Effect": "Allow", "Action": [f"s3:Get{n}" for n in range(10)], "Resource": "*"},
            "Allow s3:Get0, s3:Get1, s3:Get2, s3:Get3, s3:Get4, s3:Get5, s3:Get6, s3:Get7 "
            "and 2 more on *",
        ),
    ],
)
def test_statements_in_words(statement, words):
    assert describe_statement(one(statement), own_account=OWN) == words


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": OWN}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:123456789012:trail/*"}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        {"StringEquals": {"aws:SourceVpce": "vpce-1111"}},
        {"StringEquals": {"AWS:SOURCEVPC": "vpc-1111"}},
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"ForAnyValue:StringEquals": {"aws:PrincipalOrgPaths": "o-a/r-b/ou-c/"}},
    ],
)
def test_a_restricting_condition_makes_everyone_not_public(condition):
    assert policy_flags(one({**PUBLIC_READ, "Condition": condition})) == set()


@pytest.mark.parametrize(
    "condition",
    [
        {"StringNotEquals": {"aws:SourceAccount": OWN}},
        {"StringEqualsIfExists": {"aws:SourceAccount": OWN}},
        {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
        {"StringLike": {"aws:PrincipalArn": "*"}},
        {"Null": {"aws:SourceVpc": "false"}},
        {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        {"StringEquals": {"sts:ExternalId": "12345"}},
        {"Bool": {"aws:SecureTransport": "true"}},
    ],
)
def test_a_condition_that_does_not_restrict_leaves_it_public(condition):
    assert policy_flags(one({**PUBLIC_READ, "Condition": condition})) == {"public"}


def test_public_principal_spellings_and_deny_is_never_public():
    assert policy_flags(one({**PUBLIC_READ, "Principal": {"AWS": "arn:aws:iam::*:root"}})) == {
        "public"
    }
    assert policy_flags(one({**PUBLIC_READ, "Effect": "Deny"})) == set()
    assert policy_flags(one({**PUBLIC_READ, "Principal": {"AWS": OWN}})) == set()


def test_cross_account_needs_own_account_and_looks_inside_arns():
    statement = one({**TRUST_OTHER, "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/ci"}})
    assert policy_flags(statement) == set()
    assert policy_flags(statement, OWN) == {"cross_account"}
    assert policy_flags(statement, OTHER) == set()
    service = one({**TRUST_OTHER, "Principal": {"Service": "lambda.amazonaws.com"}})
    assert policy_flags(service, OWN) == set()


def test_statement_json_of_a_hand_built_statement():
    statement = Statement(
        effect="Allow",
        not_actions=frozenset({"iam:*"}),
        not_resources=frozenset({"arn:aws:s3:::b"}),
        not_principals=frozenset({("AWS", OWN), ("Service", "ec2.amazonaws.com")}),
    )
    assert statement_json(statement) == {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": OWN, "Service": "ec2.amazonaws.com"},
        "NotAction": "iam:*",
        "NotResource": "arn:aws:s3:::b",
    }


# -------------------------------------------------------------------------- junk


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "the policy document is empty"),
        ("{not json", "the policy document is not JSON: Expecting property name"),
        ("%7Bnope", "the policy document is not JSON"),
        ("[]", "a policy document must be a JSON object, not a list"),
        (42, "a policy document must be JSON text or an object, not a number (42)"),
        (b"\xff", "the policy document is not UTF-8 text"),
        ({}, "the policy has no Statement"),
        ({"Statement": [], "Versoin": "x"}, "unknown element 'Versoin'"),
        ({"Statement": "x"}, "Statement must be an object or a list, not a string"),
        ({"Statement": [], "Version": "2020-01-01"}, "Version: Version must be 2012-10-17"),
        (doc("Allow"), "Statement 1: must be an object, not a string"),
        (doc({"Action": "s3:GetObject"}), "Statement 1: has no Effect"),
        (
            doc({**READ, "Effect": "Permit"}),
            "Statement 1 (Sid 'Read'): Effect must be Allow or Deny, not 'Permit'",
        ),
        (
            doc(READ, {"Effect": "Allow", "Resource": "*"}),
            "Statement 2: has no Action or NotAction",
        ),
        (
            doc({**READ, "NotAction": "s3:*"}),
            "Statement 1 (Sid 'Read'): has both Action and NotAction; use one",
        ),
        (doc({**READ, "NotResource": "*"}), "has both Resource and NotResource"),
        (doc({**READ, "Actions": "s3:*"}), "Statement 1 (Sid 'Read'): unknown element 'Actions'"),
        (doc({**READ, "Action": []}), "Statement 1 (Sid 'Read'): Action is an empty list"),
        (
            doc({**READ, "Action": ["s3:GetObject", 3]}),
            "Action entries must be strings, not a number (3)",
        ),
        (doc({**READ, "Resource": [None]}), "Resource entries must be strings, not null"),
        (doc({**READ, "Resource": ""}), "Resource has an empty string"),
        (doc({**READ, "Action": "s3GetObject"}), "Action 's3GetObject' is not service:action or *"),
        (doc({**PUBLIC_READ, "Principal": OTHER}), 'Principal must be "*" or an object'),
        (doc({**PUBLIC_READ, "Principal": {}}), "Principal is empty"),
        (doc({**PUBLIC_READ, "Principal": {"User": "x"}}), "unknown Principal type 'User'"),
        (doc({**PUBLIC_READ, "Principal": {"AWS": [1]}}), "Principal.AWS entries must be strings"),
        (doc({**READ, "Condition": ["x"]}), "Condition must be an object, not a list"),
        (doc({**READ, "Condition": {"Bool": "x"}}), "Condition Bool must map keys to values"),
        (
            doc({**READ, "Condition": {"Bool": {"aws:SecureTransport": {"a": 1}}}}),
            "Condition Bool.aws:SecureTransport values must be strings, not an object",
        ),
        (doc({**READ, "Sid": ["x"]}), "Statement 1: Sid must be a string, not a list"),
    ],
)
def test_junk_raises_a_policy_error_naming_the_problem(value, message):
    with pytest.raises(PolicyError) as caught:
        parse_policy(value)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, SetpointError)


def test_policy_document_equality_is_with_documents_only():
    parsed = parse_policy(doc(READ))
    assert parsed != document_json(parsed)
    assert isinstance(parsed, PolicyDocument)
    assert len({parsed, parse_policy(json.dumps(doc(READ)))}) == 1
    assert parse_policy(parsed) is parsed


# ----------------------------------------------------- flags the reviewer found too narrow


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
        {"StringLike": {"aws:PrincipalOrgID": ["o-abc123", "o-?*"]}},  # one broad value
        {"StringLike": {"aws:SourceAccount": "1234567890??"}},
        {"StringLike": {"aws:SourceVpce": "vpce-*"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}},
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*/r-ab12/*"}},
    ],
)
def test_a_wildcard_condition_value_does_not_restrict_everyone(condition):
    assert policy_flags(one({**PUBLIC_READ, "Condition": condition})) == {"public"}
    words = diff_policies(
        None, parse_policy(doc({**PUBLIC_READ, "Condition": condition})), path="p"
    )
    assert words[0].world_open and "(public)" in words[0].summary


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{OWN}:*"}},  # the account is pinned
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/*"}},  # the org is
    ],
)
def test_a_wildcard_that_leaves_the_account_or_org_pinned_still_restricts(condition):
    assert policy_flags(one({**PUBLIC_READ, "Condition": condition})) == set()


@pytest.mark.parametrize(
    ("statement", "flag"),
    [
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "near_admin"),
        ({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
         "near_admin"),
        # every action but one that is not IAM: it grants iam:*, so it is admin
        ({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "*"}, "admin"),
        ({"Effect": "Allow", "NotAction": "iam:PassRole", "Resource": "*"}, "admin"),
        ({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}, "admin"),
        ({"Effect": "Allow", "Action": "IAM:*", "Resource": ["*"]}, "admin"),
        ({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::x"}, "admin"),
        ({"Effect": "Allow", "Action": "iam:*", "NotResource": "arn:aws:s3:::x"}, "admin"),
    ],
)  # fmt: skip
def test_broad_grants_beyond_star_on_star_are_flagged(statement, flag):
    assert policy_flags(one(statement)) == {flag}
    assert policy_flags(one({**statement, "Effect": "Deny"})) == set()


def test_narrow_grants_are_not_admin():
    assert policy_flags(one({"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"})) == set()
    assert (
        policy_flags(
            one({"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::1:role/x"})
        )
        == set()
    )
    assert (
        policy_flags(one({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}))
        == set()
    )


def test_near_admin_has_words():
    statement = one({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert describe_statement(statement) == "Allow every action except iam:* on * (near-admin)"


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": OTHER}},
        {"StringEquals": {"aws:PrincipalAccount": [OWN, OTHER]}},
        {"StringEquals": {"AWS:SourceOwner": OTHER}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::b/{OTHER}"}},  # no account field: no
        {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{OTHER}:topic"}},
    ],
)
def test_cross_account_reads_account_ids_in_caller_conditions(condition):
    service = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": "*",
        "Condition": condition,
    }
    expected = set() if "arn:aws:s3" in json.dumps(condition) else {"cross_account"}
    assert policy_flags(one(service), OWN) == expected
    assert policy_flags(one(service)) == set()  # without our account, nothing to compare


def test_negated_or_own_account_conditions_are_not_cross_account():
    base = {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "s3:*",
            "Resource": "arn:aws:s3:::b/*"}  # fmt: skip
    for condition in (
        {"StringNotEquals": {"aws:SourceAccount": OTHER}},
        {"StringEquals": {"aws:SourceAccount": OWN}},
        {"StringEquals": {"sts:ExternalId": OTHER}},
    ):
        assert policy_flags(one({**base, "Condition": condition}), OWN) == set()


def test_change_policy_flags_reads_the_statement_back():
    admin = parse_policy(doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}))
    (change,) = diff_policies(None, admin, path="document")
    assert change_policy_flags(change) == {"admin"}
    trust = parse_policy(doc(TRUST_OTHER))
    (removed,) = diff_policies(trust, None, path="trust_policy", own_account=OWN)
    assert change_policy_flags(removed, OWN) == {"cross_account"}
