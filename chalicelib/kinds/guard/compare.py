"""Trail or rule × the guard's desired state → `Finding`. Pure.

A trail a guard spec names departs when it stops logging, stops logging management write
events, or no longer reaches every region Setpoint watches. A trail no spec names is judged
by what it leaves behind: it departs only when a watched region is left without any trail
that logs its management writes (another trail still covering it keeps the trail quiet).
One of Setpoint's rules departs when it is disabled or loses its targets. Either, gone, is
`missing` against the built-in default (or the spec that named it): Setpoint is blind until
it is back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from chalicelib.kinds.guard import BUILT_IN, GUARD
from chalicelib.kinds.guard.model import GuardSpec, RuleState, TrailState, guards, trail_covers
from chalicelib.model import Change, Finding, ResourceRef, Status, finding_for_ref, gone_finding


def _spec_text(spec: GuardSpec | None) -> str:
    return str(spec.source) if spec is not None else BUILT_IN


def trail_changes(state: TrailState, regions: Sequence[str]) -> tuple[Change, ...]:
    changes = []
    if not state.logging:
        changes.append(
            Change(
                "modify",
                "logging",
                True,
                False,
                "trail is not logging: CloudTrail delivers no API calls, so Setpoint hears "
                "of no change",
            )
        )
    if not state.management_writes:
        changes.append(
            Change(
                "modify",
                "event_selectors",
                "management write events",
                "no management write events",
                "event selectors no longer log management write events",
            )
        )
    if not trail_covers(state, regions):
        elsewhere = ", ".join(sorted(set(regions) - {state.home_region})) or "other regions"
        changes.append(
            Change(
                "modify",
                "multi_region",
                True,
                False,
                f"trail logs only {state.home_region}: calls in {elsewhere} go unheard",
            )
        )
    return tuple(changes)


def evaluate_trail(
    state: TrailState | None,
    spec: GuardSpec | None,
    regions: Sequence[str],
    ref: ResourceRef | None = None,
) -> Finding:
    """One trail against the guard's desired state (`state` None: it is gone)."""
    if state is None:
        assert ref is not None
        return finding_for_ref(
            ref,
            Status.MISSING,
            spec=_spec_text(spec),
            reason="the trail no longer exists: its API calls reach nobody",
        )
    changes = trail_changes(state, regions)
    return Finding(
        kind=GUARD,
        id=state.arn,
        name=state.name,
        account=state.account,
        region=state.home_region,
        status=Status.DRIFTED if changes else Status.IN_SYNC,
        changes=changes,
        spec=_spec_text(spec),
    )


def blind_regions(
    state: TrailState | None, watched: Sequence[str], others: Sequence[TrailState]
) -> tuple[str, ...] | None:
    """The watched regions this trail no longer logs and no other trail logs either.

    `watched` empty means every region: then only a multi-region trail keeps the account
    covered, and the answer is () when one does, None ("every region") when none does.
    """
    arn = state.arn if state is not None else None
    rest = [o for o in others if o.arn != arn]
    if not watched:
        if (state is not None and guards(state, ())) or any(guards(o, ()) for o in rest):
            return ()
        return None
    lost = [r for r in watched if state is None or not guards(state, (r,))]
    return tuple(r for r in lost if not any(guards(o, (r,)) for o in rest))


def evaluate_unnamed_trail(
    state: TrailState | None,
    spec: GuardSpec | None,
    watched: Sequence[str],
    others: Sequence[TrailState],
    ref: ResourceRef | None = None,
) -> Finding:
    """A trail no guard spec names, judged by the account's coverage, not on its own.

    A team's data-events-only trail, or a single-region one, departs from nothing while
    another trail still logs the management writes of every watched region: what would
    blind Setpoint is the account losing that coverage, not one trail among several
    narrowing. `others` are the account's other trails as read now.
    """
    blind = blind_regions(state, watched, others)
    if blind == ():
        if state is None:
            assert ref is not None
            return gone_finding(ref)  # deleted, and other trails still cover: nothing lost
        # whatever it stopped doing, another trail still does it: quiet
        return replace(evaluate_trail(state, spec, ()), status=Status.IN_SYNC, changes=())
    where = ", ".join(blind) if blind else "every region"
    reason = f"no other trail logs management write events in {where}: Setpoint hears nothing there"
    if state is None:
        finding = evaluate_trail(None, spec, watched, ref=ref)
        return replace(finding, reason=f"{finding.reason}; {reason}")
    finding = evaluate_trail(state, spec, blind or (), ref=ref)
    return replace(finding, reason=reason) if finding.is_problem else finding


def rule_changes(state: RuleState) -> tuple[Change, ...]:
    changes = []
    if not state.enabled:
        changes.append(
            Change(
                "modify",
                "state",
                "ENABLED",
                "DISABLED",
                "Setpoint's rule is disabled: the events it matches no longer reach Setpoint",
            )
        )
    if state.targets == 0:
        changes.append(
            Change(
                "remove",
                "targets",
                "Setpoint's function",
                None,
                "Setpoint's rule has no target: the events it matches go nowhere",
            )
        )
    return tuple(changes)


def evaluate_rule(
    state: RuleState | None, spec: GuardSpec | None, ref: ResourceRef | None = None
) -> Finding:
    """One of Setpoint's rules: enabled, with a target (`state` None: it is gone)."""
    if state is None:
        assert ref is not None
        return finding_for_ref(
            ref,
            Status.MISSING,
            spec=_spec_text(spec),
            reason="Setpoint's rule no longer exists: the events it matched reach nobody",
        )
    changes = rule_changes(state)
    return Finding(
        kind=GUARD,
        id=state.arn,
        name=state.name,
        account=state.account,
        region=state.region,
        status=Status.DRIFTED if changes else Status.IN_SYNC,
        changes=changes,
        spec=_spec_text(spec),
    )


COVERAGE_NAME = "CloudTrail coverage"


def evaluate_coverage(
    account: str, region: str, trails: Sequence[TrailState], guarding: Sequence[TrailState]
) -> Finding:
    """The region as a whole: at least one trail must log its management writes."""
    ref = ResourceRef(GUARD, account, region, name=COVERAGE_NAME)
    if guarding:
        return finding_for_ref(ref, Status.IN_SYNC, spec=BUILT_IN)
    seen = ", ".join(sorted(t.name for t in trails)) or "none"
    change = Change(
        "remove",
        "trails",
        "a trail logging management write events",
        None,
        f"no trail logs management write events in {region} (trails here: {seen}): "
        "Setpoint hears of no change in this region until its next sweep",
    )
    return Finding(
        kind=GUARD,
        id=None,
        name=COVERAGE_NAME,
        account=account,
        region=region,
        status=Status.DRIFTED,
        changes=(change,),
        spec=BUILT_IN,
    )
