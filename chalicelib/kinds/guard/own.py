"""What Setpoint knows of its own parts: the names of its functions and roles, its spec
bucket, who may publish specs and who may put events on its bus. Pure, but for
`own_from_env`, which reads the environment once when the pipeline is built.

The deployed stack sets these (infra/setpoint.yaml, Globals): its functions and roles are
named `<stack>-<logical id>-<suffix>` by CloudFormation, so the stack name is their prefix;
the publisher is the stack's SpecPublisherRoleArn; the organization its OrganizationId.
Without a stack (`chalice deploy`, `setpoint check`) the defaults match the stack
`setpoint-<stage>`: every function and role whose name starts with `setpoint-`.
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from chalicelib.errors import ConfigError
from chalicelib.iac_principals import ENV_IAC_PRINCIPALS, parse_principals
from chalicelib.model import VIA_CLOUDTRAIL, Actor

ENV_OWN_FUNCTIONS = "SETPOINT_OWN_FUNCTIONS"
ENV_OWN_ROLES = "SETPOINT_OWN_ROLES"
ENV_SPEC_PUBLISHERS = "SETPOINT_SPEC_PUBLISHERS"
ENV_ORGANIZATION_ID = "SETPOINT_ORGANIZATION_ID"
ENV_SPECS = "SETPOINT_SPECS"
ENV_ACCOUNTS = "SETPOINT_ACCOUNTS"
ENV_HOME_ACCOUNT = "SETPOINT_HOME_ACCOUNT"
DEFAULT_GLOBS = ("setpoint-*",)
_NAME_GLOB_CHARS = frozenset(string.ascii_letters + string.digits + "-_.+=,@*?")


def _name_globs(value: str | None, where: str) -> tuple[str, ...]:
    globs = tuple(part.strip() for part in (value or "").split(",") if part.strip())
    for glob in globs:
        if set(glob) - _NAME_GLOB_CHARS or glob.strip("*?") == "":
            raise ConfigError(
                f"{where}: {glob!r} is not a name glob (e.g. setpoint-prod-*; "
                "a bare * would make every function or role Setpoint's own)"
            )
    return globs or DEFAULT_GLOBS


def spec_location(value: str | None) -> tuple[str, str] | None:
    """(bucket, prefix) of the first `s3://` location in SETPOINT_SPECS, if any."""
    for part in (value or "").split(","):
        part = part.strip()
        if part.startswith("s3://"):
            bucket, _, key = part.removeprefix("s3://").partition("/")
            if key.endswith(".json"):
                key = key.rpartition("/")[0]
            return bucket, key.strip("/")
    return None


@dataclass(frozen=True)
class OwnParts:
    """Setpoint's own names, as the guard compares with them."""

    functions: tuple[str, ...] = DEFAULT_GLOBS
    roles: tuple[str, ...] = DEFAULT_GLOBS
    spec_bucket: str | None = None
    spec_prefix: str = ""
    # ARN globs of who may write specs; empty: not configured, writes are not judged
    publishers: tuple[str, ...] = ()
    # ARN globs of the deployers (SETPOINT_IAC_PRINCIPALS): their changes are deploys
    deployers: tuple[str, ...] = ()
    organization_id: str | None = None
    # the member accounts allowed to put events on the bus besides the organization's
    accounts: tuple[str, ...] = ()
    # the account the spec bucket lives in (the stack's); None: every account's sweep
    # reads it (one account, or `setpoint check`)
    home_account: str | None = None

    def owns_function(self, name: str) -> bool:
        return any(fnmatchcase(name, glob) for glob in self.functions)

    def owns_role(self, name: str) -> bool:
        return any(fnmatchcase(name, glob) for glob in self.roles)

    def is_spec_bucket(self, bucket: str) -> bool:
        return self.spec_bucket is not None and bucket == self.spec_bucket

    def is_spec_key(self, key: str) -> bool:
        prefix = self.spec_prefix
        return not prefix or key == prefix or key.startswith(prefix + "/")

    def deployed(self, actor: Actor | None) -> bool:
        """A change made by the stack's own deploy: CloudFormation, as CloudTrail records it
        (`invokedBy`, never the user agent a caller chooses), or a configured deployer."""
        if actor is None:
            return False
        if actor.via == "cloudformation" and actor.via_source == VIA_CLOUDTRAIL:
            return True
        return matches_principal(actor, self.deployers)

    def publishes(self, actor: Actor) -> bool:
        return matches_principal(actor, self.publishers)


def matches_principal(actor: Actor, globs: tuple[str, ...]) -> bool:
    """The actor's ARN, or for an assumed role its role (the session issuer), matches."""
    candidates = [arn for arn in (actor.arn, actor.session_issuer) if arn]
    return any(fnmatchcase(arn, glob) for arn in candidates for glob in globs)


def publisher_accounts(globs: tuple[str, ...]) -> frozenset[str]:
    """The accounts the publisher ARNs live in (an S3 event names only the account)."""
    accounts = set()
    for glob in globs:
        parts = glob.split(":")
        if len(parts) > 4:
            accounts.add(parts[4])
    return frozenset(accounts)


def own_from_env(env: Mapping[str, str] | None = None) -> OwnParts:
    env = os.environ if env is None else env
    location = spec_location(env.get(ENV_SPECS))
    publishers = env.get(ENV_SPEC_PUBLISHERS, "").strip()
    accounts = env.get(ENV_ACCOUNTS, "")
    org = env.get(ENV_ORGANIZATION_ID, "").strip() or None
    return OwnParts(
        functions=_name_globs(env.get(ENV_OWN_FUNCTIONS), ENV_OWN_FUNCTIONS),
        roles=_name_globs(env.get(ENV_OWN_ROLES), ENV_OWN_ROLES),
        spec_bucket=location[0] if location else None,
        spec_prefix=location[1] if location else "",
        publishers=parse_principals(publishers, ENV_SPEC_PUBLISHERS) if publishers else (),
        deployers=parse_principals(env.get(ENV_IAC_PRINCIPALS, ""), ENV_IAC_PRINCIPALS),
        organization_id=org,
        accounts=tuple(a.strip() for a in accounts.split(",") if a.strip().isdigit()),
        home_account=env.get(ENV_HOME_ACCOUNT, "").strip() or None,
    )
