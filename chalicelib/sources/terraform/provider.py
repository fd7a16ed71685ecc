"""Placeholder until the Terraform reader lands (replaced on its branch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.errors import ConfigError
from chalicelib.specs.catalog import SpecCatalog

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache


def terraform_provider(target: str, clients: ClientCache) -> Callable[[], SpecCatalog]:
    raise ConfigError(f"terraform:{target}: Terraform state sources are not available yet")
