"""`setpoint import` then `setpoint check`: the round trip a new user does first."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION


def build_account(ec2: Any) -> dict[str, str]:
    """Every rule shape: IPv4, IPv6, group refs, prefix lists, ranges, icmp, all traffic."""
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    pl = ec2.create_managed_prefix_list(
        PrefixListName="office",
        MaxEntries=5,
        AddressFamily="IPv4",
        Entries=[{"Cidr": "203.0.113.0/24"}],
    )["PrefixList"]["PrefixListId"]
    ids = {"vpc": vpc, "pl": pl}
    for name in ("app", "lb", "db"):
        ids[name] = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)[
            "GroupId"
        ]
    ec2.authorize_security_group_ingress(
        GroupId=ids["app"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8000,
                "ToPort": 8100,
                "UserIdGroupPairs": [{"GroupId": ids["lb"], "Description": "from the LB"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "PrefixListIds": [{"PrefixListId": pl}],
            },
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "172.16.0.0/12"}],
            },
            {
                "IpProtocol": "icmp",
                "FromPort": 8,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": ids["app"]}]},
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=ids["lb"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
        ],
    )
    ec2.revoke_security_group_egress(
        GroupId=ids["db"],
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.authorize_security_group_ingress(
        GroupId=ids["db"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": ids["app"]}],
            }
        ],
    )
    return ids


@pytest.fixture
def imported(ec2: Any, tmp_path: Path) -> tuple[Any, dict[str, str], Path]:
    ids = build_account(ec2)
    # the account's trail: without one the guard reports that no change would be heard
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="trail-logs", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    cloudtrail.create_trail(
        Name="account-trail", S3BucketName="trail-logs", IsMultiRegionTrail=True
    )
    cloudtrail.start_logging(Name="account-trail")
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--region", REGION]) == 0
    return ec2, ids, specs


def test_import_then_check_reports_nothing(
    imported: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, specs = imported
    capsys.readouterr()
    assert main(["check", "--specs", str(specs), "--region", REGION]) == 0
    out = capsys.readouterr().out
    assert "0 drifted" in out and "0 unmanaged" in out and "0 missing" in out


def test_imported_specs_are_readable_and_name_groups(imported: Any) -> None:
    _, _, specs = imported
    app = (specs / "security_groups" / REGION / "app.yaml").read_text()
    assert "group: lb" in app
    assert "ports: 8000-8100" in app
    assert "description: from the LB" in app
    assert main(["validate", "--specs", str(specs)]) == 0
    modeline = next(line for line in app.splitlines() if "$schema=" in line)
    schema = (specs / "security_groups" / REGION / modeline.split("$schema=")[1]).resolve()
    assert schema.is_file()  # editors find the schema copied beside the specs


def test_check_finds_a_hand_made_change_and_exits_1(
    imported: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = imported
    ec2.authorize_security_group_ingress(
        GroupId=ids["db"], IpProtocol="tcp", FromPort=5432, ToPort=5432, CidrIp="0.0.0.0/0"
    )
    capsys.readouterr()
    assert main(["check", "--specs", str(specs), "--region", REGION, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["format_version"] == "1"
    assert report["summary"]["drifted"] == 1
    assert report["summary"]["in_sync"] == report["summary"]["checked"] - 1
    (finding,) = report["findings"]
    assert finding["id"] == ids["db"] and finding["name"] == "db"
    assert finding["status"] == "drifted"
    assert finding["spec"].endswith("security_groups/eu-west-1/db.yaml")
    assert finding["spec_line"] == 5
    (change,) = finding["changes"]
    assert change["op"] == "add" and change["path"] == "ingress"
    assert change["actual"] == {"proto": "tcp", "ports": "5432", "cidr": "0.0.0.0/0"}
    assert change["summary"] == "ingress tcp/5432 from 0.0.0.0/0 — not in spec"


def test_a_deleted_group_is_missing_and_a_new_one_unmanaged(
    imported: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = imported
    ec2.revoke_security_group_ingress(
        GroupId=ids["app"],
        IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": ids["app"]}]}],
    )
    ec2.revoke_security_group_ingress(
        GroupId=ids["db"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": ids["app"]}],
            }
        ],
    )
    ec2.delete_security_group(GroupId=ids["app"])
    ec2.create_security_group(GroupName="hand-made", Description="x", VpcId=ids["vpc"])
    report_file = tmp_path / "report.xml"
    code = main(
        [
            "check",
            "--specs",
            str(specs),
            "--region",
            REGION,
            "--format",
            "junit",
            "--output",
            str(report_file),
        ]
    )
    assert code == 1
    root = ET.parse(report_file).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    failures = {
        case.get("name", ""): case
        for case in suite.iter("testcase")
        if case.find("failure") is not None
    }
    assert any("app" in name for name in failures)  # missing
    assert any("hand-made" in name for name in failures)  # unmanaged
    assert any("db" in name for name in failures)  # drifted: its rule from app is gone


def test_bad_specs_exit_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "specs"
    bad.mkdir()
    (bad / "web.yaml").write_text(
        "kind: security_group\nname: web\ningress:\n"
        "  - proto: tcp\n    ports: 70000\n    cidr: 0.0.0.0/0\n"
    )
    assert main(["validate", "--specs", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "web.yaml:5" in err and "ingress[0].ports" in err


def test_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--kinds", "security_groups"])
    assert exit_.value.code == 2
    assert "unknown kind 'security_groups'" in capsys.readouterr().err
