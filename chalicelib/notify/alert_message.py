"""An alert as a chat message: where the drift's story is now, not only where it stands.

NEW reads exactly like the finding's own message (`message.py`). Follow-ups say what they
follow: CHANGED names what appeared and what went away since the last alert and still
lists the whole drift, REMINDER how long it has been off, BACK_TO_NORMAL who fixed it and
after how long. A plain webhook cannot thread, so a follow-up posted through one cites
the alert it follows ("re: alert <ref> at <since>"); a Slack bot replies in the thread
and needs no citation.

Pure functions, like `message.py`: the notifier passes in the message's own id (`ref`)
and the one to cite (`cite`), so nothing here reads a clock or draws a random number.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chalicelib.model import Actor, Change, Finding, Status
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.budget import bounded_json
from chalicelib.notify.escape import escape_code, escape_mrkdwn, escape_truncated
from chalicelib.notify.message import (
    _STATUS_EMOJI,
    FALLBACK_LIMIT,
    FIELD_LIMIT,
    HEADER_LIMIT,
    JSON_LISTS,
    MAX_BLOCKS,
    _actor_fields,
    _changes_text,
    _code_section,
    _mrkdwn,
    _open_count,
    _open_text,
    _resource_fields,
    _span,
    actor_lines,
    changes_lines,
    headline,
    open_line,
    render_slack,
    render_text,
    resource_line,
    revert_lines,
    spec_line,
)
from chalicelib.report.common import alarming_first, change_line, described, one_line
from chalicelib.report.json_report import actor_to_dict, change_to_dict, finding_to_dict

# Kinds whose message lists the drift as it is now.
LISTS_CHANGES = frozenset(
    {AlertKind.NEW, AlertKind.CHANGED, AlertKind.REMINDER, AlertKind.PENDING_APPLY}
)
# Kinds that end a story: the message names who ended it ("Fixed by", …).
_ENDED_BY = {
    AlertKind.BACK_TO_NORMAL: "Fixed by",
    AlertKind.APPLIED: "Applied by",
    AlertKind.GONE: "Deleted by",
}
_STILL = {
    Status.DRIFTED: "still drifted",
    Status.UNMANAGED: "still unmanaged",
    Status.MISSING: "still missing",
    Status.UNKNOWN: "still unreadable",
    Status.IN_SYNC: "still open",
}
_KIND_EMOJI = {
    AlertKind.REMINDER: ":hourglass:",
    AlertKind.BACK_TO_NORMAL: ":white_check_mark:",
    AlertKind.PENDING_APPLY: ":hourglass_flowing_sand:",
    AlertKind.APPLIED: ":white_check_mark:",
    AlertKind.GONE: ":wastebasket:",
}
NEW_LABEL = "new:       "
GONE_LABEL = "no longer: "


def format_duration(seconds: int) -> str:
    """`2h 13m`, `3d 4h`, `13m`, `45s`: two units at most, as people say it."""
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def ended_by(alert: Alert) -> Actor | None:
    """Who ended the story: the alert's `fixed_by`, else the event that showed it ended."""
    return alert.fixed_by or alert.finding.actor


def coalesced_note(alert: Alert) -> str | None:
    """`54 further changes since the last message, latest at …`: what coalescing folded
    into this message (notify/coalesce.py), so a quiet channel still has exact counts."""
    count = alert.coalesced
    if count <= 0:
        return None
    latest = f", latest at {one_line(alert.updated_at)}" if alert.updated_at else ""
    return f"{count} further change{'s' if count != 1 else ''} since the last message{latest}"


def alert_headline(alert: Alert) -> str:
    """The one sentence a reader sees first, per alert kind (with what was coalesced)."""
    text = _headline(alert)
    note = coalesced_note(alert)
    return f"{text} ({note})" if note else text


def _headline(alert: Alert) -> str:
    finding = alert.finding
    group = described(finding)
    kind = alert.kind
    if kind is AlertKind.CHANGED:
        if alert.unapproved_over_pending:
            return (
                f"Unapproved change: {group} was changed by hand while its spec change "
                "waits to be applied"
            )
        if finding.status is Status.DRIFTED:
            return f"Drift changed: {group} departs from its spec differently since the last alert"
        if finding.status is Status.UNMANAGED:
            return f"Unmanaged {group} changed since the last alert"
        return f"Changed since the last alert: {headline(finding)}"
    if kind is AlertKind.REMINDER:
        still = _STILL[finding.status]
        since = f" since {one_line(alert.since)}" if alert.since else ""
        return f"Reminder: {group} {still}{since}"
    if kind is AlertKind.BACK_TO_NORMAL:
        text = f"Back to normal: {group} matches its spec again"
        actor = ended_by(alert)
        if actor is not None and actor.arn:
            text += f" — fixed by {one_line(actor.arn)}"
        if alert.duration_seconds is not None:
            text += f" after {format_duration(alert.duration_seconds)}"
        return text
    if kind is AlertKind.PENDING_APPLY:
        return f"Pending apply: the spec for {group} changed; the cloud does not match it yet"
    if kind is AlertKind.APPLIED:
        return f"Applied: {group} now matches its updated spec"
    if kind is AlertKind.GONE:
        return f"Gone: unmanaged {group} was deleted"
    return headline(finding)


def _change_key(change: Change) -> tuple[str, str, str, str]:
    """A change's identity: its values, not its wording (summaries may be reworded)."""

    def canon(value: Any) -> str:
        return json.dumps(value, sort_keys=True, default=str)

    return (change.op, change.path, canon(change.expected), canon(change.actual))


def changes_since(alert: Alert) -> tuple[list[Change], list[Change]]:
    """(changes now present that the last alert did not list, listed ones now gone)."""
    before = {_change_key(c) for c in alert.previous_changes}
    now = {_change_key(c) for c in alert.finding.changes}
    appeared = [c for c in alert.finding.changes if _change_key(c) not in before]
    went = [c for c in alert.previous_changes if _change_key(c) not in now]
    return alarming_first(appeared), went


def since_last_alert_lines(alert: Alert) -> list[str]:
    """`new:       + …` / `no longer: - …`, the difference a CHANGED alert is about."""
    appeared, went = changes_since(alert)
    lines = [NEW_LABEL + change_line(c) for c in appeared]
    lines += [GONE_LABEL + change_line(c, open_marker=None) for c in went]
    return lines


def cited_ref(alert: Alert, cite: str | None = None) -> str | None:
    """The message a follow-up refers to: `cite` when the notifier knows its own, else
    the first message of the thread."""
    if cite is not None:
        return cite
    return alert.thread[0].ref if alert.thread else None


def citation(alert: Alert, cite: str | None = None, *, threaded: bool = False) -> str | None:
    """`re: alert 3f2a… at 2024-05-01T10:00:00Z`, for follow-ups that cannot thread."""
    if threaded or alert.kind is AlertKind.NEW:
        return None
    ref = cited_ref(alert, cite)
    if ref is None:
        return None
    since = f" at {one_line(alert.since)}" if alert.since else ""
    return f"re: alert {one_line(ref)}{since}"


def off_since_line(alert: Alert) -> str | None:
    """`Off since: 2024-05-01T10:00:00Z, for 2h 13m`."""
    parts = []
    if alert.since:
        parts.append(one_line(alert.since))
    if alert.duration_seconds is not None:
        parts.append(f"for {format_duration(alert.duration_seconds)}")
    if not parts or alert.kind not in (AlertKind.REMINDER, AlertKind.BACK_TO_NORMAL):
        return None
    return "Off since: " + ", ".join(parts)


def render_alert_text(
    alert: Alert, *, ref: str | None = None, cite: str | None = None, threaded: bool = False
) -> str:
    """The plain message: console, SNS, the Slack/Teams fallback, generic webhooks.

    `ref` is this message's own id (shown, so a later "re: alert …" can be matched);
    `cite` the id a follow-up refers to; `threaded` says the follow-up sits in the
    original's thread, where a citation would only be noise.
    """
    finding = alert.finding
    if alert.kind is AlertKind.NEW:
        lines = [render_text(finding)]
        note = coalesced_note(alert)
        if note:  # under the headline: a long drift list must not cut it off
            first, _, rest = lines[0].partition("\n")
            lines = [first, f"Updated: {note}", rest]
    else:
        lines = [alert_headline(alert)]
        lines += _present([citation(alert, cite, threaded=threaded)])
        lines.append(resource_line(finding))
        who = _ENDED_BY.get(alert.kind)
        actor = ended_by(alert) if who else finding.actor
        if actor is not None:
            lines += actor_lines(actor, who or "Who")
        lines += _present([off_since_line(alert)])
        if finding.reason and finding.status is not Status.UNKNOWN:
            lines.append(f"Reason: {one_line(finding.reason)}")
        if alert.kind in LISTS_CHANGES:
            lines += _present([open_line(finding)])
            if alert.kind is AlertKind.CHANGED:
                since = since_last_alert_lines(alert)
                if since:
                    lines += ["Since the last alert:"] + [f"  {line}" for line in since]
            lines += changes_lines(finding.changes)
            lines += revert_lines(finding)
        lines += _present([spec_line(finding)])
        if actor is not None and actor.event_id:
            lines.append(f"CloudTrail event: {one_line(actor.event_id)}")
    if ref:
        lines.append(f"Alert id: {one_line(ref)}")
    return "\n".join(lines)


def _present(lines: Sequence[str | None]) -> list[str]:
    return [line for line in lines if line]


# --- Slack -----------------------------------------------------------------------------


def _context(alert: Alert, ref: str | None) -> dict[str, Any]:
    finding = alert.finding
    elements: list[dict[str, Any]] = []
    if finding.spec:
        elements.append(_mrkdwn("Spec " + _span(finding.spec)))
    elif finding.status is Status.UNMANAGED and alert.kind in LISTS_CHANGES:
        elements.append(_mrkdwn("No spec manages this resource: write one, or delete it"))
    actor = ended_by(alert) if alert.kind in _ENDED_BY else finding.actor
    if actor is not None and actor.event_id:
        elements.append(_mrkdwn("CloudTrail event " + _span(actor.event_id)))
    if ref:
        elements.append(_mrkdwn("Alert " + _span(ref)))
    note = coalesced_note(alert)
    if note:
        elements.append(_mrkdwn(escape_mrkdwn(note)))
    return {"type": "context", "elements": elements or [_mrkdwn("No spec recorded")]}


def render_alert_slack(
    alert: Alert, *, ref: str | None = None, cite: str | None = None, threaded: bool = False
) -> dict[str, Any]:
    """A Slack message (Block Kit) for a webhook or chat.postMessage, with a `text`
    fallback; the same escaping and limits as `render_slack`."""
    finding = alert.finding
    fallback = escape_code(
        render_alert_text(alert, ref=ref, cite=cite, threaded=threaded), FALLBACK_LIMIT
    )
    if alert.kind is AlertKind.NEW:
        payload = render_slack(finding)
        if ref:
            payload["blocks"][-1]["elements"].append(_mrkdwn("Alert " + _span(ref)))
        note = coalesced_note(alert)
        if note:
            payload["blocks"][-1]["elements"].append(_mrkdwn(escape_mrkdwn(note)))
        payload["text"] = fallback
        return payload
    emoji = _KIND_EMOJI.get(alert.kind, _STATUS_EMOJI[finding.status])
    # A header holds 150 characters; "— fixed by <ARN> after 2h 13m" would be cut off
    # there, so it gets a line of its own under a header that says "back to normal".
    title, dash, _ending = _headline(alert).partition(" — ")  # the count goes in the context
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": escape_truncated(f"{emoji} {title}", HEADER_LIMIT),
                "emoji": True,
            },
        }
    ]
    if dash:
        blocks.append({"type": "section", "text": _mrkdwn(_fixed_text(alert))})
    cited = citation(alert, cite, threaded=threaded)
    if cited:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape_mrkdwn(cited))]})
    blocks.append({"type": "section", "fields": _resource_fields(finding)})
    who = _ENDED_BY.get(alert.kind)
    actor = ended_by(alert) if who else finding.actor
    if actor is not None:
        blocks.append({"type": "section", "fields": _actor_fields(actor, who or "Who")})
    off = off_since_line(alert)
    if off:
        label, _, value = off.partition(": ")
        blocks.append({"type": "section", "text": _mrkdwn(f"*{label}*\n{escape_mrkdwn(value)}")})
    if finding.reason:
        reason = "*Reason*\n" + escape_truncated(one_line(finding.reason), FIELD_LIMIT)
        blocks.append({"type": "section", "text": _mrkdwn(reason)})
    if alert.kind in LISTS_CHANGES:
        if _open_count(finding.changes):
            blocks.append(
                {"type": "section", "text": _mrkdwn(_open_text(finding.changes, finding.kind))}
            )
        if alert.kind is AlertKind.CHANGED:
            since = since_last_alert_lines(alert)
            if since:
                text = _code_section("*Since the last alert*", since)
                blocks.append({"type": "section", "text": _mrkdwn(text)})
        if finding.changes:
            blocks.append({"type": "section", "text": _mrkdwn(_changes_text(finding.changes))})
    blocks.append(_context(alert, ref))
    return {
        "text": fallback,
        "blocks": blocks[:MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _fixed_text(alert: Alert) -> str:
    """`Fixed by `arn` after *2h 13m*`, the end of a back-to-normal headline."""
    actor = ended_by(alert)
    parts = []
    if actor is not None and actor.arn:
        parts.append("Fixed by " + _span(actor.arn))
    if alert.duration_seconds is not None:
        parts.append(f"after *{format_duration(alert.duration_seconds)}*")
    return " ".join(parts)


# --- JSON ------------------------------------------------------------------------------


def render_alert_json(
    alert: Alert, *, ref: str | None = None, cite: str | None = None, threaded: bool = False
) -> dict[str, Any]:
    """The finding as `--format json` shows it, plus what the alert says about it."""
    appeared, went = changes_since(alert) if alert.kind is AlertKind.CHANGED else ([], [])
    fixer = ended_by(alert) if alert.kind in _ENDED_BY else None
    payload = {
        **finding_to_dict(alert.finding),
        # the resource's tags, so a receiver can route by team as Setpoint's routes do
        "tags": alert.finding.tag_map,
        "alert": {
            "kind": alert.kind.value,
            "id": ref,
            "re": None if alert.kind is AlertKind.NEW else cited_ref(alert, cite),
            "since": alert.since,
            "duration_seconds": alert.duration_seconds,
            "ended_by": actor_to_dict(fixer) if fixer is not None else None,
            "new_changes": [change_to_dict(c) for c in appeared],
            "gone_changes": [change_to_dict(c) for c in went],
        },
        "headline": alert_headline(alert),
        "text": render_alert_text(alert, ref=ref, cite=cite, threaded=threaded),
    }
    lists = (("alert", "gone_changes"), ("alert", "new_changes"), *JSON_LISTS)
    return bounded_json(payload, lists)


def new_alert(finding: Finding) -> Alert:
    """A finding as a first alert, for callers that still hand notifiers bare findings."""
    return Alert(AlertKind.NEW, finding)
