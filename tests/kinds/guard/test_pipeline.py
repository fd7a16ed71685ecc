"""The guard's sweep and re-reads on moto: stopped trails, narrowed selectors, coverage, rules.

moto implements StopLogging, GetTrailStatus, Get/PutEventSelectors (basic and advanced),
DescribeTrails with shadow trails, and EventBridge's rules and targets, so no Stubber is
needed. Where moto differs from AWS: a new trail reports no selectors at all, which the
collector reads as CloudTrail's default (every management event), as AWS means it; and
DeleteTrail by ARN succeeds without deleting (the test deletes by name).
"""

from __future__ import annotations

import boto3

from chalicelib.aws import ClientCache
from chalicelib.kinds.guard.collector import GuardCollector
from chalicelib.kinds.guard.pipeline import GuardPipeline
from chalicelib.model import GUARD, Finding, ResourceRef, Status
from tests.state.world import specs

ACCOUNT = "123456789012"
REGIONS = ["us-east-1", "eu-west-1"]


def _pipeline() -> GuardPipeline:
    clients = ClientCache()
    return GuardPipeline(GuardCollector(clients.factory("cloudtrail"), clients.factory("events")))


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


def test_data_events_only_selectors_are_drift_and_a_second_trail_keeps_coverage(
    aws: None,
) -> None:
    narrowed = _trail("data-trail")
    _trail("org-trail")
    boto3.client("cloudtrail", region_name="us-east-1").put_event_selectors(
        TrailName=narrowed,
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False}],
    )
    result = _pipeline().sweep(specs(), ACCOUNT, REGIONS)
    found = _by_name(result.findings)
    assert found["data-trail"] == (Status.DRIFTED, ["event_selectors"])
    assert found["org-trail"] == (Status.IN_SYNC, [])
    assert [f.status for f in result.findings if f.name == "CloudTrail coverage"] == [
        Status.IN_SYNC
    ] * 2


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
