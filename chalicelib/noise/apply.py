"""Ignore rules and exceptions applied to findings: pure, with everything counted.

Order: `.setpointignore` resource rules (last matching line wins, `!` re-includes), then
change-path rules and a spec's own `ignore:` globs, then unexpired exceptions. A drifted
finding left with no change is in sync; what was silenced stays visible in the counts,
in `excepted`, and in what matched nothing (stale rules, stale exceptions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from fnmatch import fnmatchcase
from typing import Any

from chalicelib.model import Change, Excepted, Finding, ResourceRef, Status
from chalicelib.noise.model import IgnoreRule, SpecException, SpecNoise


@dataclass(frozen=True)
class Quieted:
    findings: list[Finding]
    ignored: int  # resources skipped by a rule
    ignored_changes: int  # changes dropped by a path rule or a spec's `ignore:`
    excepted: int  # changes an unexpired exception accepts
    stale: tuple[str, ...]  # "policies/web.yaml:12: exception matched nothing", ...


def _names(rule: IgnoreRule, resource: Finding | ResourceRef) -> bool:
    """Whether a `KIND:ID_GLOB` rule names this resource (by id or by name)."""
    return _named(rule, str(resource.kind), resource.id, resource.name)


def _named(rule: IgnoreRule, kind: str, id: str | None, name: str | None) -> bool:
    return rule.kind == kind and any(
        value is not None and fnmatchcase(value, rule.id_glob or "") for value in (id, name)
    )


def _verdict(
    rules: Sequence[IgnoreRule],
    kind: str,
    id: str | None,
    name: str | None,
    tags: Mapping[str, str] | None,
    complete: bool = True,
) -> IgnoreRule | None:
    """The one place the resource rules are decided (last matching line wins, `!`
    re-includes), for `quiet` and for the reads skipped before it alike.

    What is not known yet (tags not read: None; with `complete` false, an id or name the
    caller does not have yet) never skips a read: a `!` line that might match it keeps the
    resource read, and `quiet` decides once it is. With everything known this is exactly
    `quiet`'s verdict.
    """
    verdict: IgnoreRule | None = None
    for rule in rules:
        if rule.path_glob is not None:
            continue
        if rule.kind is None:  # a tag rule
            if tags is None:
                if rule.negate:
                    verdict = None  # it may bring the resource back: read it
                continue
            hit = rule.tag_key in tags and fnmatchcase(
                tags[rule.tag_key or ""], rule.tag_glob or ""
            )
        elif rule.kind != kind:
            continue
        else:
            hit = _named(rule, kind, id, name)
            if not hit and rule.negate and not complete:
                verdict = None  # the name (or id) this line may match is unknown before the read
                continue
        if hit:
            verdict = None if rule.negate else rule
    return verdict


def skipping_rule(
    rules: Sequence[IgnoreRule],
    kind: str,
    id: str | None,
    name: str | None,
    tags: Mapping[str, str] | None = None,
) -> IgnoreRule | None:
    """The rule that ignores a resource not read yet, or None when it must be read.

    A collector asks before a resource's own reads, with the id and name its finding
    would carry (and the tags, once read, when tag rules exist): a resource skipped here
    is one `quiet` would have dropped after reading it.
    """
    return _verdict(rules, kind, id, name, tags)


def skips(
    rules: Sequence[IgnoreRule],
    kind: str,
    id: str | None,
    name: str | None,
    tags: Mapping[str, str] | None = None,
) -> bool:
    """Whether the resource's reads can be skipped (see `skipping_rule`)."""
    return skipping_rule(rules, kind, id, name, tags) is not None


def has_tag_rules(rules: Sequence[IgnoreRule]) -> bool:
    """Whether some resource rule decides by tags (so tags must be known to decide)."""
    return any(rule.kind is None and rule.path_glob is None for rule in rules)


def ignored_ref(ref: ResourceRef, rules: Sequence[IgnoreRule]) -> IgnoreRule | None:
    """The rule that skips `ref` before it is read, or None when only the read can tell.

    Only `KIND:ID_GLOB` lines decide this early (by id or name, last match wins, `!`
    re-includes). A tag rule needs the resource read, and so does a `!` line that may name
    what the ref does not carry yet (an event names a group by id, the rule by name): then
    the resource is read and `quiet` decides afterwards, as `check` does.
    """
    complete = ref.id is not None and ref.name is not None
    return _verdict(rules, str(ref.kind), ref.id, ref.name, None, complete)


def _resource_ignored(finding: Finding, rules: Sequence[IgnoreRule]) -> IgnoreRule | None:
    return _verdict(rules, str(finding.kind), finding.id, finding.name, finding.tag_map)


def _path_globs(
    finding: Finding, rules: Sequence[IgnoreRule], noise: SpecNoise | None
) -> list[str]:
    globs = list(noise.ignore) if noise else []
    for rule in rules:
        if rule.path_glob is not None and not rule.negate and _names(rule, finding):
            globs.append(rule.path_glob)
    return globs


def _subset(wanted: Any, actual: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _subset(value, actual[key]) for key, value in wanted.items()
        )
    return bool(wanted == actual or (wanted is not None and str(wanted) == str(actual)))


def matches(exception: SpecException, change: Change) -> bool:
    """Every key the exception gives equals the change's (nested keys as a subset)."""
    as_dict = {
        "op": change.op,
        "path": change.path,
        "actual": change.actual,
        "expected": change.expected,
    }
    return all(_subset(value, as_dict.get(key)) for key, value in exception.change.items())


def quiet(
    findings: Iterable[Finding],
    rules: Sequence[IgnoreRule],
    noise: Mapping[str, SpecNoise],
    today: date,
    skipped: Iterable[Finding] = (),
) -> Quieted:
    """`skipped`: resources a collector did not read because a rule ignores them
    (`skipping_rule`), each counted here once, under its rule. One no rule ignores after
    all (a collector that decided differently) is kept: it says it was not read."""
    kept: list[Finding] = []
    ignored = dropped = excepted_count = 0
    used_rules: set[IgnoreRule] = set()
    used_exceptions: set[int] = set()  # ids: an exception holds a dict
    for finding in findings:
        rule = _resource_ignored(finding, rules)
        if rule is not None:
            ignored += 1
            used_rules.add(rule)
            continue
        spec_noise = noise.get(finding.spec or "")
        globs = _path_globs(finding, rules, spec_noise)
        changes = [c for c in finding.changes if not any(fnmatchcase(c.path, g) for g in globs)]
        dropped += len(finding.changes) - len(changes)
        excepted: list[Excepted] = []
        expired: list[str] = []
        remaining: list[Change] = []
        for change in changes:
            accepted = next(
                (e for e in (spec_noise.exceptions if spec_noise else ()) if matches(e, change)),
                None,
            )
            if accepted is None:
                remaining.append(change)
            elif date.fromisoformat(accepted.until) < today:
                used_exceptions.add(id(accepted))
                remaining.append(change)
                expired.append(
                    f"exception {accepted.source} expired {accepted.until} ({accepted.reason})"
                )
            else:
                used_exceptions.add(id(accepted))
                excepted.append(Excepted(change, accepted.until, accepted.reason))
        excepted_count += len(excepted)
        if len(remaining) == len(finding.changes) and not expired:
            kept.append(finding)
            continue
        status = finding.status
        if status is Status.DRIFTED and not remaining:
            status = Status.IN_SYNC
        reason = finding.reason
        if expired:
            reason = "; ".join([*([reason] if reason else []), *expired])
        kept.append(
            replace(
                finding,
                changes=tuple(remaining),
                excepted=tuple(excepted),
                status=status,
                reason=reason,
            )
        )
    for finding in skipped:
        rule = _resource_ignored(finding, rules)
        if rule is None:
            kept.append(finding)
            continue
        ignored += 1
        used_rules.add(rule)
    stale = [
        f"{r.source}: ignore rule matched nothing"
        for r in rules
        if r.path_glob is None and not r.negate and r not in used_rules
    ]
    for spec_noise in noise.values():
        stale += [
            f"{e.source}: exception matched no change (stale; remove it)"
            for e in spec_noise.exceptions
            if id(e) not in used_exceptions
        ]
    return Quieted(kept, ignored, dropped, excepted_count, tuple(stale))
