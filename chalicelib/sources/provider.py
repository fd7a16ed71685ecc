"""`--specs` / `SETPOINT_SPECS` values -> one spec provider (a callable returning a catalog).

A single Setpoint source is returned as is (the spec-change handler reaches the S3
provider's ETag cache); several are merged by `CombinedProvider`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.errors import ConfigError
from chalicelib.noise.model import IgnoreRule
from chalicelib.sources.combined import CombinedProvider
from chalicelib.sources.locations import Location, parse_locations
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import load_directory

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache

SpecProvider = Callable[[], SpecCatalog]


def sources_provider(
    values: str | Sequence[str],
    clients: ClientCache,
    verify_key: str | None = None,
    s3_ignore: Sequence[IgnoreRule] = (),
) -> SpecProvider:
    """One provider over every source named; `verify_key` and `s3_ignore` (the rules of
    SETPOINT_IGNORE) apply to s3:// spec bundles."""
    locations = parse_locations([values] if isinstance(values, str) else list(values))
    if verify_key and not any(loc.scheme == "setpoint" and loc.on_s3 for loc in locations):
        shown = ", ".join(loc.raw for loc in locations)
        raise ConfigError(
            f"a verify key applies to s3:// specs (signed by `setpoint push --sign-key`), "
            f"not to {shown!r}"
        )
    providers = [location_provider(loc, clients, verify_key, s3_ignore) for loc in locations]
    if len(providers) == 1:
        return providers[0]
    named = zip((loc.raw for loc in locations), providers, strict=True)
    return CombinedProvider(tuple(named))


def location_provider(
    location: Location,
    clients: ClientCache,
    verify_key: str | None = None,
    s3_ignore: Sequence[IgnoreRule] = (),
) -> SpecProvider:
    if location.scheme == "terraform":
        from chalicelib.sources.terraform.provider import terraform_provider

        return terraform_provider(location.target, clients)
    if location.scheme == "ansible":
        from chalicelib.sources.ansible.provider import ansible_provider

        return ansible_provider(location.target)
    if location.on_s3:
        from chalicelib.specs.s3_source import S3SpecProvider
        from chalicelib.specs.signing import KmsVerifier

        key = verify_key
        make_verifier = (lambda: KmsVerifier(clients.client("kms"), key)) if key else None
        return S3SpecProvider(
            lambda: clients.client("s3"), location.target, make_verifier, s3_ignore
        )
    path = Path(location.target)
    if not path.exists():
        raise ConfigError(
            f"specs location {location.raw!r} is not a directory, a file, an s3:// URI,"
            " terraform:PATH or ansible:PATH"
        )
    cached: list[SpecCatalog] = []

    def from_directory() -> SpecCatalog:
        if not cached:
            cached.append(load_directory(path))
        return cached[0]

    return from_directory
