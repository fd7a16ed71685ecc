"""`kind: guard` documents → `GuardSpec`, and the duplicate check (one per account)."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.errors import SpecError
from chalicelib.kinds.guard.events import is_trail_arn
from chalicelib.kinds.guard.model import GuardSpec
from chalicelib.specs.builder import Issue, Issues, Skip
from chalicelib.specs.yamldoc import SpecDocument


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def build_guard(doc: SpecDocument, skip: Skip) -> tuple[GuardSpec | None, list[Issue]]:
    """A GuardSpec from a schema-checked document, or the semantic issues."""
    data = doc.data
    issues = Issues(doc)
    trails = _strings(data.get("trails"))
    for index, trail in enumerate(trails):
        if trail.startswith("arn:") and not is_trail_arn(trail) and not skip(("trails", index)):
            issues.add(("trails", index), f"{trail!r} is not a trail ARN (arn:aws:cloudtrail:…)")
    if issues.items:
        return None, issues.items
    account = data.get("account")
    return (
        GuardSpec(
            source=doc.location(),
            account=account if isinstance(account, str) else None,
            trails=trails,
            regions=_strings(data.get("regions")),
        ),
        [],
    )


def guard_conflicts(specs: Sequence[GuardSpec]) -> list[SpecError]:
    """Two guard specs for one account (or two for every account) contradict each other."""
    errors: list[SpecError] = []
    seen: dict[str | None, GuardSpec] = {}
    for spec in specs:
        first = seen.get(spec.account)
        if first is not None:
            scope = f"account {spec.account}" if spec.account else "every account"
            errors.append(
                SpecError(
                    f"a guard spec for {scope} is also in {first.source}",
                    spec.source.file,
                    spec.source.line,
                    "kind",
                )
            )
            continue
        seen[spec.account] = spec
    return errors
