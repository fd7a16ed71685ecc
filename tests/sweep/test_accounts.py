"""Accounts from settings or Organizations; enabled regions from EC2."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.errors import ConfigError, ReadError
from chalicelib.sweep.accounts import (
    enabled_regions,
    organization_accounts,
    parse_accounts,
    parse_regions,
    resolve_accounts,
)
from tests.sweep.conftest import MANAGEMENT, Org


def test_account_settings() -> None:
    assert parse_accounts(None) is None
    assert parse_accounts(" ") is None
    assert parse_accounts("Organization") == "organization"
    assert parse_accounts("111111111111, 222222222222,111111111111") == [
        "111111111111",
        "222222222222",
    ]
    with pytest.raises(ConfigError, match="'prod' is not a 12-digit account id"):
        parse_accounts("111111111111,prod")


def test_region_settings() -> None:
    assert parse_regions(None, ["eu-west-1"]) == ["eu-west-1"]
    assert parse_regions("us-east-1, eu-west-1", []) == ["us-east-1", "eu-west-1"]
    assert parse_regions("enabled", ["eu-west-1"]) is None


def test_the_organization_means_its_active_accounts(org: Org) -> None:
    found = organization_accounts(boto3.client("organizations", region_name="us-east-1"))
    assert sorted(found) == sorted([MANAGEMENT, org.allowed, org.denied])
    assert org.suspended not in found


def test_unset_means_the_own_account_only() -> None:
    def no_org() -> Any:
        raise AssertionError("Organizations must not be asked")

    assert resolve_accounts(None, lambda: MANAGEMENT, no_org) == [MANAGEMENT]
    assert resolve_accounts(["111111111111"], lambda: MANAGEMENT, no_org) == ["111111111111"]


def _stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    return client, Stubber(client)


def account(number: str, state: str, field: str = "State") -> dict[str, Any]:
    return {"Id": number, field: state, "Name": number, "Email": f"{number}@example.com"}


def test_accounts_are_read_page_by_page_and_state_wins_over_status() -> None:
    """moto returns one page; AWS pages ListAccounts (20 a page): Stubber checks we follow."""
    client, stub = _stubbed("organizations")
    stub.add_response(
        "list_accounts",
        {
            "Accounts": [
                account("111111111111", "ACTIVE"),
                account("222222222222", "SUSPENDED", "Status"),
            ],
            "NextToken": "t1",
        },
        {},
    )
    stub.add_response(
        "list_accounts",
        {
            "Accounts": [
                account("333333333333", "ACTIVE", "Status"),
                {**account("444444444444", "PENDING_CLOSURE"), "Status": "ACTIVE"},
            ]
        },
        {"NextToken": "t1"},
    )
    with stub:
        assert organization_accounts(client) == ["111111111111", "333333333333"]
    stub.assert_no_pending_responses()


def test_an_account_that_may_not_list_the_organization_says_what_to_do() -> None:
    client, stub = _stubbed("organizations")
    stub.add_client_error("list_accounts", "AccessDeniedException")
    with stub, pytest.raises(ConfigError, match="management account or a delegated"):
        organization_accounts(client)


def test_enabled_regions_leave_out_regions_not_opted_in(aws: None) -> None:
    regions = enabled_regions(boto3.client("ec2", region_name="eu-west-1"))
    assert "eu-west-1" in regions and "us-east-1" in regions
    assert "ap-east-1" not in regions  # opt-in region, not opted in (moto's default too)


def test_enabled_regions_denied_is_a_read_error() -> None:
    client, stub = _stubbed("ec2")
    stub.add_client_error("describe_regions", "UnauthorizedOperation")
    with stub, pytest.raises(ReadError, match="UnauthorizedOperation"):
        enabled_regions(client)
