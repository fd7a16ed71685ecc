"""The storm cap: more than N new alerts a minute become one summary message.

Three hundred new groups used to be three hundred posts. Now each new alert is counted
in a row per minute (`storm#<minute>`, see `state/rows.py`, written conditionally so the
count is exact across Lambdas); the first `SETPOINT_STORM_LIMIT` of a minute go out as
usual, the rest are held: their state is kept (each drift is still followed to its end,
"back to normal" included), and chat gets one summary with the count by kind and a link
to the report. Critical alerts (guard findings, a world-open or admin change) are never
held.

The summary is posted at the end of the invocation that first held an alert in that
minute. Later invocations in the same minute edit it in place where the notifier can
(Slack bot, `chat.update`); other notifiers get one closing summary with the final
counts, once the minute is over (posted by the next delivery after it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.escape import escape_teams
from chalicelib.notify.notice import slack_notice
from chalicelib.notify.quiet import is_critical
from chalicelib.ports import Clock
from chalicelib.report.common import kind_noun
from chalicelib.state.errors import StateConflictError
from chalicelib.state.record import iso, parse_iso
from chalicelib.state.rows import RowStore, change_row

logger = logging.getLogger("setpoint")

PREFIX = "storm#"
MINUTE = timedelta(minutes=1)
LINGER = timedelta(days=1)


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def storm_key(minute: datetime) -> str:
    return PREFIX + iso(minute)


def summary_text(body: dict[str, Any], limit: int, report_url: str | None, *, final: bool) -> str:
    """`Alert storm: 280 new alerts held …`: exact counts, by kind, and where to look."""
    held = {str(k): int(v) for k, v in body.get("held", {}).items()}
    total = sum(held.values())
    count = int(body.get("count", 0))
    minute = str(body.get("minute", "?"))
    kinds = ", ".join(f"{kind_noun(k)}: {n}" for k, n in sorted(held.items()))
    state = "Alert storm over" if final else "Alert storm"
    lines = [
        f"{state}: {count} new alerts in the minute from {minute}; the first {limit} were "
        f"posted, {total} more are summarised here instead of one message each.",
        f"By kind: {kinds}.",
        "Critical alerts (world-open, admin, guard) are always posted on their own; every "
        "held alert is tracked, and its 'back to normal' still comes.",
        f"Full list: {report_url}" if report_url else "Full list: run `setpoint check`.",
    ]
    return "\n".join(lines)


class StormCap:
    """Counts new alerts per minute, holds those over the limit, posts the summary."""

    def __init__(
        self, rows: RowStore, limit: int, *, clock: Clock, report_url: str | None = None
    ) -> None:
        self._rows = rows
        self.limit = limit
        self._clock = clock
        self.report_url = report_url
        self._touched: set[str] = set()

    def hold(self, alert: Alert) -> bool:
        """Count a new alert; True when it is over the minute's limit (not posted)."""
        if alert.kind is not AlertKind.NEW or is_critical(alert.finding):
            return False
        minute = minute_of(self._clock())
        key = storm_key(minute)
        held = False

        def count(body: dict[str, Any] | None) -> dict[str, Any]:
            nonlocal held
            body = body or {"minute": iso(minute), "count": 0, "held": {}}
            body["count"] = int(body["count"]) + 1
            held = body["count"] > self.limit
            if held:
                kind = alert.finding.kind
                body["held"][kind] = int(body["held"].get(kind, 0)) + 1
            return body

        change_row(self._rows, key, count, minute + MINUTE + LINGER)
        self._touched.add(key)
        return held

    def finish(self, leaves: Sequence[Any]) -> list[str]:
        """Post or update the summaries this invocation owes; errors, one line each."""
        now = self._clock()
        keys = self._touched | {storm_key(minute_of(now) - MINUTE)}
        self._touched = set()
        errors: list[str] = []
        for key in sorted(keys):
            try:
                self._settle(key, now, leaves)
            except Exception as exc:  # the next delivery tries again; never lose the count
                logger.error("storm_summary_failed", extra={"key": key, "error": str(exc)})
                errors.append(f"storm_summary_failed: {exc}")
        return errors

    def _settle(self, key: str, now: datetime, leaves: Sequence[Any]) -> None:
        row = self._rows.read(key)
        if row is None:
            return
        body = row.body
        held = sum(int(v) for v in body.get("held", {}).values())
        if held == 0 or body.get("final"):
            return
        expires = now + LINGER
        if not body.get("posted"):
            claimed = {**body, "posted": True, "shown": held, "summary": []}
            try:
                claim = self._rows.write(key, claimed, row.version, expires)
            except StateConflictError:
                return  # another invocation posts it
            text = summary_text(body, self.limit, self.report_url, final=False)
            refs, failed = _post_each(leaves, text)
            if failed and len(failed) == len(leaves):
                self._rows.write(key, body, claim.version, expires)  # owe it again
                raise failed[0]
            self._save(key, expires, summary=[[r.notifier, r.ref] for r in refs])
            return
        ended = now >= parse_iso(str(body["minute"])) + MINUTE
        # `shown`: what the first summary said (all notifiers saw it); `edited`: what the
        # ones that edit in place show now
        if held == int(body.get("edited", body.get("shown", 0))) and not ended:
            return
        summary = [MessageRef(str(n), str(r)) for n, r in body.get("summary", [])]
        edited = set()
        text = summary_text(body, self.limit, self.report_url, final=ended)
        for leaf in leaves:
            update = getattr(leaf, "update_notice", None)
            for ref in summary:
                if update is not None and _owns(leaf, ref):
                    update(text, ref)
                    edited.add(id(leaf))
        if not ended:
            if edited:
                self._save(key, expires, edited=held)
            return
        try:  # the minute is over: the others get the closing count, once
            final = {**body, "final": True}
            claim = self._rows.write(key, final, row.version, expires)
        except StateConflictError:
            return
        others = [leaf for leaf in leaves if id(leaf) not in edited]
        if held == int(body.get("shown", 0)):
            return  # nothing arrived after the summary: it was already exact
        _refs, failed = _post_each(others, text)
        if failed and len(failed) == len(others):
            self._rows.write(key, body, claim.version, expires)  # owe it again
            raise failed[0]

    def _save(self, key: str, expires: datetime, **fields: Any) -> None:
        def put(body: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if body is None else {**body, **fields}

        change_row(self._rows, key, put, expires)


def _post_each(leaves: Sequence[Any], text: str) -> tuple[list[MessageRef], list[Exception]]:
    """Post to every notifier; one failing does not silence (or re-post to) the rest."""
    refs: list[MessageRef] = []
    failed: list[Exception] = []
    for leaf in leaves:
        try:
            ref = post_notice(leaf, text)
        except Exception as exc:
            logger.error("storm_summary_not_posted", extra={"error": str(exc)})
            failed.append(exc)
            continue
        if ref is not None:
            refs.append(ref)
    return refs, failed


def _owns(notifier: Any, ref: MessageRef) -> bool:
    owns = getattr(notifier, "owns", None)
    return getattr(notifier, "name", None) == ref.notifier or (callable(owns) and bool(owns(ref)))


def post_notice(notifier: Any, text: str, notice: str = "alert_storm") -> MessageRef | None:
    """Post a plain notice (a storm summary, an exception's reminder) in each notifier's
    own shape; the ref of a message that can be edited later, else None. `notice` names it
    in JSON bodies."""
    from chalicelib.notify.delivery import (
        ConsoleNotifier,
        JsonWebhookNotifier,
        SlackWebhookNotifier,
        SsmWebhookNotifier,
        TeamsWebhookNotifier,
        WebhookNotifier,
    )
    from chalicelib.notify.slack_bot import SlackBotNotifier
    from chalicelib.notify.sns import SnsNotifier, bounded_message, sns_subject
    from chalicelib.notify.teams import teams_message

    if isinstance(notifier, SsmWebhookNotifier):
        return post_notice(notifier._current(), text, notice)
    if isinstance(notifier, SlackBotNotifier):
        return notifier.post_notice(text)
    if isinstance(notifier, SlackWebhookNotifier):
        notifier.deliver(slack_notice(text))
    elif isinstance(notifier, TeamsWebhookNotifier):
        card = {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": escape_teams(line), "wrap": True}
                for line in text.splitlines()
            ],
        }
        notifier.deliver(teams_message(card))
    elif isinstance(notifier, JsonWebhookNotifier | WebhookNotifier):
        notifier.deliver({"notice": notice, "text": text})
    elif isinstance(notifier, SnsNotifier):
        notifier._sns.publish(
            TopicArn=notifier.topic_arn,
            Subject=sns_subject(text.splitlines()[0]),
            Message=bounded_message(text),
        )
    elif isinstance(notifier, ConsoleNotifier):
        notifier._stream.write(text + "\n\n")
    else:
        logger.warning("storm_notice_unsupported", extra={"notifier": repr(notifier)})
    return None
