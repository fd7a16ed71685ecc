"""Who applies infrastructure code: calls by these principals wait for their state write.

Terraform makes its API calls first and writes the new state afterwards, so each call of
an apply reaches Setpoint while the state still describes the cloud as it was: compared
at once, every apply would alert on itself. A principal configured as the IaC deployer
(`SETPOINT_IAC_PRINCIPALS`, comma-separated ARN globs such as
`arn:aws:iam::*:role/terraform-*`) has its calls held in a settle window until the state
write re-reads what the apply changed, or until `SETPOINT_IAC_SETTLE_SECONDS` have passed;
then what is still off is posted like any drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from chalicelib.env_numbers import whole_number
from chalicelib.errors import ConfigError
from chalicelib.model import Actor

ENV_IAC_PRINCIPALS = "SETPOINT_IAC_PRINCIPALS"
ENV_IAC_SETTLE_SECONDS = "SETPOINT_IAC_SETTLE_SECONDS"
# the longest an SQS message can be delayed: the re-check that ends the window
MAX_SETTLE_SECONDS = 900
DEFAULT_SETTLE_SECONDS = 900
_ARN_PREFIX = "arn:"


@dataclass(frozen=True)
class IacPrincipals:
    """ARN globs of the deployers and how long their calls may wait for a state write."""

    globs: tuple[str, ...]
    settle_seconds: int = DEFAULT_SETTLE_SECONDS

    def deployed_by(self, actor: Actor | None) -> bool:
        """Whether `actor` is a deployer: its ARN, or for an assumed role the role's own
        ARN (the session issuer), matches a glob. A session name never does on its own:
        anyone who may assume the role could pick it."""
        if actor is None:
            return False
        candidates = [arn for arn in (actor.arn, actor.session_issuer) if arn]
        return any(fnmatchcase(arn, glob) for arn in candidates for glob in self.globs)

    def deployed_by_arn(self, arn: str) -> bool:
        """Whether an ARN the alert state remembers (it keeps ARNs, not whole actors) is a
        deployer's: the ARN itself, or for an assumed-role session the role it is a session
        of. The state does not keep the role's path, so a glob that names one matches
        only the event's own actor (`deployed_by`), not a remembered session."""
        candidates = [arn, *([role] if (role := session_role(arn)) else [])]
        return any(fnmatchcase(one, glob) for one in candidates for glob in self.globs)


def session_role(arn: str) -> str | None:
    """`arn:P:iam::ACCOUNT:role/NAME` for `arn:P:sts::ACCOUNT:assumed-role/NAME/SESSION`."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "sts" or not parts[5].startswith("assumed-role/"):
        return None
    name = parts[5].split("/")[1:2]
    if not name or not name[0]:
        return None
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{name[0]}"


def parse_principals(value: str, where: str = ENV_IAC_PRINCIPALS) -> tuple[str, ...]:
    """The globs of a comma-separated list; each must be an ARN pattern (`arn:...`), so a
    bare `*` or a role name cannot silently hold everybody's calls or nobody's."""
    globs = tuple(part.strip() for part in value.split(",") if part.strip())
    for glob in globs:
        if not glob.startswith(_ARN_PREFIX) or glob.count(":") < 5:
            raise ConfigError(
                f"{where}: {glob!r} is not an ARN pattern "
                "(e.g. arn:aws:iam::123456789012:role/terraform-*)"
            )
    return globs


def settle_seconds_from(value: str | None) -> int:
    return whole_number(
        ENV_IAC_SETTLE_SECONDS,
        value,
        DEFAULT_SETTLE_SECONDS,
        1,
        MAX_SETTLE_SECONDS,
        why=f"the window ends with an SQS re-check, which can wait 1..{MAX_SETTLE_SECONDS} seconds",
    )


def iac_from_env(env: Mapping[str, str]) -> IacPrincipals | None:
    """The deployers from the environment; None when none is configured."""
    globs = parse_principals(env.get(ENV_IAC_PRINCIPALS) or "")
    if not globs:
        return None
    return IacPrincipals(globs, settle_seconds_from(env.get(ENV_IAC_SETTLE_SECONDS)))
