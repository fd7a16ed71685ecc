"""boto3 sessions and clients, made lazily and configured once.

boto3 costs ~350 ms to import and each client ~230 ms to build, so nothing here runs
at import time. Every client honours `AWS_ENDPOINT_URL` (botocore reads it), uses
adaptive retries for throttling, and carries a Setpoint user agent so CloudTrail shows
our own reads for what they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

DEFAULT_REGION = "us-east-1"
USER_AGENT = "setpoint/0.1"


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def client_config() -> Any:
    from botocore.config import Config

    return Config(
        retries={"mode": "adaptive", "max_attempts": 8},
        connect_timeout=5,
        read_timeout=20,
        user_agent_extra=USER_AGENT,
    )


def make_session(profile: str | None = None) -> Any:
    import boto3

    return boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()


class ClientCache:
    """One client per (service, region) for the life of the process (warm Lambdas reuse it)."""

    def __init__(self, session: Any | None = None) -> None:
        self._session = session
        self._clients: dict[tuple[str, str], Any] = {}

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = make_session()
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or default_region())
        if key not in self._clients:
            self._clients[key] = self.session.client(
                service, region_name=key[1], config=client_config()
            )
        return self._clients[key]

    def factory(self, service: str) -> Callable[[str], Any]:
        return lambda region: self.client(service, region)

    def account_id(self) -> str:
        identity = self.client("sts").get_caller_identity()
        return str(identity["Account"])
