"""Shards of a sweep: which (account, region, kind family) each unit of work covers.

Pure: accounts, regions and kinds in, frozen shards and message bodies out. Each family's
`scope` (registry) says how it is read: regional (one shard per account and region, e.g.
security groups), account-wide (one shard per account covering all its regions, S3's one
listing) or global (one shard per account, IAM).

Each shard starts at a stable offset inside the sweep window, a hash of its id, so the
same shard always runs at the same moment of the hour and a large organization is read
as a steady trickle rather than a burst (the "last octet % 10" of `ansible-pull`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ConfigError
from chalicelib.kinds.registry import BY_NAME, kind_named
from chalicelib.kinds.registry import FAMILY_OF as REGISTERED
from chalicelib.model import GLOBAL_REGION, Kind

MESSAGE_VERSION = 1
# SQS DelaySeconds allows 0..900; a longer window needs another way to wait (see enqueue).
MAX_DELAY_SECONDS = 900

# a registered family's name ("security_group", "iam"): what one shard reads
Family = str

FAMILY_OF: Mapping[Kind, Family] = {kind: family.name for kind, family in REGISTERED.items()}
# every kind a sweep reads when none are named
SWEPT_KINDS: tuple[Kind, ...] = tuple(FAMILY_OF)


@dataclass(frozen=True)
class Shard:
    """One unit of sweep work.

    `region` is the region read (regional families) or "global"; `regions` is what the
    sweep call covers: the one region, or every region of the account for S3 (its buckets
    are listed once, then filtered by region), or nothing for IAM.
    """

    account: str
    region: str
    family: Family
    kinds: tuple[Kind, ...]
    regions: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.account}/{self.region}/{self.family}"


@dataclass(frozen=True)
class ShardMessage:
    """What one SQS message carries: the shard, the run it belongs to, and its place."""

    shard: Shard
    run_id: str
    index: int
    total: int
    delay_seconds: int = 0
    # epoch seconds before which the shard must not run; set when the delay exceeds what
    # one SQS DelaySeconds can hold (the worker sends the message on again until then)
    not_before: int = 0


def families(kinds: Iterable[Kind] | None) -> dict[Family, tuple[Kind, ...]]:
    """Wanted kinds grouped by the read that serves them, in a stable order."""
    wanted = list(dict.fromkeys(kinds)) if kinds is not None else list(SWEPT_KINDS)
    unsweepable = sorted(k.value for k in wanted if k not in FAMILY_OF)
    if unsweepable:
        raise ConfigError(f"no sweep for kind(s) {', '.join(unsweepable)} in this version")
    grouped: dict[Family, list[Kind]] = {}
    for kind in SWEPT_KINDS:
        if kind in wanted:
            grouped.setdefault(FAMILY_OF[kind], []).append(kind)
    return {family: tuple(found) for family, found in grouped.items()}


def plan_shards(
    accounts: Sequence[str],
    regions: Sequence[str] | Mapping[str, Sequence[str]],
    kinds: Iterable[Kind] | None = None,
) -> list[Shard]:
    """Every shard of a sweep, accounts in the order given, then families, then regions.

    `regions` is one list for every account, or a list per account.
    """
    grouped = families(kinds)
    shards: list[Shard] = []
    for account in dict.fromkeys(accounts):
        mine = regions.get(account, ()) if isinstance(regions, Mapping) else regions
        account_regions = tuple(dict.fromkeys(mine))
        for family, family_kinds in grouped.items():
            scope = BY_NAME[family].scope
            if scope == "regional":
                for region in account_regions:
                    shards.append(Shard(account, region, family, family_kinds, (region,)))
            elif scope == "account":
                if account_regions:
                    shards.append(
                        Shard(account, GLOBAL_REGION, family, family_kinds, account_regions)
                    )
            else:
                shards.append(Shard(account, GLOBAL_REGION, family, family_kinds, ()))
    return shards


def stable_delay(shard_id: str, window_seconds: int) -> int:
    """0..window-1 seconds, the same for the same shard id in every run and process.

    A cryptographic hash, not `hash()`: Python salts `hash()` per process.
    """
    if window_seconds <= 0:
        return 0
    digest = hashlib.sha256(shard_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % window_seconds


def shard_messages(shards: Sequence[Shard], run_id: str, window_seconds: int) -> list[ShardMessage]:
    return [
        ShardMessage(shard, run_id, index, len(shards), stable_delay(shard.id, window_seconds))
        for index, shard in enumerate(shards)
    ]


def encode_message(message: ShardMessage) -> str:
    """The SQS body: versioned JSON, so a worker of another version can refuse it clearly."""
    shard = message.shard
    body = {
        "v": MESSAGE_VERSION,
        "run": message.run_id,
        "index": message.index,
        "total": message.total,
        "delay": message.delay_seconds,
        "nb": message.not_before,
        "account": shard.account,
        "region": shard.region,
        "family": shard.family,
        "kinds": [k.value for k in shard.kinds],
        "regions": list(shard.regions),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode_message(body: str) -> ShardMessage:
    """A shard message back from its body; ConfigError naming what is wrong otherwise."""
    try:
        data: Any = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"sweep message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("sweep message is not a JSON object")
    version = data.get("v")
    if version != MESSAGE_VERSION:
        raise ConfigError(
            f"sweep message version {version!r} is not understood (this worker reads "
            f"version {MESSAGE_VERSION})"
        )
    try:
        family = str(data["family"])
        if family not in BY_NAME:
            raise ValueError(f"unknown family {family!r}")
        kinds = tuple(kind_named(k) for k in data["kinds"])
        if any(FAMILY_OF.get(k) != family for k in kinds) or not kinds:
            raise ValueError(f"kinds {data['kinds']} do not belong to {family}")
        shard = Shard(
            account=str(data["account"]),
            region=str(data["region"]),
            family=family,
            kinds=kinds,
            regions=tuple(str(r) for r in data["regions"]),
        )
        index, total = int(data["index"]), int(data["total"])
        if not 0 <= index < total:
            raise ValueError(f"index {index} outside 0..{total - 1}")
        return ShardMessage(
            shard,
            str(data["run"]),
            index,
            total,
            int(data.get("delay", 0)),
            int(data.get("nb", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"sweep message field missing or wrong: {exc}") from None
