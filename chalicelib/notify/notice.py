"""A plain notice (an alert-storm summary) as a Slack message: pure, no I/O."""

from __future__ import annotations

from typing import Any

from chalicelib.notify.escape import escape_mrkdwn


def slack_notice(text: str) -> dict[str, Any]:
    """A notice as Block Kit, with the plain text as fallback."""
    first, _, rest = text.partition("\n")
    return {
        "text": text,
        "blocks": [
            _section(f":rotating_light: *{escape_mrkdwn(first)}*"),
            _section(escape_mrkdwn(rest)),
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
