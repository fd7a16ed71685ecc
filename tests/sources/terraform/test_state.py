"""Reading state format 4 (shapes from Terraform's own state files, written by us)."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.errors import SpecError
from chalicelib.sources.terraform.state import parse_state

AWS = 'provider["registry.terraform.io/hashicorp/aws"]'


def _state(*resources: dict[str, object]) -> str:
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.9.8",
            "serial": 3,
            "lineage": "x",
            "outputs": {},
            "resources": list(resources),
        }
    )


def test_addresses_are_the_ones_terraform_prints() -> None:
    text = _state(
        {
            "module": "module.app",
            "mode": "managed",
            "type": "aws_security_group",
            "name": "this",
            "provider": AWS,
            "instances": [
                {"index_key": "web", "attributes": {"id": "sg-1"}},
                {"index_key": "db", "attributes": {"id": "sg-2"}},
            ],
        },
        {
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "logs",
            "provider": AWS + ".west",
            "instances": [{"index_key": 0, "attributes": {"id": "logs-0"}}],
        },
        {
            "mode": "managed",
            "type": "aws_iam_role",
            "name": "ci",
            "provider": AWS,
            "instances": [{"attributes": {"name": "ci"}}],
        },
    )
    found = parse_state("network/terraform.tfstate", text)
    assert [i.label for i in found] == [
        'network/terraform.tfstate: module.app.aws_security_group.this["web"]',
        'network/terraform.tfstate: module.app.aws_security_group.this["db"]',
        "network/terraform.tfstate: aws_s3_bucket.logs[0]",
        "network/terraform.tfstate: aws_iam_role.ci",
    ]


def test_data_sources_other_providers_and_deposed_objects_are_not_desired_state() -> None:
    text = _state(
        {
            "mode": "data",
            "type": "aws_security_group",
            "name": "peer",
            "provider": AWS,
            "instances": [{"attributes": {"id": "sg-9"}}],
        },
        {
            "mode": "managed",
            "type": "google_storage_bucket",
            "name": "b",
            "provider": 'provider["registry.terraform.io/hashicorp/google"]',
            "instances": [{"attributes": {"name": "b"}}],
        },
        {
            "mode": "managed",
            "type": "aws_security_group",
            "name": "web",
            "provider": AWS,
            "instances": [
                {"attributes": {"id": "sg-old"}, "deposed": "00a1b2c3"},
                {"attributes": {"id": "sg-new"}},
            ],
        },
    )
    (only,) = parse_state("s.tfstate", text)
    assert only.attributes["id"] == "sg-new"


def test_sensitive_paths_travel_with_the_instance() -> None:
    text = _state(
        {
            "mode": "managed",
            "type": "aws_iam_user",
            "name": "u",
            "provider": AWS,
            "instances": [
                {
                    "attributes": {"name": "u"},
                    "sensitive_attributes": [
                        [
                            {"type": "get_attr", "value": "tags"},
                            {"type": "index", "value": {"value": "token", "type": "string"}},
                        ]
                    ],
                }
            ],
        },
    )
    (user,) = parse_state("s.tfstate", text)
    assert user.sensitive == frozenset({("tags", "token")})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not a Terraform state (JSON"),
        (json.dumps({"version": 3, "modules": []}), "format 3 is not supported"),
        (json.dumps({"version": 4, "resources": [{"mode": "managed"}]}), "without 'type'"),
    ],
)
def test_a_state_that_cannot_be_read_names_its_file(text: str, says: str) -> None:
    with pytest.raises(SpecError, match=re.escape(says)) as raised:
        parse_state("prod/app.tfstate", text)
    assert raised.value.file == "prod/app.tfstate"
