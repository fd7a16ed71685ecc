"""The guard's sweep and re-reads on moto: stopped trails, narrowed selectors, coverage, rules.

moto implements StopLogging, GetTrailStatus, Get/PutEventSelectors (basic and advanced),
DescribeTrails with shadow trails, and EventBridge's rules and targets, so no Stubber is
needed. Where moto differs from AWS: a new trail reports no selectors at all, which the
collector reads as CloudTrail's default (every management event), as AWS means it; and
DeleteTrail by ARN succeeds without deleting (the test deletes by name).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from chalicelib.aws import ClientCache
from chalicelib.kinds.guard.collector import GuardCollector
from chalicelib.kinds.guard.pipeline import GuardPipeline, watched_from_env
from chalicelib.model import GUARD, Finding, ResourceRef, Status
from tests.state.world import specs

ACCOUNT = "123456789012"
REGIONS = ["us-east-1", "eu-west-1"]


def _pipeline(watched: list[str] | None = None) -> GuardPipeline:
    clients = ClientCache()
    collector = GuardCollector(clients.factory("cloudtrail"), clients.factory("events"))
    return GuardPipeline(collector, watched=watched or ())


def _trail(name: str, region: str = "us-east-1", multi_region: bool = True) -> str:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=f"{name}-logs")
    cloudtrail = boto3.client("cloudtrail", region_name=region)
    arn = cloudtrail.create_trail(
        Name=name, S3BucketName=f"{name}-logs", IsMultiRegionTrail=multi_region
    )["TrailARN"]
    cloudtrail.start_logging(Name=arn)
    return str(arn)


def _by_name(findings: list[Finding]) -> dict[str, tuple[Status, list[str]]]:
    return {str(f.name): (f.status, [c.path for c in f.changes]) for f in findings}


def test_the_sweep_finds_a_stopped_trail_and_reads_it_once_for_every_region(aws: None) -> None:
    arn = _trail("org-trail")
    boto3.client("cloudtrail", region_name="us-east-1").stop_logging(Name=arn)
    result = _pipeline().sweep(specs(), ACCOUNT, REGIONS)
    found = _by_name(result.findings)
    assert found["org-trail"] == (Status.DRIFTED, ["logging"])
    # the only trail is stopped: neither region has its writes logged
    coverage = [f for f in result.findings if f.name == "CloudTrail coverage"]
    assert [(f.region, f.status) for f in coverage] == [
        ("us-east-1", Status.DRIFTED),
        ("eu-west-1", Status.DRIFTED),
    ]
    assert sum(f.id == arn for f in result.findings) == 1  # judged once, in its home region


def test_a_logging_multi_region_trail_keeps_every_region_in_sync(aws: None) -> None:
    _trail("org-trail")
    result = _pipeline().sweep(specs(), ACCOUNT, REGIONS)
    assert [f for f in result.findings if f.is_problem] == []
    assert len(result.findings) == 3  # the trail, coverage in each region


def _data_only(arn: str) -> None:
    boto3.client("cloudtrail", region_name=arn.split(":")[3]).put_event_selectors(
        TrailName=arn,
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False}],
    )


def test_a_teams_data_events_trail_is_quiet_while_another_trail_covers_every_region(
    aws: None,
) -> None:
    _data_only(_trail("data-trail"))
    _trail("org-trail")
    result = _pipeline().sweep(specs(), ACCOUNT, REGIONS)
    found = _by_name(result.findings)
    assert found["data-trail"] == (Status.IN_SYNC, [])
    assert found["org-trail"] == (Status.IN_SYNC, [])
    assert [f for f in result.findings if f.is_problem] == []


def test_a_data_events_trail_is_drift_when_no_other_trail_logs_management_writes(
    aws: None,
) -> None:
    _data_only(_trail("data-trail"))
    result = _pipeline().sweep(specs(), ACCOUNT, REGIONS)
    (finding,) = [f for f in result.findings if f.name == "data-trail"]
    assert finding.status is Status.DRIFTED
    assert [c.path for c in finding.changes] == ["event_selectors"]
    assert finding.reason is not None and "us-east-1, eu-west-1" in finding.reason


def test_single_region_trails_in_each_swept_region_keep_the_account_covered(aws: None) -> None:
    _trail("east-trail", "us-east-1", multi_region=False)
    _trail("west-trail", "eu-west-1", multi_region=False)
    result = _pipeline().sweep(specs(), ACCOUNT, REGIONS)
    found = _by_name(result.findings)
    assert found["east-trail"] == (Status.IN_SYNC, [])
    assert found["west-trail"] == (Status.IN_SYNC, [])
    assert [f for f in result.findings if f.is_problem] == []


def test_a_single_region_trail_is_drift_for_the_swept_region_nobody_logs(aws: None) -> None:
    _trail("east-trail", "us-east-1", multi_region=False)
    result = _pipeline().sweep(specs(), ACCOUNT, REGIONS)
    (finding,) = [f for f in result.findings if f.name == "east-trail"]
    assert finding.status is Status.DRIFTED
    assert finding.changes[0].summary == "trail logs only us-east-1: calls in eu-west-1 go unheard"
    # the sweep watches only us-east-1: the same trail is all Setpoint needs
    only_east = _pipeline().sweep(specs(), ACCOUNT, ["us-east-1"])
    assert [f for f in only_east.findings if f.is_problem] == []


def test_an_event_on_a_narrowed_trail_is_quiet_while_another_trail_covers(aws: None) -> None:
    narrowed = _trail("data-trail")
    _trail("org-trail", "eu-west-1")
    _data_only(narrowed)
    ref = ResourceRef(GUARD, ACCOUNT, "us-east-1", id=narrowed, name="data-trail")
    (finding,) = _pipeline().evaluate_ref(ref, specs())
    assert finding.status is Status.IN_SYNC and finding.id == narrowed


def test_an_event_reads_a_watched_regions_own_trail_before_calling_it_blind(aws: None) -> None:
    east = _trail("east-trail", "us-east-1", multi_region=False)
    _trail("west-trail", "eu-west-1", multi_region=False)
    ref = ResourceRef(GUARD, ACCOUNT, "us-east-1", id=east, name="east-trail")
    watching_both = _pipeline(watched=REGIONS)
    assert watching_both.evaluate_ref(ref, specs())[0].status is Status.IN_SYNC
    boto3.client("cloudtrail", region_name="eu-west-1").stop_logging(Name="west-trail")
    (finding,) = watching_both.evaluate_ref(ref, specs())
    assert finding.status is Status.DRIFTED
    assert finding.changes[0].summary == "trail logs only us-east-1: calls in eu-west-1 go unheard"


def test_a_trail_a_spec_names_is_judged_on_its_own_even_when_others_cover(aws: None) -> None:
    narrowed = _trail("data-trail")
    _trail("org-trail")
    _data_only(narrowed)
    catalog = specs(("guard.yaml", "kind: guard\ntrails: [data-trail, org-trail]\n"))
    ref = ResourceRef(GUARD, ACCOUNT, "us-east-1", id=narrowed, name="data-trail")
    (finding,) = _pipeline().evaluate_ref(ref, catalog)
    assert finding.status is Status.DRIFTED and finding.spec == "guard.yaml:1"
    found = _by_name(_pipeline().sweep(catalog, ACCOUNT, REGIONS).findings)
    assert found["data-trail"] == (Status.DRIFTED, ["event_selectors"])


def test_the_watched_regions_come_from_setpoint_regions() -> None:
    assert watched_from_env({"SETPOINT_REGIONS": "eu-west-1, us-east-1,eu-west-1"}) == (
        "eu-west-1",
        "us-east-1",
    )
    assert watched_from_env({"SETPOINT_REGIONS": "enabled"}) == ()
    assert watched_from_env({}) == ()


def test_a_spec_naming_the_trails_leaves_the_others_alone(aws: None) -> None:
    narrowed = _trail("data-trail")
    _trail("org-trail")
    boto3.client("cloudtrail", region_name="us-east-1").put_event_selectors(
        TrailName=narrowed,
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False}],
    )
    catalog = specs(("guard.yaml", "kind: guard\ntrails: [org-trail]\n"))
    result = _pipeline().sweep(catalog, ACCOUNT, REGIONS)
    assert "data-trail" not in _by_name(result.findings)
    assert [f for f in result.findings if f.is_problem] == []


def test_a_single_region_trail_is_drift_unless_the_spec_watches_only_its_home(aws: None) -> None:
    arn = _trail("home-trail", multi_region=False)
    ref = ResourceRef(GUARD, ACCOUNT, "us-east-1", id=arn, name="home-trail")
    (finding,) = _pipeline().evaluate_ref(ref, specs())
    assert finding.status is Status.DRIFTED
    assert finding.changes[0].summary.startswith("trail logs only us-east-1")
    home_only = specs(("guard.yaml", "kind: guard\nregions: [us-east-1]\n"))
    assert _pipeline().evaluate_ref(ref, home_only)[0].status is Status.IN_SYNC


def test_a_deleted_trail_is_missing_against_the_built_in_default(aws: None) -> None:
    arn = _trail("org-trail")
    # by name: moto 5.2.5 answers DeleteTrail by ARN without deleting anything
    boto3.client("cloudtrail", region_name="us-east-1").delete_trail(Name="org-trail")
    ref = ResourceRef(GUARD, ACCOUNT, "us-east-1", id=arn, name="org-trail")
    (finding,) = _pipeline().evaluate_ref(ref, specs())
    assert finding.status is Status.MISSING and finding.spec == "built-in guard default"


def test_the_sweep_reads_setpoints_rules_and_no_other(aws: None) -> None:
    _trail("org-trail")
    events = boto3.client("events", region_name="us-east-1")
    for name in ("setpoint-prod-OnEc2ChangeEvent-1", "setpoint-prod-OnS3ChangeEvent-2", "other"):
        events.put_rule(Name=name, EventPattern='{"source": ["aws.ec2"]}')
    events.put_targets(
        Rule="setpoint-prod-OnEc2ChangeEvent-1",
        Targets=[{"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}],
    )
    result = _pipeline().sweep(specs(), ACCOUNT, ["us-east-1"])
    found = _by_name(result.findings)
    assert "other" not in found
    assert found["setpoint-prod-OnEc2ChangeEvent-1"] == (Status.IN_SYNC, [])
    assert found["setpoint-prod-OnS3ChangeEvent-2"] == (Status.DRIFTED, ["targets"])


def test_a_stopped_trail_is_still_drift_when_the_other_trails_cannot_be_read() -> None:
    """botocore's Stubber: the second DescribeTrails (every trail) is refused, which moto
    cannot be made to do while it answers the first (the trail itself)."""
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"
    client = boto3.client("cloudtrail", region_name="us-east-1")
    stub = Stubber(client)
    trail: dict[str, Any] = {"Name": "org-trail", "TrailARN": arn, "HomeRegion": "us-east-1"}
    trail["IsMultiRegionTrail"] = True
    stub.add_response("describe_trails", {"trailList": [trail]})
    stub.add_response("get_trail_status", {"IsLogging": False})
    stub.add_response("get_event_selectors", {"TrailARN": arn})
    stub.add_client_error("describe_trails", "AccessDeniedException", "not allowed")
    with stub:
        collector = GuardCollector(lambda region: client, lambda region: None)
        ref = ResourceRef(GUARD, ACCOUNT, "us-east-1", id=arn, name="org-trail")
        (finding,) = GuardPipeline(collector).evaluate_ref(ref, specs())
    assert finding.status is Status.DRIFTED and [c.path for c in finding.changes] == ["logging"]
    assert finding.reason is not None
    assert "other trails could not be read" in finding.reason
    assert "AccessDeniedException" in finding.reason
