"""Reading a state instance's attributes the way every mapping needs: where it lives
(account, region) and values that may be marked sensitive, which are never printed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.sources.terraform.model import TfInstance


def arn_parts(arn: object) -> tuple[str | None, str | None]:
    """(region, account) of `arn:PARTITION:SERVICE:REGION:ACCOUNT:...`; None where empty."""
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return None, None
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None, None
    return parts[3] or None, parts[4] or None


def region_of(instance: TfInstance, *fallbacks: str) -> str | None:
    """The v6 `region` attribute, else the region of the instance's `arn`, else the first
    non-empty attribute named in `fallbacks`."""
    attributes = instance.attributes
    region = attributes.get("region")
    if isinstance(region, str) and region:
        return region
    from_arn, _ = arn_parts(attributes.get("arn"))
    if from_arn:
        return from_arn
    for name in fallbacks:
        value = attributes.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def account_of(instance: TfInstance, *fallbacks: str) -> str | None:
    """The account of the instance's `arn`, else the first non-empty attribute named."""
    _, account = arn_parts(instance.attributes.get("arn"))
    if account:
        return account
    for name in fallbacks:
        value = instance.attributes.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def is_sensitive(instance: TfInstance, path: Sequence[str | int]) -> bool:
    """True when the state marks `path` or a part of it or a parent of it sensitive."""
    wanted = tuple(path)
    return any(
        marked[: len(wanted)] == wanted or wanted[: len(marked)] == marked
        for marked in instance.sensitive
    )


def attribute(instance: TfInstance, name: str) -> Any:
    """An attribute's value; a sensitive one is an error that names it but not its value."""
    if is_sensitive(instance, (name,)):
        raise SpecError(
            f"{name} is marked sensitive in the state; Setpoint does not read sensitive values",
            instance.label,
            field=name,
        )
    return instance.attributes.get(name)


def refuse_sensitive(instance: TfInstance, names: Iterable[str]) -> None:
    """Raise (naming the attribute, never its value) when the state marks any of the
    attributes a mapping reads sensitive: a value set from a sensitive variable must not
    reach a message or a finding."""
    if not instance.sensitive:
        return
    for name in sorted(set(names)):
        if is_sensitive(instance, (name,)):
            attribute(instance, name)


def blocks(value: Any) -> list[Mapping[str, Any]]:
    """A nested block list (`[{...}]`) as its mappings; null or anything else is none."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def first_block(value: Any) -> Mapping[str, Any] | None:
    """The one block of a `MaxItems: 1` block list, or None."""
    found = blocks(value)
    return found[0] if found else None


def strings(value: Any) -> list[str]:
    """A list/set of strings as the state holds it; null is empty."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and item]


def tags_of(instance: TfInstance) -> dict[str, str] | None:
    """`tags_all` (the resource's tags plus the provider's `default_tags`), else `tags`;
    None when the state holds neither."""
    for name in ("tags_all", "tags"):
        value = instance.attributes.get(name)
        if isinstance(value, Mapping):
            return {str(key): str(item) for key, item in value.items()}
    return None
