"""Who made a change, as CloudTrail recorded it, for the "who changed what" line of an alert.

Every field is optional in practice (service principals have no ARN, exporters drop or
lower-case keys), so a missing or oddly typed value becomes None rather than an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.events.fields import ci_dig, ci_get, text, truthy
from chalicelib.events.record import CloudTrailRecord
from chalicelib.model import VIA_CLOUDTRAIL, VIA_USER_AGENT, Actor

# console.aws.amazon.com calls are logged as console.amazonaws.com, console.ec2.amazonaws.com…
_CONSOLE_AGENT = re.compile(
    r"(?:^|[\s\[(])(?:console(?:\.[a-z0-9-]+)*|signin)\.amazonaws\.com\b", re.IGNORECASE
)
_CLOUDFORMATION = "cloudformation.amazonaws.com"


def actor_from_record(record: CloudTrailRecord) -> Actor:
    """The caller of `record`, with the tool they used (`via`) when the record reveals it."""
    identity = record.user_identity
    invoked_by = text(ci_get(identity, "invokedBy"))
    session = ci_get(identity, "sessionContext")
    via, via_source = _via(record, invoked_by, session)
    return Actor(
        # AWS service principals have no ARN; the service that acted is the best name.
        arn=text(ci_get(identity, "arn")) or invoked_by,
        event_name=record.event_name,
        event_time=record.event_time,
        event_id=record.event_id,
        source_ip=record.source_ip,
        user_agent=record.user_agent,
        identity_type=text(ci_get(identity, "type")),
        session_issuer=text(ci_dig(session, "sessionIssuer", "arn")),
        via=via,
        account=record.account,
        region=record.aws_region,
        via_source=via_source,
    )


def _via(
    record: CloudTrailRecord, invoked_by: str | None, session: Any
) -> tuple[str | None, str | None]:
    """(the tool behind the call, where that came from: VIA_CLOUDTRAIL for fields CloudTrail
    sets, VIA_USER_AGENT for the userAgent, which the caller writes).

    Automation wins over console, as it made the actual call.
    """
    agent = record.user_agent or ""
    lowered = agent.lower()
    if invoked_by == _CLOUDFORMATION:
        return "cloudformation", VIA_CLOUDTRAIL
    if "cloudformation" in lowered:
        return "cloudformation", VIA_USER_AGENT
    if "terraform" in lowered:
        return "terraform", VIA_USER_AGENT
    # set by CloudTrail, not by the caller
    top_level = truthy(record.raw.get("sessionCredentialFromConsole"))
    nested = isinstance(session, Mapping) and truthy(
        ci_get(session, "sessionCredentialFromConsole")
    )
    if _CONSOLE_AGENT.search(agent) or nested or (top_level and lowered.startswith("aws internal")):
        return "console", VIA_CLOUDTRAIL if top_level or nested else VIA_USER_AGENT
    return None, None
