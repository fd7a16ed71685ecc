"""Shard planning, stable delays and message bodies (pure)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from chalicelib.errors import ConfigError
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import GUARD, Kind
from chalicelib.sweep.shards import (
    MESSAGE_VERSION,
    Shard,
    ShardMessage,
    decode_message,
    encode_message,
    plan_shards,
    shard_messages,
    stable_delay,
)

ACCOUNTS = ["111111111111", "222222222222"]
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]


def test_groups_are_read_per_region_buckets_and_iam_once_per_account() -> None:
    shards = plan_shards(ACCOUNTS, REGIONS)
    families = Counter((s.account, s.family) for s in shards)
    for account in ACCOUNTS:
        assert families[(account, "security_group")] == len(REGIONS)
        assert families[(account, "s3_bucket")] == 1
        assert families[(account, "iam")] == 1
        assert families[(account, "load_balancer")] == len(REGIONS)
    (s3,) = [s for s in shards if s.family == "s3_bucket" and s.account == ACCOUNTS[0]]
    assert s3.regions == tuple(REGIONS)  # one listing, buckets of every region kept
    (iam,) = [s for s in shards if s.family == "iam" and s.account == ACCOUNTS[0]]
    assert set(iam.kinds) == {IAM_POLICY, IAM_ROLE, IAM_USER, IAM_GROUP}
    # two regional families (groups, load balancers), two account-wide (buckets, the
    # guard's trails and rules in every region), one global
    assert len(shards) == len(ACCOUNTS) * (2 * len(REGIONS) + 3)
    assert len({s.id for s in shards}) == len(shards)


def test_500_accounts_in_17_regions_make_18500_shards() -> None:
    accounts = [f"{n:012d}" for n in range(500)]
    regions = [f"r-{n}" for n in range(17)]
    assert len(plan_shards(accounts, regions)) == 500 * (2 * 17 + 3)


def test_kinds_choose_families_and_the_guard_is_one_shard_per_account() -> None:
    shards = plan_shards(ACCOUNTS, REGIONS, [IAM_ROLE])
    assert [(s.family, s.kinds) for s in shards] == [("iam", (IAM_ROLE,))] * 2
    guard = plan_shards(ACCOUNTS, REGIONS, [GUARD])
    assert [(s.account, s.family, s.regions) for s in guard] == [
        (account, "guard", tuple(REGIONS)) for account in ACCOUNTS
    ]
    with pytest.raises(ConfigError, match="no_such_kind"):
        plan_shards(ACCOUNTS, REGIONS, [Kind("no_such_kind")])


def test_regions_may_differ_per_account() -> None:
    shards = plan_shards(ACCOUNTS, {ACCOUNTS[0]: ["eu-west-1"], ACCOUNTS[1]: []})
    assert [(s.account, s.family) for s in shards] == [
        (ACCOUNTS[0], "security_group"),
        (ACCOUNTS[0], "s3_bucket"),
        (ACCOUNTS[0], "iam"),
        (ACCOUNTS[0], "load_balancer"),
        (ACCOUNTS[0], "guard"),
        (ACCOUNTS[1], "iam"),
    ]


def test_a_shard_always_gets_the_same_delay_and_delays_spread_over_the_window() -> None:
    shards = plan_shards([f"{n:012d}" for n in range(50)], REGIONS)
    first = [stable_delay(s.id, 600) for s in shards]
    assert first == [stable_delay(s.id, 600) for s in shards]
    assert all(0 <= d < 600 for d in first)
    # spread: every tenth of the window gets some shards, none gets a third of them
    tenths = Counter(d // 60 for d in first)
    assert len(tenths) == 10 and max(tenths.values()) < len(shards) / 3
    assert stable_delay("anything", 0) == 0


def test_messages_round_trip_and_carry_their_place_in_the_run() -> None:
    shards = plan_shards(ACCOUNTS, REGIONS)
    messages = shard_messages(shards, "run-1", 600)
    for message in messages:
        assert decode_message(encode_message(message)) == message
    assert [m.index for m in messages] == list(range(len(shards)))
    assert {m.total for m in messages} == {len(shards)}
    assert json.loads(encode_message(messages[0]))["v"] == MESSAGE_VERSION


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"v": 99}', "version 99"),
        ('{"v": 1, "family": "security_group"}', "field missing or wrong"),
    ],
)
def test_bad_messages_are_refused_with_the_reason(body: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        decode_message(body)


def test_a_message_whose_kinds_do_not_fit_its_family_is_refused() -> None:
    shard = Shard("111111111111", "global", "iam", (SECURITY_GROUP,), ())
    with pytest.raises(ConfigError, match="do not belong"):
        decode_message(encode_message(ShardMessage(shard, "r", 0, 1)))
