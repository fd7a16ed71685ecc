"""A finding points at the spec field that differs, not at the document's `kind:` line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION

SPEC = """\
# web tier
kind: security_group
name: web
region: eu-west-1
description: web
tags:
  team: web
ingress:
  - proto: tcp
    ports: 443
    cidr: 10.0.0.0/8
"""


def test_the_spec_line_is_the_field_that_differs(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    ec2.create_tags(Resources=[web], Tags=[{"Key": "team", "Value": "web"}])
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
        ],
    )
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "web.yaml").write_text(SPEC)
    argv = ["check", "--specs", str(specs), "--region", REGION, "--kinds", "security_group"]
    assert main([*argv, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (finding,) = [f for f in report["findings"] if f["id"] == web]
    assert finding["spec_line"] == 2  # the document (kept for tools that key on it)
    (change,) = finding["changes"]
    assert change["spec_line"] == 8  # `ingress:`
    assert main(argv) == 1
    assert f"spec: {specs}/web.yaml:8" in capsys.readouterr().out
