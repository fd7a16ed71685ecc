"""What a source names without a spec for it, as findings a check reports.

Pure: findings and `Undeclared` entries in, findings out. An unresolved resource (an
Ansible argument that cannot be resolved) is `unknown`, naming the file, line and
expression: whatever the sweep made of the live resource (usually `unmanaged`, since no
spec names it) is replaced, never compared with a guess. A resource that must not exist
(Ansible's final `state: absent`) is `drifted` when the sweep found it and no other source
declares it, and `in_sync` when it is not there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from chalicelib.kinds.registry import kind_named
from chalicelib.model import Change, Finding, ResourceRef, Status, finding_for_ref
from chalicelib.specs.catalog import Undeclared

# the region shown for a resource a source names without one (omitted: any region)
ANY_REGION = "any"


def _about(finding: Finding, item: Undeclared) -> bool:
    if finding.kind != item.kind:
        return False
    if item.region is not None and finding.region not in (item.region, "global"):
        return False
    if item.id is not None:
        return finding.id == item.id
    return item.name is not None and item.name in (finding.name, finding.id)


def settle_undeclared(
    findings: Sequence[Finding],
    undeclared: Sequence[Undeclared],
    *,
    kinds: Collection[str] | None = None,
    regions: Collection[str] | None = None,
) -> list[Finding]:
    """The sweep's findings with each unresolved and absent entry applied (module
    docstring); entries of kinds or regions the check did not cover are left out."""
    out = list(findings)
    for item in undeclared:
        if item.why == "unread" or item.kind is None:
            continue
        if kinds is not None and item.kind not in kinds:
            continue
        if regions is not None and item.region is not None and item.region not in regions:
            continue
        matches = [i for i, finding in enumerate(out) if _about(finding, item)]
        if item.why == "unresolved":
            _unknown(out, matches, item)
        else:
            _absent(out, matches, item)
    return out


def _ref(item: Undeclared) -> ResourceRef:
    assert item.kind is not None
    name = item.name if item.name or item.id else f"the task at {item.where}"
    return ResourceRef(kind_named(item.kind), None, item.region or ANY_REGION, item.id, name)


def _unknown(out: list[Finding], matches: list[int], item: Undeclared) -> None:
    reason = f"cannot be compared: {item.reason}"
    for i in matches:
        out[i] = dataclasses.replace(
            out[i], status=Status.UNKNOWN, changes=(), excepted=(), reason=reason, spec=item.where
        )
    if not matches:
        out.append(finding_for_ref(_ref(item), Status.UNKNOWN, reason=reason, spec=item.where))


def _absent(out: list[Finding], matches: list[int], item: Undeclared) -> None:
    unmanaged = [i for i in matches if out[i].status is Status.UNMANAGED]
    for i in unmanaged:
        change = Change(
            op="add",
            path="",
            expected=None,
            actual={"exists": True},
            summary=f"exists; {item.where} says it must not ({item.reason})",
        )
        out[i] = dataclasses.replace(
            out[i], status=Status.DRIFTED, changes=(change,), spec=item.where
        )
    if not matches:
        out.append(finding_for_ref(_ref(item), Status.IN_SYNC, spec=item.where))
