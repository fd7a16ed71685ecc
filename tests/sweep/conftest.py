"""An AWS Organization on moto: the management account and three members, one suspended,
one whose read-only role refuses us."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.aws import ClientCache, RoleSessions
from chalicelib.notify.delivery import notifier_for
from chalicelib.runtime import Runtime, spec_provider
from chalicelib.state import ATTRIBUTE_DEFINITIONS, KEY_SCHEMA, DynamoStateStore
from tests.runtime_builder import build_runtime

MANAGEMENT = "123456789012"
TABLE = "setpoint-state-test"


@dataclass
class Org:
    allowed: str  # member whose role we may assume
    denied: str  # member whose role refuses AssumeRole
    suspended: str


def deny_assume_role(sts: Any, account: str) -> None:
    """moto grants AssumeRole for any role, existing or not; AWS refuses a missing role or
    one whose trust policy does not name us. This makes moto refuse for one account."""

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if f"::{account}:role/" not in str(params.get("body", "")):
            return None
        body = {
            "Error": {"Code": "AccessDenied", "Message": "not authorized to perform AssumeRole"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        return AWSResponse("https://sts.amazonaws.com/", 403, {}, None), body

    sts.meta.events.register("before-call.sts.AssumeRole", refuse)


@pytest.fixture
def org(aws: None) -> Org:
    return make_org()


def make_org() -> Org:
    """Create the organization in the running moto (needs the `aws` fixture)."""
    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")

    def member(name: str) -> str:
        made = client.create_account(AccountName=name, Email=f"{name}@example.com")
        return str(made["CreateAccountStatus"]["AccountId"])

    allowed, denied, suspended = member("allowed"), member("denied"), member("suspended")
    client.close_account(AccountId=suspended)  # moto marks it SUSPENDED
    return Org(allowed, denied, suspended)


@pytest.fixture
def base_clients(org: Org) -> ClientCache:
    clients = ClientCache()
    deny_assume_role(clients.client("sts"), org.denied)
    return clients


@pytest.fixture
def member_clients(base_clients: ClientCache, org: Org) -> ClientCache:
    """Clients in the allowed member account, through the assumed role (to seed it)."""
    return RoleSessions(base_clients, own_account=MANAGEMENT).clients_for(org.allowed)


@pytest.fixture
def state_table(aws: None) -> DynamoStateStore:
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        BillingMode="PAY_PER_REQUEST",
    )
    return DynamoStateStore(TABLE, dynamodb)


@pytest.fixture
def chat(webhook: tuple[str, list[dict[str, Any]]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    yield webhook


def make_runtime(
    clients: ClientCache, specs: Path, chat_url: str, state: Any, regions: list[str]
) -> Runtime:
    return build_runtime(
        clients=clients,
        specs=spec_provider(str(specs), clients),
        notifiers=[notifier_for(chat_url, "json", sleep=lambda _: None)],
        regions=regions,
        state=state,
    )
