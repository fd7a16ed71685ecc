"""The event path's verdicts for groups that moved, were renamed away or deleted."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from chalicelib.aws import ClientCache
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.spec import match_security_group
from chalicelib.model import ResourceRef, Status
from chalicelib.runtime import build_pipeline
from chalicelib.specs.loading import load_documents
from tests.conftest import REGION, make_vpc_with_web


def pipeline() -> Any:
    return build_pipeline(ClientCache())


def spec(text: str) -> Any:
    return load_documents([("policies/web.yaml", "kind: security_group\n" + text)])


def test_spec_group_names_resolve_only_within_the_groups_vpc(ec2: Any) -> None:
    vpc_a = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    vpc_b = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    app = ec2.create_security_group(GroupName="app", Description="a", VpcId=vpc_a)["GroupId"]
    ec2.create_security_group(GroupName="lb", Description="l", VpcId=vpc_a)
    other_lb = ec2.create_security_group(GroupName="lb", Description="l", VpcId=vpc_b)["GroupId"]
    # someone points app's rule at the *other* VPC's "lb" (a peered VPC)
    ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "UserIdGroupPairs": [{"GroupId": other_lb}],
            }
        ],
    )
    catalog = spec(
        f"name: app\nvpc_id: {vpc_a}\ningress:\n  - proto: tcp\n    ports: 80\n    group: lb\n"
    )
    ref = ResourceRef(SECURITY_GROUP, "123456789012", REGION, id=app)
    (finding,) = pipeline().evaluate([ref], catalog)
    assert finding.status is Status.DRIFTED
    assert sorted(c.op for c in finding.changes) == ["add", "remove"]


def test_delete_by_name_in_the_default_vpc_reports_the_imported_spec_missing(ec2: Any) -> None:
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][
        0
    ]["VpcId"]
    ec2.create_security_group(GroupName="legacy", Description="x", VpcId=default_vpc)
    catalog = spec(
        f"name: legacy\nvpc_id: {default_vpc}\nregion: {REGION}\naccount: '123456789012'\n"
    )
    ec2.delete_security_group(GroupName="legacy")
    ref = ResourceRef(SECURITY_GROUP, "123456789012", REGION, name="legacy")
    (finding,) = pipeline().evaluate([ref], catalog)
    assert finding.status is Status.MISSING
    assert finding.spec == "policies/web.yaml:1"


def test_a_peer_in_another_account_written_by_id_is_in_sync() -> None:
    from chalicelib.kinds.security_group.collector import parse_security_group
    from chalicelib.kinds.security_group.compare import evaluate_security_group

    raw = {
        "GroupId": "sg-0aaaaaaaaaaaaaaaa",
        "GroupName": "app",
        "OwnerId": "123456789012",
        "VpcId": "vpc-0abc",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "UserIdGroupPairs": [{"GroupId": "sg-0fedcba987654321f", "UserId": "222222222222"}],
            }
        ],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }
    catalog = spec(
        "name: app\ningress:\n  - proto: tcp\n    ports: 443\n    group: sg-0fedcba987654321f\n"
    )
    live = parse_security_group(raw, REGION)
    finding = evaluate_security_group(match_security_group(catalog, live), live)
    assert finding.status is Status.IN_SYNC, finding.changes


@pytest.mark.parametrize("code", ["UnauthorizedOperation", "AccessDenied"])
def test_a_denied_group_read_is_unknown_never_in_sync_or_missing(ec2: Any, code: str) -> None:
    """The role lost ec2:DescribeSecurityGroups: the event's group is `unknown`, with the
    spec it belongs to and the reason, never reported as fine or as gone.

    moto cannot deny one call, so botocore's Stubber answers that call with AWS's error."""
    ids = make_vpc_with_web(ec2)
    catalog = spec(
        f"name: web\ngroup_id: {ids['web']}\ningress:\n"
        "  - proto: tcp\n    ports: 443\n    cidr: 0.0.0.0/0\n"
    )
    ref = ResourceRef(SECURITY_GROUP, "123456789012", REGION, id=ids["web"])
    clients = ClientCache()
    allowed = build_pipeline(clients)
    (before,) = allowed.evaluate([ref], catalog)
    assert before.status is Status.IN_SYNC  # the group does match: only the denial changes it

    denied = Stubber(clients.client("ec2", REGION))
    denied.add_client_error(
        "describe_security_groups", service_error_code=code, http_status_code=403
    )
    with denied:
        (finding,) = build_pipeline(clients).evaluate([ref], catalog)
    denied.assert_no_pending_responses()
    assert finding.status is Status.UNKNOWN
    assert finding.id == ids["web"]
    assert finding.spec == "policies/web.yaml:1"
    assert finding.reason is not None
    assert code in finding.reason and REGION in finding.reason  # what to grant, and where
