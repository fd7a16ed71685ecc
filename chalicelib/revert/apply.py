"""Which findings to revert, and what happened: findings in, findings with `reverts` out.

A finding is reverted when it is drift (`drifted`, never `missing` or `unmanaged`: a
revert never creates or deletes a resource), its spec says `on_drift: revert` (or its
kind's default does, `SETPOINT_ON_DRIFT`), and its family has a revert table. Then, in
this order: the kill switch (`SETPOINT_REVERT=off`) stops it; a change made by a
configured IaC principal is never reverted; the hourly allowance per resource may be
spent (Setpoint gives up and says so); else each planned call runs once. Without an
executor (`explain` without `--apply-reverts`) the plan is attached and nothing runs.

The deployed event functions and the sweep hand the work to the revert function instead
(`hand_off`), which has the only role that may write: the finding is delivered there,
after the revert, so its alert says what was undone. The sweep has no event: a finding's
actor is the one CloudTrail's history names (`sweep.lookup`, source "lookup"), and for
drift already open the actors the alert state remembers count too (`remembered`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import SetpointError
from chalicelib.iac_principals import IacPrincipals
from chalicelib.model import Finding, Revert, Status
from chalicelib.noise.model import ON_DRIFT_REVERT
from chalicelib.revert.budget import RevertBudget
from chalicelib.revert.executor import RevertExecutor
from chalicelib.revert.settings import ENV_REVERT, ENV_REVERT_LIMIT, RevertSettings
from chalicelib.revert.table import Step, Undo, plan_steps
from chalicelib.scrub import error_text
from chalicelib.specs.catalog import SpecCatalog

logger = logging.getLogger("setpoint")

HandOff = Callable[[Finding], None]
# the ARNs that may also have made a finding's drift (the sweep: those the alert state
# remembers); may raise SetpointError when they cannot be read
Remembered = Callable[[Finding], Sequence[str]]


def revert_table(finding: Finding) -> tuple[Undo, ...]:
    from chalicelib.kinds.registry import FAMILY_OF

    family = FAMILY_OF.get(finding.kind)
    if family is None or family.reverts is None:
        return ()
    return family.reverts()


def _specs_by_source(catalog: SpecCatalog) -> dict[str, Any]:
    return {str(spec.source): spec for kind in catalog.kinds for spec in catalog.specs_of(kind)}


def spec_of(finding: Finding, catalog: SpecCatalog) -> Any:
    """The spec a finding departs from (findings name it by `str(spec.source)`)."""
    if not finding.spec:
        return None
    return catalog.memo("revert:specs", _specs_by_source).get(finding.spec)


def opted_in(finding: Finding, catalog: SpecCatalog, settings: RevertSettings) -> bool:
    """Drift whose spec (or kind default) says `on_drift: revert`."""
    if finding.status is not Status.DRIFTED or not finding.spec:
        return False
    noise = catalog.noise.get(finding.spec)
    choice = getattr(noise, "on_drift", None) or settings.defaults.get(str(finding.kind))
    return choice == ON_DRIFT_REVERT


@dataclass
class Reverter:
    """The revert step of an event path or the sweep (see the module docstring)."""

    settings: RevertSettings
    specs: Callable[[], SpecCatalog]
    executor: RevertExecutor | None = None  # None: plan only
    budget: RevertBudget | None = None
    iac: IacPrincipals | None = None
    hand_off: HandOff | None = None
    # the account these clients write to; a finding in another account is never
    # reverted here (its names, an IAM role's above all, could mean a resource of ours)
    own_account: Callable[[], str] | None = None

    def apply(
        self, findings: Sequence[Finding], remembered: Remembered | None = None
    ) -> tuple[list[Finding], list[Finding]]:
        """(the findings to deliver here, those handed to the revert function).

        `remembered` names who else may have made a finding's drift; a configured IaC
        principal among them stops the revert as the finding's own actor does.
        """
        kept: list[Finding] = []
        handed: list[Finding] = []
        catalog: SpecCatalog | None = None
        for finding in findings:
            if finding.status is not Status.DRIFTED or not finding.spec:
                kept.append(finding)
                continue
            if catalog is None:
                try:
                    catalog = self.specs()
                except SetpointError as exc:  # the findings say so already: nothing to revert
                    logger.error("revert_specs_unreadable", extra={"error": error_text(exc)})
                    return list(findings), []
            if not opted_in(finding, catalog, self.settings):
                kept.append(finding)
                continue
            steps = plan_steps(finding, spec_of(finding, catalog), revert_table(finding))
            if not steps:
                kept.append(finding)
                continue
            # decided once: `remembered` reads the state, and a second read must not
            # turn a refusal into a revert run here
            refused = self._may_run(finding, remembered)
            if self.hand_off is not None and refused is None:
                try:
                    self.hand_off(finding)
                except Exception as exc:  # said on the alert, delivered here instead
                    error = f"handoff_failed: {error_text(exc)}"
                    logger.error("revert_handoff_failed", extra={"id": finding.id, "error": error})
                    kept.append(_with(finding, steps, {s.key: error for s in steps}))
                else:
                    handed.append(finding)
                continue
            kept.append(self._revert(finding, steps, refused))
        return kept, handed

    def _may_run(self, finding: Finding, remembered: Remembered | None = None) -> str | None:
        """Why nothing may run for this finding (the switch, an IaC author, another
        account), or None."""
        if not self.settings.enabled:
            return f"off: {ENV_REVERT}=off turns every revert off"
        refused = self._iac_author(finding, remembered)
        if refused is not None:
            return refused
        return self._elsewhere(finding)

    def _iac_author(self, finding: Finding, remembered: Remembered | None) -> str | None:
        """Why an IaC principal's change stays: the finding's actor is one, or one of
        those `remembered` is (read only when the actor is not)."""
        if self.iac is None:
            return None
        if self.iac.deployed_by(finding.actor):
            who = finding.actor.arn if finding.actor else "?"
            return f"iac: made by a configured IaC principal ({who}); never reverted"
        try:
            others = list(remembered(finding)) if remembered is not None else []
        except SetpointError as exc:  # who made it is not known: the IaC rule cannot hold
            return f"failed: who made this drift could not be read: {error_text(exc)}"
        for arn in others:
            if self.iac.deployed_by_arn(arn):
                return f"iac: made by a configured IaC principal ({arn}); never reverted"
        return None

    def _elsewhere(self, finding: Finding) -> str | None:
        """Why this account's clients may not revert `finding`: it lives in another one."""
        if self.own_account is None or not finding.account:
            return None
        try:
            here = self.own_account()
        except (SetpointError, BotoCoreError, ClientError) as exc:
            return f"failed: could not tell which account this runs in: {error_text(exc)}"
        if finding.account != here:
            return (
                f"elsewhere: the resource is in account {finding.account}; Setpoint reverts "
                f"only in its own account ({here})"
            )
        return None

    def _revert(self, finding: Finding, steps: list[Step], refused: str | None) -> Finding:
        """Run the steps here (or only plan them without an executor), unless `refused`."""
        if refused is not None:
            return _with(finding, steps, {s.key: refused for s in steps})
        if self.executor is None:
            return _with(finding, steps, {})  # planned only
        runnable = [s for s in steps if s.params is not None]
        try:
            spent = bool(runnable) and self.budget is not None and not self.budget.take(finding)
        except SetpointError as exc:  # no count, no revert: it could not be limited
            error = f"failed: the revert count could not be kept: {error_text(exc)}"
            return _with(finding, steps, {s.key: error for s in runnable})
        if spent and self.budget is not None:
            gave_up = (
                f"gave_up: {self.budget.limit} reverts of this resource in the last hour "
                f"({ENV_REVERT_LIMIT}={self.budget.limit}); not reverting again, fix the cause"
            )
            logger.warning("revert_gave_up", extra={"kind": finding.kind.value, "id": finding.id})
            return _with(finding, steps, {s.key: gave_up for s in runnable})
        results: dict[str, str | None] = {}
        for step in steps:
            if step.params is None or step.key in results:
                continue
            results[step.key] = self.executor.run(step, finding.region)
            logger.info(
                "reverted" if results[step.key] is None else "revert_failed",
                extra={
                    "kind": finding.kind.value,
                    "id": finding.id,
                    "call": step.undo.permission,
                    "error": results[step.key],
                },
            )
        return _with(finding, steps, results, ran=True)


def _with(
    finding: Finding, steps: Sequence[Step], results: dict[str, str | None], *, ran: bool = False
) -> Finding:
    """The finding carrying one `Revert` per step: done when it ran without an error."""
    reverts = []
    for step in steps:
        error = step.error if step.params is None else results.get(step.key)
        done = ran and step.params is not None and step.key in results and error is None
        reverts.append(Revert(step.change, step.action, step.undo.permission, done, error))
    return replace(finding, reverts=tuple(reverts))


def reverted(findings: Sequence[Finding]) -> list[Finding]:
    """The findings where at least one revert went through (to read again)."""
    return [f for f in findings if any(r.done for r in f.reverts)]
