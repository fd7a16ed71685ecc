"""Spelling next steps: shell-safe commands and pasteable YAML, whatever the cloud holds."""

from __future__ import annotations

import json
import shlex

import yaml

from chalicelib.model import Change, with_next_steps
from chalicelib.next_steps import aws_command, yaml_flow


def test_a_command_quotes_every_value_for_a_posix_shell():
    command = aws_command(
        "ec2",
        "create-tags",
        ("resources", ["sg-1", "sg-2"]),
        ("tags", [{"Key": "owner", "Value": "bob's $(rm -rf ~)"}]),
        region="eu-west-1",
    )
    words = shlex.split(command)
    assert words[:7] == [
        "aws",
        "ec2",
        "create-tags",
        "--region",
        "eu-west-1",
        "--resources",
        "sg-1",
    ]
    assert words[7:9] == ["sg-2", "--tags"]
    assert json.loads(words[9]) == [{"Key": "owner", "Value": "bob's $(rm -rf ~)"}]


def test_a_global_service_has_no_region_and_a_flag_no_value():
    command = aws_command("iam", "create-policy-version", ("set-as-default", []), region=None)
    assert command == "aws iam create-policy-version --set-as-default"


def test_yaml_to_paste_reads_back_as_the_value():
    for value in (
        {"proto": "tcp", "ports": "22", "cidr": "0.0.0.0/0"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        False,
        {"deletion_protection.enabled": True},
    ):
        text = yaml_flow(value)
        assert "\n" not in text
        assert yaml.safe_load(text) == value


def test_next_steps_are_advice_not_identity():
    change = Change("add", "ingress", None, {"proto": "tcp"}, "tcp/22")
    (advised,) = with_next_steps([change], lambda c: ("aws ec2 revoke", "add to ingress"))
    assert (advised.revert, advised.accept) == ("aws ec2 revoke", "add to ingress")
    assert advised == change
    (quiet,) = with_next_steps([change], lambda c: (None, None))
    assert quiet is change
