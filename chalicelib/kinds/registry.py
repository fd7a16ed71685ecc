"""Every resource family Setpoint knows, registered once: the rest of Setpoint reads this.

To add a kind, add a folder under `chalicelib/kinds/` whose `family.py` declares `FAMILY`,
and one line to `FAMILIES` below. The event table, the EventBridge handlers in `app.py`,
lifecycle (settle windows, gone), sweep shards, the generated IAM policy and member
role, `import`, the spec schema's kind enum and report nouns all derive from it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from chalicelib.kinds.family import Family, SpecKind
from chalicelib.kinds.guard.family import FAMILY as GUARD_FAMILY
from chalicelib.kinds.iam.family import FAMILY as IAM
from chalicelib.kinds.load_balancer.family import FAMILY as LOAD_BALANCER
from chalicelib.kinds.s3_bucket.family import FAMILY as S3_BUCKET
from chalicelib.kinds.security_group.family import FAMILY as SECURITY_GROUP
from chalicelib.model import GUARD, Kind

FAMILIES: tuple[Family, ...] = (
    SECURITY_GROUP,
    S3_BUCKET,
    IAM,
    LOAD_BALANCER,
    GUARD_FAMILY,
)


def _unique(families: tuple[Family, ...]) -> Mapping[str, Family]:
    """Families by name; a name, kind, handler or event name claimed twice fails at import."""
    by_name: dict[str, Family] = {}
    claimed: dict[str, str] = {}
    for family in families:
        owned = [
            ("family", family.name),
            ("handler", family.handler),
            *(("kind", str(kind)) for kind in family.kinds),
            *(("event", f"{row.event_source} {row.event_name}") for row in family.rows),
        ]
        for what, name in owned:
            other = claimed.setdefault(f"{what}:{name}", family.name)
            if other != family.name:
                raise ValueError(f"{what} {name!r} is claimed by both {other} and {family.name}")
        by_name[family.name] = family
    return MappingProxyType(by_name)


BY_NAME: Mapping[str, Family] = _unique(FAMILIES)
SPEC_KINDS: Mapping[str, SpecKind] = MappingProxyType(
    {str(spec.kind): spec for family in FAMILIES for spec in family.specs}
)
FAMILY_OF: Mapping[Kind, Family] = MappingProxyType(
    {kind: family for family in FAMILIES for kind in family.kinds}
)
RESOURCE_KINDS: tuple[Kind, ...] = tuple(FAMILY_OF)
# the guard is also a registered family now; the core names it either way
ALL_KINDS: tuple[Kind, ...] = tuple(dict.fromkeys((*RESOURCE_KINDS, GUARD)))
# every schema file by its name (names are unique across families)
SCHEMAS: Mapping[str, Path] = MappingProxyType(
    {
        path.name: path
        for family in FAMILIES
        for path in (*(spec.schema for spec in family.specs), *family.extra_schemas)
    }
)


def kind_named(name: str) -> Kind:
    """The known kind spelled `name`; ValueError naming the close match otherwise."""
    for kind in ALL_KINDS:
        if kind == name:
            return kind
    close = difflib.get_close_matches(str(name), [str(k) for k in ALL_KINDS], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    known = ", ".join(str(k) for k in ALL_KINDS)
    raise ValueError(f"unknown kind {name!r}{hint}; known kinds: {known}")


def noun(kind: str) -> str:
    """How reports and chat name a kind ("security group"); Setpoint's own is "Setpoint guard"."""
    spec = SPEC_KINDS.get(str(kind))
    if spec is not None:
        return spec.noun
    return "Setpoint guard" if kind == GUARD else str(kind).replace("_", " ")


def creates(event_name: str | None, kind: Kind) -> bool:
    """True when `event_name` creates a resource of `kind` (not a part of one)."""
    family = FAMILY_OF.get(kind)
    return event_name is not None and family is not None and family.creates.get(event_name) is kind


def deletes(event_name: str | None, kind: Kind) -> bool:
    """True when `event_name` deletes a resource of `kind` (not a part of one)."""
    family = FAMILY_OF.get(kind)
    return event_name is not None and family is not None and family.deletes.get(event_name) is kind
