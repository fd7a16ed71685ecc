"""Sweeping shards: a region or account that cannot be read is `unknown`, the rest goes on."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.aws import FAILURE_MEMORY_SECONDS, ClientCache, RoleSessions, default_region
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Status
from chalicelib.specs.loading import load_documents
from chalicelib.sweep.run import ShardRunner, run_in_process
from chalicelib.sweep.shards import plan_shards

OWN = "123456789012"
SPECS = load_documents(
    [
        (
            "policies/web.yaml",
            "kind: security_group\nname: web\nregion: us-west-2\ndescription: web\n",
        )
    ]
)


def refuse_region(clients: ClientCache, region: str, code: str) -> None:
    """moto serves every region; AWS answers OptInRequired in a region not enabled."""

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = {"Error": {"Code": code, "Message": "opt in first"}}
        return AWSResponse(f"https://ec2.{region}.amazonaws.com/", 401, {}, None), body

    clients.client("ec2", region).meta.events.register(
        "before-call.ec2.DescribeSecurityGroups", refuse
    )


@pytest.fixture
def clients(aws: None) -> ClientCache:
    made = ClientCache()
    boto3.client("ec2", region_name="eu-west-1").create_security_group(
        GroupName="loose", Description="no spec"
    )
    return made


def test_a_configured_region_that_refuses_is_unknown_and_the_others_are_read(
    clients: ClientCache,
) -> None:
    refuse_region(clients, "us-west-2", "OptInRequired")
    runner = ShardRunner(RoleSessions(clients, own_account=OWN))
    shards = plan_shards([OWN], ["eu-west-1", "us-west-2"], [SECURITY_GROUP])
    swept = run_in_process(shards, SPECS, runner, workers=2)
    by_region = {r.shard.region: r for r in swept.results}
    refused = by_region["us-west-2"]
    assert {f.status for f in refused.findings} == {Status.UNKNOWN}
    assert all("OptInRequired" in (f.reason or "") for f in refused.findings)
    # the spec of that region is unknown, never missing or in sync
    assert [f.name for f in refused.findings if f.spec] == ["web"]
    names = {f.name for f in by_region["eu-west-1"].findings}
    assert "loose" in names


def test_enabled_regions_skip_regions_the_account_did_not_enable(clients: ClientCache) -> None:
    runner = ShardRunner(RoleSessions(clients, own_account=OWN), enabled_only=True)
    shards = plan_shards([OWN], ["eu-west-1", "ap-east-1"], [SECURITY_GROUP])
    swept = run_in_process(shards, SPECS, runner)
    skipped = {r.shard.region: r.skipped for r in swept.results}
    assert skipped == {"eu-west-1": None, "ap-east-1": "ap-east-1 is not enabled"}
    assert all(f.region == "eu-west-1" for f in swept.findings)


def test_results_come_back_in_plan_order_whatever_finishes_first(clients: ClientCache) -> None:
    shards = plan_shards([OWN], ["eu-west-1", "us-east-1", "us-west-2"])
    seen: list[str] = []
    runner = ShardRunner(RoleSessions(clients, own_account=OWN))
    swept = run_in_process(
        shards, SPECS, runner, workers=4, on_result=lambda r: seen.append(r.shard.id)
    )
    assert [r.shard for r in swept.results] == shards
    assert sorted(seen) == sorted(s.id for s in shards)


def test_a_region_list_that_failed_is_asked_again_after_a_while_in_a_warm_container(
    clients: ClientCache,
) -> None:
    refusing = [True]

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not refusing[0]:
            return None
        body = {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}}
        return AWSResponse("https://ec2.amazonaws.com/", 503, {}, None), body

    clients.client("ec2", default_region()).meta.events.register(
        "before-call.ec2.DescribeRegions", refuse
    )
    now = [1000.0]
    runner = ShardRunner(
        RoleSessions(clients, own_account=OWN), enabled_only=True, clock=lambda: now[0]
    )
    (shard,) = plan_shards([OWN], ["eu-west-1"], [SECURITY_GROUP])
    assert runner.run(shard, SPECS).unread  # DescribeRegions failed: unknown
    refusing[0] = False
    assert runner.run(shard, SPECS).unread  # the same sweep does not ask once per shard
    now[0] += FAILURE_MEMORY_SECONDS + 1  # the next hourly sweep, same container
    swept = runner.run(shard, SPECS)
    assert swept.unread is None and "loose" in {f.name for f in swept.findings}
