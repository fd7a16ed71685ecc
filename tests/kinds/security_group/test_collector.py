"""Live reads of security groups: moto for behaviour, Stubber where moto differs from AWS."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.errors import ReadError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.collector import SecurityGroupCollector, parse_security_group
from chalicelib.kinds.security_group.model import Rule
from chalicelib.model import ResourceRef

REGION = "eu-west-1"


@pytest.fixture
def ec2(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def test_a_permission_with_several_peers_becomes_one_rule_per_peer(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    bastion = ec2.create_security_group(GroupName="bastion", Description="b", VpcId=vpc)["GroupId"]
    web = ec2.create_security_group(GroupName="web", Description="w", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [
                    {"CidrIp": "10.0.0.0/8", "Description": "office"},
                    {"CidrIp": "0.0.0.0/0"},
                ],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                "UserIdGroupPairs": [{"GroupId": bastion}],
            }
        ],
    )
    collector = SecurityGroupCollector(lambda region: ec2)
    (live,) = collector.read(ResourceRef(SECURITY_GROUP, None, REGION, id=web))
    ingress = {r for r in live.rules if r.direction == "ingress"}
    assert ingress == {
        Rule("ingress", "tcp", 22, 22, "cidr", "10.0.0.0/8"),
        Rule("ingress", "tcp", 22, 22, "cidr", "0.0.0.0/0"),
        Rule("ingress", "tcp", 22, 22, "cidr6", "::/0"),
        Rule("ingress", "tcp", 22, 22, "group", bastion),
    }
    described = {r.peer: r.description for r in ingress}
    assert described["10.0.0.0/8"] == "office"
    assert live.peer_names[bastion] == "bastion"
    assert live.name == "web" and live.vpc_id == vpc and live.region == REGION


def test_read_by_name_uses_the_default_vpc_when_the_record_names_none(ec2):
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    gid = ec2.create_security_group(
        GroupName="legacy", Description="x", VpcId=default_vpc["VpcId"]
    )["GroupId"]
    collector = SecurityGroupCollector(lambda region: ec2)
    (live,) = collector.read(ResourceRef(SECURITY_GROUP, None, REGION, name="legacy"))
    assert live.group_id == gid


def test_a_deleted_group_reads_as_absent_not_as_an_error(ec2):
    collector = SecurityGroupCollector(lambda region: ec2)
    ref = ResourceRef(SECURITY_GROUP, None, REGION, id="sg-0123456789abcdef0")
    assert collector.read(ref) == []


def test_rule_ids_lead_to_their_group(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="api", Description="a", VpcId=vpc)["GroupId"]
    out = ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
        ],
    )
    rule_id = out["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    collector = SecurityGroupCollector(lambda region: ec2)
    (live,) = collector.read(ResourceRef(SECURITY_GROUP, None, REGION, rule_ids=(rule_id,)))
    assert live.group_id == gid


def test_access_denied_is_a_read_error_with_its_code():
    client = boto3.client(
        "ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stub:
        stub.add_client_error(
            "describe_security_groups", "UnauthorizedOperation", http_status_code=403
        )
        collector = SecurityGroupCollector(lambda region: client)
        with pytest.raises(ReadError) as err:
            collector.read(ResourceRef(SECURITY_GROUP, None, REGION, id="sg-0abc"))
    assert err.value.code == "UnauthorizedOperation"


def _group(n: int) -> dict:
    return {
        "GroupId": f"sg-{n:017x}",
        "GroupName": f"g{n}",
        "Description": "d",
        "OwnerId": "123456789012",
        "VpcId": "vpc-0abc",
        "IpPermissions": [],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }


def test_list_region_follows_next_token_at_the_largest_page_size():
    """moto ignores MaxResults and never returns NextToken, so pagination is tested with Stubber."""
    client = boto3.client(
        "ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "describe_security_groups",
            {"SecurityGroups": [_group(1), _group(2)], "NextToken": "page2"},
            {"MaxResults": 1000},
        )
        stub.add_response(
            "describe_security_groups",
            {"SecurityGroups": [_group(3)]},
            {"MaxResults": 1000, "NextToken": "page2"},
        )
        groups = SecurityGroupCollector(lambda region: client).list_region(REGION)
        stub.assert_no_pending_responses()
    assert [g.name for g in groups] == ["g1", "g2", "g3"]
    assert groups[0].peer_names[f"sg-{3:017x}"] == "g3"  # names known VPC-wide


def test_throttling_past_retries_is_a_read_error():
    client = boto3.client(
        "ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stub:
        stub.add_client_error(
            "describe_security_groups", "RequestLimitExceeded", http_status_code=503
        )
        with pytest.raises(ReadError, match="RequestLimitExceeded"):
            SecurityGroupCollector(lambda region: client).list_region(REGION)


def test_parse_handles_all_traffic_icmp_prefix_lists_and_other_accounts():
    raw = {
        "GroupId": "sg-0aaa",
        "GroupName": "x",
        "OwnerId": "123456789012",
        "IpPermissions": [
            {
                "IpProtocol": "icmp",
                "FromPort": -1,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 0,
                "ToPort": 65535,
                "PrefixListIds": [{"PrefixListId": "pl-0abc"}],
            },
            {
                "IpProtocol": "-1",
                "UserIdGroupPairs": [{"GroupId": "sg-0bbb", "UserId": "210987654321"}],
            },
            {"IpProtocol": "50", "IpRanges": [{"CidrIp": "192.168.0.0/16"}]},
        ],
        "IpPermissionsEgress": [],
    }
    rules = parse_security_group(raw, REGION).rules
    assert rules == {
        Rule("ingress", "icmp", -1, -1, "cidr", "10.0.0.0/8"),
        Rule("ingress", "tcp", 0, 65535, "prefix_list", "pl-0abc"),
        Rule("ingress", "-1", None, None, "group", "sg-0bbb"),  # ids are unique across accounts
        Rule("ingress", "50", None, None, "cidr", "192.168.0.0/16"),
    }


def test_a_region_listing_shares_each_vpcs_names_between_its_groups(ec2):
    """Every group of a VPC gets the same id -> name mapping (not a copy each: a sweep of
    n groups in one VPC would copy and invert n names n times), and a spec may still
    name any of them as a peer."""
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    other = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    ids = {
        name: ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        for name in ("lb", "app", "db")
    }
    elsewhere = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=other)["GroupId"]
    states = SecurityGroupCollector(lambda region: ec2).list_region(REGION)
    in_vpc = [s for s in states if s.vpc_id == vpc]
    assert len(in_vpc) == 4  # the three and the VPC's default group
    assert len({id(s.peer_names) for s in in_vpc}) == 1
    names = in_vpc[0].peer_names
    assert {names[i] for i in ids.values()} == {"lb", "app", "db"}
    assert elsewhere not in names  # group names are unique only within one VPC
    (lb_elsewhere,) = [s for s in states if s.group_id == elsewhere]
    assert lb_elsewhere.peer_names[elsewhere] == "lb" and ids["lb"] not in lb_elsewhere.peer_names


def test_each_distinct_cidr_is_parsed_once(monkeypatch):
    """A sweep meets 0.0.0.0/0 and 10.0.0.0/8 in thousands of rules: parsed once each."""
    import ipaddress

    from chalicelib.kinds.security_group import canonical

    parsed: list[str] = []
    real = ipaddress.ip_network

    def counting(value: str, strict: bool = True):
        parsed.append(value)
        return real(value, strict=strict)

    canonical.cidr_version.cache_clear()
    monkeypatch.setattr(canonical.ipaddress, "ip_network", counting)
    raw = {
        "GroupId": "sg-0123456789abcdef0",
        "GroupName": "web",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": p,
                "ToPort": p,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
            for p in (22, 80, 443)
        ],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }
    states = [parse_security_group(raw, REGION) for _ in range(3)]
    assert sorted(parsed) == ["0.0.0.0/0", "10.0.0.0/8"]
    assert all(s.rules == states[0].rules for s in states)
    canonical.cidr_version.cache_clear()


def test_names_are_asked_200_to_a_filter_as_ec2_allows() -> None:
    """AWS refuses more than 200 values in one filter (FilterLimitExceeded); moto takes
    any number, so the requests are checked with botocore's Stubber: 450 names (a delete
    checked against every name-scoped spec of a region) are three calls, none over 200."""
    client = boto3.client(
        "ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    names = [f"g{n}" for n in range(450)]
    with Stubber(client) as stub:
        for start in (0, 200, 400):
            chunk = sorted(names)[start : start + 200]
            answer = [_group(int(chunk[0][1:]))]
            stub.add_response(
                "describe_security_groups",
                {"SecurityGroups": answer},
                {"Filters": [{"Name": "group-name", "Values": chunk}], "MaxResults": 1000},
            )
        collector = SecurityGroupCollector(lambda region: client)
        present = collector.names_present(REGION, names)
        stub.assert_no_pending_responses()
    assert len(present) == 3
