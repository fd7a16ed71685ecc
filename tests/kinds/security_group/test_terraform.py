"""Terraform's groups and rules as security group specs (fixtures: tests/fixtures/terraform,
shapes and their sources in SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import SpecError
from chalicelib.kinds.security_group.model import Rule
from chalicelib.kinds.security_group.terraform import SecurityGroupMapping
from chalicelib.sources.declared import Declared, declared_file
from chalicelib.sources.terraform.model import TfInstance
from chalicelib.sources.terraform.state import parse_state

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "terraform"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'


def _network() -> list[TfInstance]:
    path = FIXTURES / "network" / "terraform.tfstate"
    return parse_state("network/terraform.tfstate", path.read_text())


def _declared(instances: list[TfInstance]) -> dict[str, Declared]:
    out = list(SecurityGroupMapping().declare(instances))
    assert not [item for item in out if isinstance(item, SpecError)]
    return {item.origin: item for item in out if isinstance(item, Declared)}


def _specs(instances: list[TfInstance]) -> dict[str, Any]:
    parsed = declared_file("terraform:states", SecurityGroupMapping().declare(instances))
    assert parsed.errors == ()
    return {item.spec.group_id: item.spec for item in parsed.specs}


def _keys(rules: frozenset[Rule] | None) -> set[tuple[object, ...]]:
    return {rule.key for rule in rules or ()}


def test_separate_rules_and_their_refresh_copies_count_once() -> None:
    spec = _specs(_network())["sg-009cf1dbfc71a52ad"]
    assert str(spec.source) == "network/terraform.tfstate: module.vpc.aws_security_group.lb"
    assert _keys(spec.ingress) == {("ingress", "tcp", 443, 443, "cidr", "10.0.0.0/16")}
    assert _keys(spec.egress) == {
        ("egress", "-1", None, None, "cidr", "0.0.0.0/0"),
        ("egress", "-1", None, None, "cidr6", "::/0"),
    }
    assert spec.name == "lb" and spec.vpc_id == "vpc-090408e7d02d4e24a"
    assert (spec.region, spec.account) == ("us-east-1", "534326774172")
    assert spec.tags == {"environment": "dev", "provisioner": "terraform"}
    # Terraform manages descriptions: none written is "" (any description set by hand is drift)
    assert {rule.description for rule in spec.ingress} == {""}


def test_rule_resources_join_their_group_with_self_icmp_and_group_peers() -> None:
    specs = _specs(_network())
    db = specs["sg-0b7d4e1f2a3c5d6e7"]
    assert str(db.source) == 'network/terraform.tfstate: aws_security_group.db["primary"]'
    assert _keys(db.ingress) == {
        ("ingress", "tcp", 5432, 5432, "group", "sg-009cf1dbfc71a52ad"),
        ("ingress", "icmp", 8, -1, "cidr", "10.0.0.0/16"),
        ("ingress", "icmp", 8, -1, "cidr", "10.1.0.0/16"),
    }
    assert db.egress == frozenset()  # Terraform removed AWS's default egress rule
    default = specs["sg-05ffefbe77a93aa0b"]
    assert _keys(default.ingress) == {("ingress", "-1", None, None, "group", default.group_id)}
    assert default.tags == {}


def test_a_rule_whose_group_no_state_declares_declares_nothing() -> None:
    declared = _declared(_network())
    assert all("orphan" not in origin for origin in declared)
    assert "sg-0eeeeeeeeeeeeeeee" not in _specs(_network())
    # the data source names a group too, but reads are not desired state
    assert all("data." not in origin for origin in declared)


def test_the_spec_document_reads_like_a_hand_written_one() -> None:
    document = _declared(_network())["network/terraform.tfstate: module.vpc.aws_security_group.lb"]
    assert document.data["ingress"] == [
        {"proto": "tcp", "ports": "443", "cidr": "10.0.0.0/16", "description": ""}
    ]
    assert document.data["egress"][0] == {"proto": "all", "cidr": "0.0.0.0/0", "description": ""}


def _instance(type_: str, attributes: dict[str, Any], address: str = "") -> TfInstance:
    return TfInstance("s.tfstate", address or f"{type_}.x", type_, attributes, AWS, frozenset())


def _group(**extra: Any) -> TfInstance:
    attributes: dict[str, Any] = {
        "id": "sg-0123abcd",
        "name": "web",
        "description": "web",
        "vpc_id": "vpc-0123abcd",
        "arn": "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123abcd",
        "ingress": [],
        "egress": [],
        "tags": None,
    }
    attributes.update(extra)
    return _instance("aws_security_group", attributes, "aws_security_group.web")


def test_the_v6_region_attribute_wins_over_the_arn() -> None:
    spec = _specs([_group(region="ap-southeast-2")])["sg-0123abcd"]
    assert spec.region == "ap-southeast-2" and spec.account == "123456789012"
    assert spec.tags is None  # a state without tags pins none


def test_prefix_lists_cross_account_peers_and_protocol_numbers() -> None:
    rules = [
        _instance(
            "aws_vpc_security_group_ingress_rule",
            {
                "security_group_id": "sg-0123abcd",
                "ip_protocol": "6",
                "from_port": 8000,
                "to_port": 8100,
                "referenced_security_group_id": "210987654321/sg-0fedcba9",
                "description": "from the peer VPC",
            },
        ),
        _instance(
            "aws_vpc_security_group_egress_rule",
            {
                "security_group_id": "sg-0123abcd",
                "ip_protocol": "tcp",
                "from_port": 443,
                "to_port": 443,
                "prefix_list_id": "pl-63a5400a",
            },
        ),
        _instance(
            "aws_security_group_rule",
            {
                "security_group_id": "sg-0123abcd",
                "type": "ingress",
                "protocol": "50",
                "from_port": 0,
                "to_port": 0,
                "cidr_blocks": ["192.0.2.7/32"],
                "ipv6_cidr_blocks": ["2001:DB8::/32"],
                "self": False,
            },
        ),
    ]
    spec = _specs([_group(), *rules])["sg-0123abcd"]
    assert _keys(spec.ingress) == {
        ("ingress", "tcp", 8000, 8100, "group", "sg-0fedcba9"),
        ("ingress", "50", None, None, "cidr", "192.0.2.7/32"),
        ("ingress", "50", None, None, "cidr6", "2001:db8::/32"),
    }
    assert _keys(spec.egress) == {("egress", "tcp", 443, 443, "prefix_list", "pl-63a5400a")}
    described = {rule.peer: rule.description for rule in spec.ingress}
    assert described["sg-0fedcba9"] == "from the peer VPC"


def test_a_rule_resource_description_wins_over_its_inline_copy() -> None:
    inline = {
        "protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "cidr_blocks": ["10.0.0.0/8"],
        "description": "old",
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "security_groups": [],
        "self": False,
    }
    rule = _instance(
        "aws_vpc_security_group_ingress_rule",
        {
            "security_group_id": "sg-0123abcd",
            "ip_protocol": "tcp",
            "from_port": 22,
            "to_port": 22,
            "cidr_ipv4": "10.0.0.0/8",
            "description": "ssh from the office",
        },
    )
    spec = _specs([_group(ingress=[inline]), rule])["sg-0123abcd"]
    (only,) = spec.ingress
    assert only.description == "ssh from the office"


def test_a_group_in_two_states_is_a_duplicate_naming_both() -> None:
    from chalicelib.specs.loading import build_catalog

    first = _group()
    second = TfInstance(
        "other.tfstate", "aws_security_group.copy", first.type, first.attributes, AWS
    )
    parsed = declared_file("states", SecurityGroupMapping().declare([first, second]))
    with pytest.raises(Exception) as raised:
        build_catalog([parsed])
    assert "s.tfstate: aws_security_group.web" in str(raised.value)
    assert str(raised.value).startswith("other.tfstate: aws_security_group.copy")


def test_bad_values_are_errors_naming_the_resource_and_field() -> None:
    bad = _instance(
        "aws_security_group_rule",
        {
            "security_group_id": "sg-0123abcd",
            "type": "ingress",
            "protocol": "bogus",
            "from_port": 1,
            "to_port": 1,
            "cidr_blocks": ["10.0.0.0/8"],
        },
        "aws_security_group_rule.bad",
    )
    odd = _instance(
        "aws_security_group_rule",
        {"security_group_id": "sg-0123abcd", "type": "sideways", "protocol": "tcp"},
        "aws_security_group_rule.odd",
    )
    out = [
        item
        for item in SecurityGroupMapping().declare([_group(), bad, odd])
        if isinstance(item, SpecError)
    ]
    assert [str(e).split(":")[0:2] for e in out] == [
        ["s.tfstate", " aws_security_group_rule.bad"],
        ["s.tfstate", " aws_security_group_rule.odd"],
    ]
    assert out[0].field == "protocol" and out[1].field == "type"


def test_a_sensitive_inline_block_is_refused_without_its_value() -> None:
    group = _group(
        ingress=[
            {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["198.51.100.9/32"]}
        ]
    )
    hidden = TfInstance(
        group.origin, group.address, group.type, group.attributes, AWS, frozenset({("ingress",)})
    )
    (error,) = SecurityGroupMapping().declare([hidden])
    assert isinstance(error, SpecError)
    assert "sensitive" in str(error) and "198.51.100.9" not in str(error)
    assert json.dumps(error.field) == '"ingress"'


# --- round trip on moto: the account built with boto3, the state that describes it ---------

MOTO_ACCOUNT = "123456789012"


def _state_for(ids: dict[str, str], region: str) -> str:
    """The network fixture, its ids and account replaced by the ones moto made."""
    text = (FIXTURES / "network" / "terraform.tfstate").read_text()
    for old, new in ids.items():
        text = text.replace(old, new)
    return text.replace("534326774172", MOTO_ACCOUNT).replace("us-east-1", region)


def _default_vpc_state(group: dict[str, Any], region: str) -> str:
    """A second state adopting the default VPC's default group (as `aws_default_security_group`)."""
    attributes = {
        "arn": f"arn:aws:ec2:{region}:{MOTO_ACCOUNT}:security-group/{group['GroupId']}",
        "description": group["Description"],
        "egress": [
            {
                "cidr_blocks": ["0.0.0.0/0"],
                "description": "",
                "from_port": 0,
                "ipv6_cidr_blocks": [],
                "prefix_list_ids": [],
                "protocol": "-1",
                "security_groups": [],
                "self": False,
                "to_port": 0,
            }
        ],
        "id": group["GroupId"],
        "ingress": [],
        "name": "default",
        "owner_id": MOTO_ACCOUNT,
        "tags": {},
        "tags_all": {},
        "vpc_id": group["VpcId"],
    }
    resource = {
        "mode": "managed",
        "type": "aws_default_security_group",
        "name": "default",
        "provider": AWS,
        "instances": [{"schema_version": 1, "attributes": attributes}],
    }
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.9.8",
            "serial": 1,
            "lineage": "x",
            "outputs": {},
            "resources": [resource],
        }
    )


def _build_network(ec2: Any) -> dict[str, str]:
    """What the network fixture describes: lb, db["primary"] and the VPC's default group."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    (default,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    ec2.authorize_security_group_ingress(
        GroupId=default["GroupId"],
        IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": default["GroupId"]}]}],
    )
    lb = ec2.create_security_group(
        GroupName="lb", Description="Allow TLS inbound traffic and all outbound traffic", VpcId=vpc
    )["GroupId"]
    ec2.create_tags(
        Resources=[lb],
        Tags=[{"Key": "environment", "Value": "dev"}, {"Key": "provisioner", "Value": "terraform"}],
    )
    ec2.authorize_security_group_ingress(
        GroupId=lb,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
            }
        ],
    )
    ec2.authorize_security_group_egress(
        GroupId=lb, IpPermissions=[{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    )
    db = ec2.create_security_group(
        GroupName="db-primary", Description="Managed by Terraform", VpcId=vpc
    )["GroupId"]
    ec2.revoke_security_group_egress(
        GroupId=db, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [
                    {"GroupId": lb, "Description": "postgres from the load balancer"}
                ],
            },
            {
                "IpProtocol": "icmp",
                "FromPort": 8,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}, {"CidrIp": "10.1.0.0/16"}],
            },
        ],
    )
    return {
        "sg-009cf1dbfc71a52ad": lb,
        "sg-05ffefbe77a93aa0b": default["GroupId"],
        "sg-0b7d4e1f2a3c5d6e7": db,
        "vpc-090408e7d02d4e24a": vpc,
    }


@pytest.fixture
def described(ec2: Any, tmp_path: Path) -> tuple[Any, dict[str, str], Path]:
    from tests.conftest import REGION

    existing = ec2.describe_security_groups()["SecurityGroups"]
    ids = _build_network(ec2)
    states = tmp_path / "states"
    (states / "network").mkdir(parents=True)
    (states / "default-vpc").mkdir()
    (states / "network" / "terraform.tfstate").write_text(_state_for(ids, REGION))
    (default_group,) = existing  # moto's default VPC has its default group
    (states / "default-vpc" / "terraform.tfstate").write_text(
        _default_vpc_state(default_group, REGION)
    )
    return ec2, ids, states


def _check(states: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    from chalicelib.cli.main import main
    from tests.conftest import REGION

    capsys.readouterr()
    code = main(
        [
            "check",
            "--specs",
            f"terraform:{states}",
            "--region",
            REGION,
            "--kinds",
            "security_group",
            "--format",
            "json",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_the_account_the_state_describes_is_in_sync(
    described: tuple[Any, dict[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, states = described
    code, report = _check(states, capsys)
    assert report["findings"] == []
    assert report["summary"]["in_sync"] == 4
    assert code == 0


def test_port_22_opened_by_hand_is_drift_on_the_state_address(
    described: tuple[Any, dict[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, states = described
    lb = ids["sg-009cf1dbfc71a52ad"]
    ec2.authorize_security_group_ingress(
        GroupId=lb,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    ec2.revoke_security_group_ingress(  # the rule of aws_vpc_security_group_ingress_rule
        GroupId=lb,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
            }
        ],
    )
    code, report = _check(states, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["id"] == lb and finding["status"] == "drifted"
    assert finding["spec"] == "network/terraform.tfstate: module.vpc.aws_security_group.lb"
    assert finding["spec_line"] is None
    changes = {(c["op"], c["world_open"]): c["summary"] for c in finding["changes"]}
    assert "tcp/22" in changes[("add", True)]
    assert "tcp/443 from 10.0.0.0/16" in changes[("remove", False)]


def test_a_description_changed_by_hand_is_drift_because_terraform_manages_it(
    described: tuple[Any, dict[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, states = described
    ec2.update_security_group_rule_descriptions_ingress(
        GroupId=ids["sg-0b7d4e1f2a3c5d6e7"],
        IpPermissions=[
            {
                "IpProtocol": "icmp",
                "FromPort": 8,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "temporary"}],
            }
        ],
    )
    code, report = _check(states, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["spec"] == 'network/terraform.tfstate: aws_security_group.db["primary"]'
    (change,) = finding["changes"]
    assert change["op"] == "modify" and "'temporary', spec says ''" in change["summary"]


def test_a_rule_set_from_a_sensitive_variable_is_refused_without_its_value() -> None:
    rule = TfInstance(
        "s.tfstate",
        "aws_vpc_security_group_ingress_rule.office",
        "aws_vpc_security_group_ingress_rule",
        {
            "security_group_id": "sg-0123abcd",
            "ip_protocol": "tcp",
            "from_port": 22,
            "to_port": 22,
            "cidr_ipv4": "198.51.100.0/24",
        },
        AWS,
        frozenset({("cidr_ipv4",)}),
    )
    out = list(SecurityGroupMapping().declare([_group(), rule]))
    (error,) = [item for item in out if isinstance(item, SpecError)]
    assert error.file == "s.tfstate: aws_vpc_security_group_ingress_rule.office"
    assert error.field == "cidr_ipv4" and "198.51.100" not in str(error)


def test_a_group_the_state_declares_deleted_by_hand_is_missing_on_its_address(
    described: tuple[Any, dict[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, states = described
    ec2.delete_security_group(GroupId=ids["sg-0b7d4e1f2a3c5d6e7"])
    code, report = _check(states, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["status"] == "missing" and finding["id"] == ids["sg-0b7d4e1f2a3c5d6e7"]
    assert finding["spec"] == 'network/terraform.tfstate: aws_security_group.db["primary"]'
