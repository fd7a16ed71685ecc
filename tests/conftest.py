"""Shared fixtures: moto in process, the fake chat server, the CloudTrail records in fixtures/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.chat_server import PROXY_VARIABLES, ChatServer, closed_port, running_chat

REGION = "eu-west-1"
SAMPLES = Path(__file__).resolve().parent / "fixtures" / "cloudtrail"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in process, with credentials that cannot reach a real account."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SETPOINT_CHAT_URL", "SETPOINT_REGIONS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables; a proxy must not swallow calls to 127.0.0.1."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def chat_server(no_proxies: None) -> Iterator[ChatServer]:
    """The fake chat (tests/chat_server.py): scripted answers, every request recorded."""
    with running_chat() as server:
        yield server


@pytest.fixture
def webhook(chat_server: ChatServer) -> tuple[str, list[Any]]:
    """A Slack incoming webhook stand-in: its URL, and the bodies it accepted."""
    return chat_server.base + "/services/T000/B000/hook", chat_server.received


@pytest.fixture
def down_url(no_proxies: None) -> Iterator[str]:
    """A chat URL whose port refuses connections (bound by us, never listened on)."""
    with closed_port() as port:
        yield f"http://127.0.0.1:{port}/services/dead"


def sample(name: str) -> dict[str, Any]:
    service = name.split("/")[0]
    data: dict[str, Any] = json.loads(
        (SAMPLES / service / f"{name.split('/')[1]}.json").read_text()
    )
    return data


def make_vpc_with_web(ec2: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    web = ec2.create_security_group(GroupName="web", Description="Public web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    return {"vpc": vpc, "web": web}


def authorize_record(group_id: str, cidr: str = "0.0.0.0/0", port: int = 22) -> dict[str, Any]:
    """An AuthorizeSecurityGroupIngress record in the shape of the sample records."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::123456789012:user/alice",
            "accountId": "123456789012",
            "userName": "alice",
        },
        "eventTime": "2026-11-26T02:13:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "console.ec2.amazonaws.com",
        "requestParameters": {
            "groupId": group_id,
            "ipPermissions": {
                "items": [
                    {
                        "ipProtocol": "tcp",
                        "fromPort": port,
                        "toPort": port,
                        "ipRanges": {"items": [{"cidrIp": cidr}]},
                        "groups": {},
                        "ipv6Ranges": {},
                        "prefixListIds": {},
                    }
                ]
            },
        },
        "responseElements": {"_return": True},
        "eventID": "0b2f6a0c-7c1e-4e0e-9f0a-000000000001",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    }
