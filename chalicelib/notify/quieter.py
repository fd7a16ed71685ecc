"""The alert-storm controls as one hook for `alerting.deliver` (see quiet.py).

It fails open: when the rows it keeps cannot be read or written, alerts are posted as
they would be without it (noisy, never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.model import Finding
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.notify.coalesce import Coalescer, Flush
from chalicelib.notify.quiet import QuietSettings
from chalicelib.notify.routing import RoutedNotifier
from chalicelib.notify.storm import StormCap
from chalicelib.state.errors import StateStoreError
from chalicelib.state.rows import rows_for
from chalicelib.state.transitions import Decision

if TYPE_CHECKING:
    from chalicelib.alerting import Delivery

logger = logging.getLogger("setpoint")


def all_members(notifiers: Sequence[Any]) -> list[Any]:
    """Every notifier under the configured ones (a routed set's routes and defaults)."""
    found: dict[int, Any] = {}
    for notifier in notifiers:
        if isinstance(notifier, RoutedNotifier):
            for member in [n for r in notifier.routes for n in r.notifiers] + list(
                notifier.default
            ):
                found.setdefault(id(member), member)
        else:
            found.setdefault(id(notifier), notifier)
    return list(found.values())


def summary_targets(notifiers: Sequence[Any]) -> list[Any]:
    """Who hears a storm summary: where sweep digests go."""
    found: dict[int, Any] = {}
    for notifier in notifiers:
        members = notifier.digest_targets() if isinstance(notifier, RoutedNotifier) else [notifier]
        for member in members:
            found.setdefault(id(member), member)
    return list(found.values())


class Quieter:
    """Coalescing and the storm cap around one `deliver` call."""

    def __init__(
        self, delivery: Delivery, settings: QuietSettings, label_of: Callable[[Any], str]
    ) -> None:
        rows = rows_for(delivery.state)
        self._notifiers = tuple(delivery.notifiers)
        self.coalescer = (
            Coalescer(
                rows,
                settings.coalesce_seconds,
                clock=delivery.clock,
                leaves=lambda: all_members(self._notifiers),
                label_of=label_of,
                recheck=delivery.recheck,
            )
            if settings.coalesce_seconds > 0
            else None
        )
        self.storm = (
            StormCap(
                rows, settings.storm_limit, clock=delivery.clock, report_url=settings.report_url
            )
            if settings.storm_limit > 0
            else None
        )
        self.coalesced = 0
        self.held = 0

    def owed(self, finding: Finding, decision: Decision) -> Flush | None:
        if self.coalescer is None:
            return None
        try:
            return self.coalescer.owed(finding, decision)
        except StateStoreError as exc:
            logger.error("coalesce_failed", extra={"error": str(exc)})
            return None

    def screen(self, alert: Alert, decision: Decision) -> Alert | None:
        """The alert to post now, or None (folded into a message, or held for a summary)."""
        try:
            if self.coalescer is not None:
                shown = self.coalescer.screen(alert, decision)
                if shown is None:
                    self.coalesced += 1
                    return None
                alert = shown
            if self.storm is not None and self.storm.hold(alert):
                self.held += 1
                return None
        except StateStoreError as exc:
            logger.error("storm_control_failed", extra={"error": str(exc)})
        return alert

    def posted(self, alert: Alert, decision: Decision, refs: Sequence[MessageRef]) -> None:
        if self.coalescer is None:
            return
        try:
            self.coalescer.posted(alert, decision, refs)
        except StateStoreError as exc:
            logger.error("coalesce_failed", extra={"error": str(exc)})

    def give_back(self, flush: Flush) -> None:
        if self.coalescer is not None:
            self.coalescer.give_back(flush)

    def finish(self) -> list[str]:
        """Storm summaries owed after this call; errors, one line each."""
        if self.storm is None:
            return []
        return self.storm.finish(summary_targets(self._notifiers))
