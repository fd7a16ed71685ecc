"""boto3 sessions and clients, made lazily and configured once.

boto3 costs ~350 ms to import and each client ~230 ms to build, so nothing here runs
at import time. Every client honours `AWS_ENDPOINT_URL` (botocore reads it), uses
adaptive retries for throttling, and carries a Setpoint user agent so CloudTrail shows
our own reads for what they are.

Other accounts are read through an assumed role (`RoleSessions`): one session per
account, whose credentials botocore refreshes on its own shortly before they expire, so
a long sweep never reads with expired credentials and a warm Lambda does not call
AssumeRole for every shard. An event names its own account (`recipientAccountId`), so
`RoleSessions` assumes a role only in a well-formed account id and, when accounts are
configured (`SETPOINT_ACCOUNTS`), only in one of them: a forged or stray record cannot
send Setpoint's credentials to an account nobody chose.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.env_numbers import whole_number
from chalicelib.errors import ReadError, SetpointError

logger = logging.getLogger("setpoint")

DEFAULT_REGION = "us-east-1"
USER_AGENT = "setpoint/0.1"
DEFAULT_ROLE_NAME = "setpoint-readonly"
SESSION_NAME = "setpoint-sweep"
ROLE_DURATION_SECONDS = 3600
# A denied AssumeRole is remembered this long, so one sweep does not ask once per shard.
FAILURE_MEMORY_SECONDS = 300.0
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
# ReadError codes of an account refused before any AssumeRole
NOT_AN_ACCOUNT = "NotAnAccountId"
NOT_CONFIGURED = "AccountNotConfigured"


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


# Seconds a response may take before botocore retries the call. 20 s covers AWS; an
# emulator answering one 5,000-group DescribeSecurityGroups page on a loaded machine, or a
# slow network path, may need more (SETPOINT_READ_TIMEOUT).
DEFAULT_READ_TIMEOUT = 20
MAX_READ_TIMEOUT = 900


def read_timeout() -> int:
    return whole_number(
        "SETPOINT_READ_TIMEOUT",
        os.environ.get("SETPOINT_READ_TIMEOUT"),
        DEFAULT_READ_TIMEOUT,
        1,
        MAX_READ_TIMEOUT,
        why=f"a read timeout is 1..{MAX_READ_TIMEOUT} seconds (a Lambda runs 900 s at most)",
    )


def client_config() -> Any:
    from botocore.config import Config

    return Config(
        retries={"mode": "adaptive", "max_attempts": 8},
        connect_timeout=5,
        read_timeout=read_timeout(),
        user_agent_extra=USER_AGENT,
        # the S3 pool reads with several threads through one client per region
        max_pool_connections=16,
    )


def make_session(profile: str | None = None) -> Any:
    import boto3

    return boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()


SessionFactory = Callable[[], Any]


class ClientCache:
    """One client per (service, region) for the life of the process (warm Lambdas reuse it).

    Safe to share between threads: boto3 sessions are not thread-safe, so clients are
    made under a lock; the clients themselves are. `session_factory` makes the session on
    first use (an assumed role); a `ReadError` it raises reaches the collector asking for
    a client, which reports its resources `unknown` with that reason.
    """

    def __init__(
        self, session: Any | None = None, *, session_factory: SessionFactory | None = None
    ) -> None:
        self._session = session
        self._session_factory = session_factory or make_session
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()
        self._identity: CallerIdentity | None = None

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = self._session_factory()
            return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or default_region())
        found = self._clients.get(key)
        if found is not None:
            return found
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.session.client(
                    service, region_name=key[1], config=client_config()
                )
            return self._clients[key]

    def factory(self, service: str) -> Callable[[str], Any]:
        return lambda region: self.client(service, region)

    def account_id(self) -> str:
        return self.identity().account

    def identity(self) -> CallerIdentity:
        """Who these clients act as (one GetCallerIdentity per cache, kept)."""
        if self._identity is None:
            answer = self.client("sts").get_caller_identity()
            self._identity = CallerIdentity(
                str(answer["Account"]), partition_of_arn(str(answer.get("Arn", "")))
            )
        return self._identity


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    partition: str  # aws, aws-cn, aws-us-gov: role ARNs in other accounts use the same


def partition_of_arn(arn: str) -> str:
    """`arn:aws-cn:...` -> `aws-cn`; the commercial partition when it cannot be told."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


def role_arn(account: str, role_name: str, partition: str = "aws") -> str:
    name = role_name.strip("/")
    return f"arn:{partition}:iam::{account}:role/{name}"


def assumed_role_session(
    sts: Any,
    arn: str,
    *,
    external_id: str | None = None,
    session_name: str = SESSION_NAME,
    duration_seconds: int = ROLE_DURATION_SECONDS,
    region: str | None = None,
    loader: Any | None = None,
) -> Any:
    """A boto3 session acting as `arn`, with credentials refreshed before they expire.

    The first AssumeRole happens here, so a denied role fails now (as a ReadError naming
    the role and the error code), not at the first read of some unrelated resource.
    """
    import boto3
    import botocore.session
    from botocore.credentials import RefreshableCredentials
    from botocore.exceptions import BotoCoreError, ClientError

    def fetch() -> dict[str, str]:
        kwargs: dict[str, Any] = {
            "RoleArn": arn,
            "RoleSessionName": session_name,
            "DurationSeconds": duration_seconds,
        }
        if external_id:
            kwargs["ExternalId"] = external_id
        creds = sts.assume_role(**kwargs)["Credentials"]
        expiry = creds["Expiration"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat() if isinstance(expiry, datetime) else str(expiry),
        }

    try:
        metadata = fetch()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        raise ReadError(f"cannot assume role {arn}: {code}", code=code) from exc
    except BotoCoreError as exc:
        raise ReadError(f"cannot assume role {arn}: {exc}", code="ClientError") from exc
    credentials = RefreshableCredentials.create_from_metadata(
        metadata=metadata, refresh_using=fetch, method="sts-assume-role"
    )
    core = botocore.session.get_session()
    if loader is not None:  # parsed service models are shared, not loaded again per account
        core.register_component("data_loader", loader)
    # botocore has no public setter for refreshable credentials on a session.
    core._credentials = credentials
    return boto3.session.Session(botocore_session=core, region_name=region or default_region())


class AllowedAccounts:
    """The configured accounts, resolved on first use (an organization's list is a call).

    An account not in the list asks again once the list is `FAILURE_MEMORY_SECONDS` old
    (a new member of the organization); a resolution that fails refuses every account
    until it is retried that long after, never allows them.
    """

    def __init__(
        self,
        resolve: Callable[[], Iterable[str]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolve = resolve
        self._clock = clock
        self._known: frozenset[str] = frozenset()
        self._at: float | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    def refusal(self, account: str) -> str | None:
        """Why `account` is refused, or None when it is configured."""
        with self._lock:
            stale = self._at is None or self._clock() - self._at >= FAILURE_MEMORY_SECONDS
            if stale and (self._error is not None or account not in self._known):
                self._at = self._clock()
                try:
                    self._known, self._error = frozenset(self._resolve()), None
                except SetpointError as exc:
                    self._error = str(exc)
            if self._error is not None:
                return f"the configured accounts could not be read ({self._error})"
            if account not in self._known:
                return "it is not one of the configured accounts (SETPOINT_ACCOUNTS)"
            return None


def _refused(error: ReadError) -> Callable[[], Any]:
    def session() -> Any:
        raise error

    return session


class RoleSessions:
    """Clients per account: the own account with the caller's credentials, any other
    through `role_name` (and `external_id`) assumed as "setpoint-sweep".

    `clients_for(account)` returns at once; the role is assumed on the first client asked
    for, so a denied role surfaces where the read is, as `unknown` for what it covers.
    Sessions (and denials, for a few minutes) are cached per account. An account that is
    not a 12-digit id, or (with `allowed`) not a configured one, is refused without any
    AssumeRole: its reads fail with a ReadError saying why, and the refusal is logged.
    """

    def __init__(
        self,
        base: ClientCache,
        *,
        own_account: str | None,
        role_name: str = DEFAULT_ROLE_NAME,
        external_id: str | None = None,
        partition: str = "aws",
        clock: Callable[[], float] = time.monotonic,
        allowed: AllowedAccounts | None = None,
    ) -> None:
        self.base = base
        self.allowed = allowed
        self.own_account = own_account
        self.role_name = role_name
        self.external_id = external_id
        self.partition = partition
        self._clock = clock
        self._clients: dict[str, ClientCache] = {}
        self._failures: dict[str, tuple[float, ReadError]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_caller(
        cls,
        base: ClientCache,
        *,
        role_name: str = DEFAULT_ROLE_NAME,
        external_id: str | None = None,
        own_account: str | None = None,
        allowed: AllowedAccounts | None = None,
    ) -> RoleSessions:
        """Sessions from the account (and partition) `base` acts as: the one STS lookup
        the runtime and the sweep share (cached on `base`). `own_account` overrides the
        account read there (a runtime configured with its account); `allowed` refuses
        accounts outside the configured ones."""
        identity = base.identity()
        return cls(
            base,
            own_account=own_account or identity.account,
            role_name=role_name,
            external_id=external_id,
            partition=identity.partition,
            allowed=allowed,
        )

    def clients_for(self, account: str) -> ClientCache:
        if account == self.own_account or not account:
            return self.base
        refusal = self._refusal(account)
        if refusal is not None:
            logger.warning("account_refused", extra={"account": account, "reason": refusal})
            code = NOT_CONFIGURED if ACCOUNT_ID.match(account) else NOT_AN_ACCOUNT
            error = ReadError(f"account {account!r} refused, no role assumed: {refusal}", code)
            return ClientCache(session_factory=_refused(error))
        with self._lock:
            if account not in self._clients:
                self._clients[account] = ClientCache(session_factory=lambda: self._assume(account))
            return self._clients[account]

    def _refusal(self, account: str) -> str | None:
        if not ACCOUNT_ID.match(account):
            return "it is not a 12-digit account id"
        return self.allowed.refusal(account) if self.allowed is not None else None

    def _assume(self, account: str) -> Any:
        failed = self._failures.get(account)
        if failed is not None and self._clock() - failed[0] < FAILURE_MEMORY_SECONDS:
            raise failed[1]
        arn = role_arn(account, self.role_name, self.partition)
        try:
            return assumed_role_session(
                self.base.client("sts"),
                arn,
                external_id=self.external_id,
                loader=self._loader(),
            )
        except ReadError as exc:
            self._failures[account] = (self._clock(), exc)
            raise

    def _loader(self) -> Any | None:
        core = getattr(self.base.session, "_session", None)  # boto3's botocore session
        return core.get_component("data_loader") if core is not None else None
