"""Reads Setpoint's own parts: its functions, roles, spec bucket and the default event bus.

get → transform, as `collector.py`: a client per region on first use, pure `parse_*`. A
failed read raises `ReadError` (the finding is `unknown`); "not found" is None (`missing`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ReadError
from chalicelib.kinds.guard.model import BusState, FunctionState, OwnRoleState, SpecBucketState

ClientFactory = Callable[[str], Any]

READS: tuple[tuple[str, str], ...] = (
    ("GetFunctionConfiguration", "lambda:GetFunctionConfiguration"),
    ("GetFunctionConcurrency", "lambda:GetFunctionConcurrency"),
    ("ListFunctions", "lambda:ListFunctions"),
    ("GetRole", "iam:GetRole"),
    ("ListAttachedRolePolicies", "iam:ListAttachedRolePolicies"),
    ("ListRoles", "iam:ListRoles"),
    ("GetBucketPolicy", "s3:GetBucketPolicy"),
    ("GetBucketVersioning", "s3:GetBucketVersioning"),
    ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    ("DescribeEventBus", "events:DescribeEventBus"),
)
_NOT_FOUND = frozenset({"ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket"})
_NO_POLICY = frozenset({"NoSuchBucketPolicy"})
_NO_BLOCK = frozenset({"NoSuchPublicAccessBlockConfiguration"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _policy(text: object) -> Mapping[str, Any] | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"Statement": [{"Effect": "Allow", "Sid": "(unreadable policy)"}]}
    return value if isinstance(value, Mapping) else None


def parse_function(config: Mapping[str, Any], concurrency: Mapping[str, Any]) -> FunctionState:
    arn = str(config.get("FunctionArn") or "")
    reserved = concurrency.get("ReservedConcurrentExecutions")
    return FunctionState(
        arn=arn,
        name=str(config.get("FunctionName") or arn.rsplit(":", 1)[-1]),
        account=_account_of(arn),
        region=arn.split(":")[3] if arn.count(":") >= 3 else "",
        role=str(config.get("Role") or ""),
        reserved=int(reserved) if isinstance(reserved, int) else None,
    )


class OwnCollector:
    def __init__(
        self, lambdas: ClientFactory, iam: ClientFactory, s3: ClientFactory, events: ClientFactory
    ) -> None:
        self._lambda = lambdas
        self._iam = iam
        self._s3 = s3
        self._events = events

    def _fail(self, what: str, exc: Exception) -> ReadError:
        code = _code(exc) if isinstance(exc, ClientError) else str(exc)
        return ReadError(f"{what}: {code}")

    def read_function(self, region: str, name: str) -> FunctionState | None:
        client = self._lambda(region)
        try:
            config = client.get_function_configuration(FunctionName=name)
            concurrency = client.get_function_concurrency(FunctionName=name)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise self._fail(f"function {name} in {region}", exc) from exc
        except BotoCoreError as exc:
            raise self._fail(f"function {name} in {region}", exc) from exc
        return parse_function(config, concurrency)

    def list_functions(self, region: str, owns: Callable[[str], bool]) -> list[FunctionState]:
        """Setpoint's functions in `region` (`owns` tells them by name)."""
        found: list[FunctionState] = []
        try:
            for page in self._lambda(region).get_paginator("list_functions").paginate():
                for config in page.get("Functions", []):
                    name = str(config.get("FunctionName") or "")
                    if owns(name):
                        concurrency = self._lambda(region).get_function_concurrency(
                            FunctionName=name
                        )
                        found.append(parse_function(config, concurrency))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"Setpoint's functions in {region}", exc) from exc
        return found

    def read_role(self, name: str) -> OwnRoleState | None:
        client = self._iam("us-east-1")
        try:
            role = client.get_role(RoleName=name)["Role"]
            attached = client.list_attached_role_policies(RoleName=name)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise self._fail(f"role {name}", exc) from exc
        except BotoCoreError as exc:
            raise self._fail(f"role {name}", exc) from exc
        arn = str(role.get("Arn") or "")
        return OwnRoleState(
            arn=arn,
            name=name,
            account=_account_of(arn),
            attached=tuple(str(p.get("PolicyArn")) for p in attached.get("AttachedPolicies", [])),
        )

    def list_roles(self, owns: Callable[[str], bool]) -> list[OwnRoleState]:
        roles: list[OwnRoleState] = []
        try:
            for page in self._iam("us-east-1").get_paginator("list_roles").paginate():
                for role in page.get("Roles", []):
                    name = str(role.get("RoleName") or "")
                    if owns(name):
                        state = self.read_role(name)
                        if state is not None:
                            roles.append(state)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("Setpoint's roles", exc) from exc
        return roles

    def read_bucket(self, region: str, name: str, account: str | None) -> SpecBucketState | None:
        client = self._s3(region)
        policy: Mapping[str, Any] | None = None
        block: Mapping[str, bool] | None = None
        try:
            try:
                policy = _policy(client.get_bucket_policy(Bucket=name).get("Policy"))
            except ClientError as exc:
                if _code(exc) not in _NO_POLICY:
                    raise
            versioning = client.get_bucket_versioning(Bucket=name).get("Status")
            try:
                answer = client.get_public_access_block(Bucket=name)
                block = answer.get("PublicAccessBlockConfiguration")
            except ClientError as exc:
                if _code(exc) not in _NO_BLOCK:
                    raise
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise self._fail(f"spec bucket {name}", exc) from exc
        except BotoCoreError as exc:
            raise self._fail(f"spec bucket {name}", exc) from exc
        return SpecBucketState(
            name=name,
            account=account,
            region=region,
            policy=policy,
            versioning=str(versioning) if versioning else None,
            public_access_block=block,
        )

    def read_bus(self, region: str, name: str = "default") -> BusState:
        try:
            bus = self._events(region).describe_event_bus(Name=name)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"event bus {name} in {region}", exc) from exc
        arn = str(bus.get("Arn") or "")
        return BusState(
            arn=arn,
            name=str(bus.get("Name") or name),
            account=_account_of(arn),
            region=region,
            policy=_policy(bus.get("Policy")),
        )
