"""What a Terraform state holds for Setpoint, and what a family's mapping must provide."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.errors import SpecError
from chalicelib.sources.declared import Declared


@dataclass(frozen=True)
class TfInstance:
    """One managed resource instance of a state (format 4), data sources left out."""

    origin: str  # the state object as shown: "network/terraform.tfstate"
    address: str  # 'module.app.aws_security_group.this["web"]'
    type: str  # "aws_security_group"
    attributes: Mapping[str, Any]
    provider: str  # 'provider["registry.terraform.io/hashicorp/aws"].west'
    # paths of attributes the state marks sensitive: never printed
    sensitive: frozenset[tuple[str | int, ...]] = frozenset()

    @property
    def label(self) -> str:
        """What a finding shows as its spec: "STATE_OBJECT: ADDRESS"."""
        return f"{self.origin}: {self.address}"


class TerraformMapping(Protocol):
    """A family's translation of its Terraform resource types into spec documents.

    It sees every instance of its types from all states at once, because one resource
    can be declared in parts (a group and its separate rule resources)."""

    @property
    def types(self) -> frozenset[str]: ...

    def declare(self, instances: Sequence[TfInstance]) -> Iterable[Declared | SpecError]: ...
