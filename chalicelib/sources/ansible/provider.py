"""Placeholder until the Ansible reader lands (replaced on its branch)."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.errors import ConfigError
from chalicelib.specs.catalog import SpecCatalog


def ansible_provider(target: str) -> Callable[[], SpecCatalog]:
    raise ConfigError(f"ansible:{target}: Ansible sources are not available yet")
