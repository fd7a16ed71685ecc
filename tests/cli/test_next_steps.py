"""The next step a finding prints is a command that really reverts the drift (moto)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION


def _option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def test_port_22_opened_by_hand_is_reverted_by_the_command_check_prints(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web = ec2.create_security_group(GroupName="web", Description="web tier")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
        ],
    )
    specs = tmp_path / "specs"
    argv = ["--region", REGION, "--kinds", "security_group"]
    assert main(["import", "--out", str(specs), *argv]) == 0
    check = ["check", "--specs", str(specs), *argv]
    assert main(check) == 0
    capsys.readouterr()

    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    assert main([*check, "--format", "json"]) == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    (change,) = finding["changes"]
    assert change["accept"] == "add to ingress: {proto: tcp, ports: '22', cidr: 0.0.0.0/0}"
    words = shlex.split(change["revert"])
    assert words[:3] == ["aws", "ec2", "revoke-security-group-ingress"]

    # what a person pasting the command would do, through boto3 instead of the AWS CLI
    client = boto3.client("ec2", region_name=_option(words, "--region"))
    client.revoke_security_group_ingress(
        GroupId=_option(words, "--group-id"),
        IpPermissions=json.loads(_option(words, "--ip-permissions")),
    )
    assert main(check) == 0
    assert "No drift" in capsys.readouterr().out


def test_the_text_report_shows_revert_and_accept_under_the_change(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web = ec2.create_security_group(GroupName="web", Description="web tier")["GroupId"]
    specs = tmp_path / "specs"
    argv = ["--region", REGION, "--kinds", "security_group"]
    assert main(["import", "--out", str(specs), *argv]) == 0
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 3389,
                "ToPort": 3389,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    capsys.readouterr()
    assert main(["check", "--specs", str(specs), *argv]) == 1
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if "tcp/3389 from 0.0.0.0/0" in line)
    assert lines[at + 1].startswith(
        f"      ↳ revert: aws ec2 revoke-security-group-ingress --region {REGION} --group-id {web}"
    )
    assert lines[at + 2] == (
        "      ↳ accept: add to ingress: {proto: tcp, ports: '3389', cidr: 0.0.0.0/0}"
    )
