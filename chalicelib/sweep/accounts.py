"""Which accounts and regions a sweep covers: from settings, AWS Organizations, or EC2.

Accounts: a list of ids, "organization" (every ACTIVE account of the organization, read
with a paginated `organizations:ListAccounts` from the management or a delegated
administrator account), or unset (the caller's own account only).

Regions: a list, or "enabled" (each account's own enabled regions). Enabled regions come
from `ec2:DescribeRegions` called in that account with the assumed read-only role: without
`AllRegions` it answers exactly the regions the account may use (default ones and those
opted in), it is part of the AWS ReadOnlyAccess and SecurityAudit policies a read-only role
already has, and it needs no organization trusted access. `account:ListRegions` would give
the same answer but needs its own permission in every member role.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError, ReadError

ORGANIZATION = "organization"
ENABLED = "enabled"
_ACCOUNT_ID = re.compile(r"^\d{12}$")
ENABLED_OPT_IN = frozenset({"opt-in-not-required", "opted-in"})


def parse_accounts(value: str | None) -> list[str] | str | None:
    """ "123456789012,210987654321" -> ids; "organization" -> that word; empty -> None."""
    text = (value or "").strip()
    if not text:
        return None
    if text.lower() == ORGANIZATION:
        return ORGANIZATION
    ids = [part.strip() for part in text.split(",") if part.strip()]
    bad = [i for i in ids if not _ACCOUNT_ID.match(i)]
    if bad:
        raise ConfigError(
            f"accounts: {', '.join(repr(b) for b in bad)} is not a 12-digit account id "
            f"(give ids separated by commas, or {ORGANIZATION!r})"
        )
    return list(dict.fromkeys(ids))


def organization_accounts(organizations: Any) -> list[str]:
    """Every ACTIVE account of the organization (suspended and closing ones are skipped).

    `State` replaces the older `Status` field; whichever the answer carries is used.
    """
    found: list[str] = []
    try:
        for page in organizations.get_paginator("list_accounts").paginate():
            for account in page.get("Accounts", []):
                state = account.get("State") or account.get("Status")
                if state == "ACTIVE":
                    found.append(str(account["Id"]))
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        raise ConfigError(
            f"cannot list the organization's accounts (organizations:ListAccounts: {code}); "
            "run from the management account or a delegated administrator, or list ids"
        ) from exc
    except BotoCoreError as exc:
        raise ConfigError(f"cannot list the organization's accounts: {exc}") from exc
    return found


def resolve_accounts(
    setting: list[str] | str | None,
    own_account: Callable[[], str],
    organizations: Callable[[], Any],
) -> list[str]:
    """The accounts to sweep for a parsed setting (see `parse_accounts`)."""
    if setting is None:
        return [own_account()]
    if setting == ORGANIZATION:
        return organization_accounts(organizations())
    return list(setting)


def enabled_regions(ec2: Any) -> frozenset[str]:
    """The regions this account may use (ec2:DescribeRegions, called in that account)."""
    try:
        regions = ec2.describe_regions().get("Regions", [])
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        raise ReadError(f"DescribeRegions failed: {code}", code=code) from exc
    except BotoCoreError as exc:
        raise ReadError(f"DescribeRegions failed: {exc}") from exc
    return frozenset(
        str(r["RegionName"])
        for r in regions
        if r.get("OptInStatus", "opt-in-not-required") in ENABLED_OPT_IN
    )


def partition_regions(ec2: Any) -> list[str]:
    """Every region of the partition, enabled here or not (planning for "enabled")."""
    try:
        regions = ec2.describe_regions(AllRegions=True).get("Regions", [])
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"cannot list regions (ec2:DescribeRegions): {exc}") from exc
    return sorted(str(r["RegionName"]) for r in regions)


def parse_regions(value: str | None, default: Sequence[str]) -> list[str] | None:
    """A comma-separated list; "enabled" -> None (each account's enabled regions)."""
    text = (value or "").strip()
    if text.lower() == ENABLED:
        return None
    regions = [r.strip() for r in text.split(",") if r.strip()]
    return list(dict.fromkeys(regions)) or list(default)
