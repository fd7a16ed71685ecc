"""An alert as a Microsoft Teams message: an Adaptive Card for a Workflows webhook.

Teams' "When a Teams webhook request is received" workflow takes a message activity with
one Adaptive Card attachment; it does not take the old MessageCard format of Office 365
connectors. Cards are kept to version 1.4 (what the Workflows card action renders) and
to TextBlock and FactSet, which every Teams client shows the same way.

Cloud text is escaped with `escape_teams` (TextBlocks and facts read markdown) and kept
on one line. Sizes are bounded by construction, in bytes of the body as sent: each field
and line has its budget (cut before escaping, so no escape is halved), the fixed parts
(headline, facts, footer, fallback) are laid out first, and the change lists take what
is left of CARD_LIMIT, line by line, ending in "… and N more changes". Pure, like the
other renderers.
"""

from __future__ import annotations

from typing import Any

from chalicelib.model import Actor, Finding, Status
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.alert_message import (
    _ENDED_BY,
    LISTS_CHANGES,
    alert_headline,
    citation,
    ended_by,
    off_since_line,
    render_alert_text,
    since_last_alert_lines,
)
from chalicelib.notify.budget import fit, item_cost, json_bytes, more_line
from chalicelib.notify.escape import escape_teams
from chalicelib.notify.message import _open_count, _open_sentence, _who_text, revert_lines
from chalicelib.report.common import (
    alarming_first,
    change_line,
    first_next_step,
    kind_noun,
    one_line,
)

CARD_VERSION = "1.4"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams refuses messages over about 28 KB, and the Workflows trigger answers 202 before it
# finds out: an oversized card is lost without an error. Every budget is in bytes of the
# body as sent (escaped, then serialised), and the whole body stays under CARD_LIMIT.
CARD_LIMIT = 24_000
FIELD_LIMIT = 600  # one fact value, the headline, one footer part
LINE_LIMIT = 600  # one change line or next step
FALLBACK_LIMIT = 2000
MAX_CHANGE_LINES = 40
# when a card has both, "Since the last alert" takes at most this share of the room left
SINCE_SHARE = 3

_COLOR = {
    AlertKind.NEW: "Attention",
    AlertKind.CHANGED: "Attention",
    AlertKind.REMINDER: "Warning",
    AlertKind.PENDING_APPLY: "Accent",
    AlertKind.BACK_TO_NORMAL: "Good",
    AlertKind.APPLIED: "Good",
    AlertKind.GONE: "Default",
}


def _text(value: object, limit: int = FIELD_LIMIT) -> str:
    """Cloud text for a TextBlock or fact: one line, markdown neutralised, at most
    `limit` bytes once escaped and serialised."""
    return fit(one_line(value), limit, escape_teams)


def _block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _fact(title: str, value: str) -> dict[str, str]:
    return {"title": title, "value": value}


def _resource_facts(finding: Finding) -> list[dict[str, str]]:
    noun = kind_noun(finding.kind)
    facts = [_fact(noun[:1].upper() + noun[1:], _text(finding.id or "(no id)"))]
    if finding.name and finding.name != finding.id:
        facts.append(_fact("Name", _text(finding.name)))
    if finding.vpc_id:
        facts.append(_fact("VPC", _text(finding.vpc_id)))
    facts.append(_fact("Region", _text(finding.region)))
    facts.append(_fact("Account", _text(finding.account or "?")))
    return facts


def _actor_facts(actor: Actor, who: str) -> list[dict[str, str]]:
    facts = [_fact(who, _text(_who_text(actor)))]
    when = actor.event_time or "time not recorded"
    facts.append(_fact("When", f"{_text(when, 200)} ({_text(actor.event_name, 200)})"))
    origin = [_text(v, 300) for v in (actor.source_ip, actor.user_agent) if v]
    if origin:
        facts.append(_fact("From", ", ".join(origin)))
    return facts


def _lines(
    title: str, lines: list[str], room: int, steps: list[str | None] | None = None
) -> list[dict[str, Any]]:
    """A bold title over one monospace TextBlock per line, within `room` bytes.

    Lines are kept whole and in order while they fit (at most MAX_CHANGE_LINES); what
    is left out is counted in a last block, `… and N more changes`, whose room is kept
    from the start. `steps` (one next step or None per line) take only what the kept
    lines leave, first line first: a step never pushes a change out of the card.
    """
    if not lines:
        return []
    head = _block(f"**{title}**", spacing="Medium")
    more = _block(more_line(len(lines)), isSubtle=True, spacing="None")
    budget = room - item_cost(head)
    shown: list[dict[str, Any]] = []
    for index, line in enumerate(lines[:MAX_CHANGE_LINES]):
        block = _block(_text(line, LINE_LIMIT), fontType="Monospace", spacing="None")
        last = index == len(lines) - 1
        if item_cost(block) > budget - (0 if last else item_cost(more)):
            break
        shown.append(block)
        budget -= item_cost(block)
    omitted = len(lines) - len(shown)
    if omitted:
        budget -= item_cost(more)
    items = [head]
    spare_blocks = MAX_CHANGE_LINES - len(shown)
    for index, block in enumerate(shown):
        items.append(block)
        step = steps[index] if steps and index < len(steps) else None
        if step is None or spare_blocks <= 0:
            continue
        text = _text("  " + step, LINE_LIMIT)
        extra = _block(text, fontType="Monospace", isSubtle=True, spacing="None")
        if item_cost(extra) <= budget:
            items.append(extra)
            budget -= item_cost(extra)
            spare_blocks -= 1
    if omitted:
        items.append(_block(more_line(omitted), isSubtle=True, spacing="None"))
    return items


def teams_message(card: dict[str, Any]) -> dict[str, Any]:
    """The Workflows webhook body: a message with one Adaptive Card attachment."""
    return {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def render_alert_teams(
    alert: Alert, *, ref: str | None = None, cite: str | None = None, threaded: bool = False
) -> dict[str, Any]:
    """The Workflows webhook body: a message with one Adaptive Card attachment."""
    finding = alert.finding
    body: list[dict[str, Any]] = [
        _block(
            _text(alert_headline(alert)),
            size="Medium",
            weight="Bolder",
            color=_COLOR.get(alert.kind, "Default"),
        )
    ]
    cited = citation(alert, cite, threaded=threaded)
    if cited:
        body.append(_block(_text(cited), isSubtle=True, spacing="None"))
    facts = _resource_facts(finding)
    who = _ENDED_BY.get(alert.kind)
    actor = ended_by(alert) if who else finding.actor
    if actor is not None:
        facts += _actor_facts(actor, who or "Who")
    off = off_since_line(alert)
    if off:
        label, _, value = off.partition(": ")
        facts.append(_fact(label, _text(value)))
    if finding.reason:
        facts.append(_fact("Reason", _text(finding.reason)))
    body.append({"type": "FactSet", "facts": facts})
    if alert.kind in LISTS_CHANGES:
        opened = _open_count(finding.changes)
        if opened:
            sentence = _open_sentence(opened, finding.kind)
            body.append(_block(f"⚠ **Open to the world:** {sentence}", color="Attention"))
        # what on_drift: revert did, before the change list (which takes the room left)
        body += [_block(_text(line)) for line in revert_lines(finding)]
    footer = []
    if finding.spec:
        footer.append(f"Spec {_text(finding.spec)}")
    elif finding.status is Status.UNMANAGED and alert.kind in LISTS_CHANGES:
        footer.append("No spec manages this resource: write one, or delete it")
    if actor is not None and actor.event_id:
        footer.append(f"CloudTrail event {_text(actor.event_id)}")
    if ref:
        footer.append(f"Alert {_text(ref)}")
    tail = [_block(" · ".join(footer), isSubtle=True, size="Small")] if footer else []
    # Shown by clients that cannot draw the card, and read as markdown there too.
    text = render_alert_text(alert, ref=ref, cite=cite, threaded=threaded)
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "fallbackText": fit(text, FALLBACK_LIMIT, escape_teams),
        "msteams": {"width": "Full"},
    }
    # What the fixed parts leave is the room of the change lists.
    room = CARD_LIMIT - json_bytes(teams_message(card)) - sum(item_cost(item) for item in tail)
    if alert.kind in LISTS_CHANGES:
        if alert.kind is AlertKind.CHANGED:
            since = since_last_alert_lines(alert)
            if since:
                share = room // SINCE_SHARE if finding.changes else room
                items = _lines("Since the last alert", since, share)
                body += items
                room -= sum(item_cost(item) for item in items)
        if finding.changes:
            ordered = alarming_first(finding.changes)
            lines = [change_line(c) for c in ordered]
            count = len(lines)
            steps = [first_next_step(c) for c in ordered]
            body += _lines(f"{count} change{'' if count == 1 else 's'}", lines, room, steps)
    body += tail
    return teams_message(card)


def render_teams(finding: Finding) -> dict[str, Any]:
    """A bare finding as a Teams card (the first alert about it)."""
    return render_alert_teams(Alert(AlertKind.NEW, finding))
