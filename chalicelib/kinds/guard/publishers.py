"""Who wrote a spec: the configured publisher, or someone who could approve drift. Pure.

Specs decide what counts as drift, so whoever writes them can make any change "approved".
The stack's bucket policy lets only the publisher write the spec prefix; this is the guard
behind it, for when that policy is changed or the publisher setting is wider than meant.

Two sources name the writer. A CloudTrail data event `PutObject` (when a trail logs data
events for the spec bucket) names the principal: its ARN, or for an assumed role the role
(session issuer), is matched against SETPOINT_SPEC_PUBLISHERS (ARN globs). S3's own
"Object Created" event, which every push sends to `on_spec_change`, names only the
requester's account: a write from an account no publisher lives in is flagged there; a
write from the publisher's account can be told apart only by the data event.

One finding per spec location (`spec writes to s3://bucket/prefix`): drifted when someone
else wrote, in sync (back to normal) when a publisher writes again.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from chalicelib.kinds.guard import GUARD
from chalicelib.kinds.guard.own import ENV_SPEC_PUBLISHERS, OwnParts, publisher_accounts
from chalicelib.kinds.guard.own_compare import STACK
from chalicelib.model import GLOBAL_REGION, Actor, Change, Finding, ResourceRef, Status

WRITER_PATH = "writer"


def writes_name(own: OwnParts) -> str:
    prefix = f"/{own.spec_prefix}" if own.spec_prefix else ""
    return f"spec writes to s3://{own.spec_bucket}{prefix}"


def _ref(own: OwnParts, account: str | None) -> ResourceRef:
    return ResourceRef(GUARD, account, GLOBAL_REGION, name=writes_name(own))


# what becomes of the specs of an untrusted write, as the alert tells it
READ_ANYWAY = (
    "Setpoint cannot unwrite them, so they are read like any others (a signed bundle, "
    "SETPOINT_SPECS_VERIFY_KEY, would be refused instead)"
)
COMPARED_WITH_NOTHING = (
    "Nothing was compared against them on this write, so it closed no alert and made "
    "nothing pending; the next sweep reads them as they are (a signed bundle, "
    "SETPOINT_SPECS_VERIFY_KEY, would be refused instead)"
)


def _untrusted(
    own: OwnParts, account: str | None, who: str, where: str, consequence: str
) -> Finding:
    publishers = ", ".join(own.publishers)
    change = Change(
        "modify",
        WRITER_PATH,
        f"a publisher ({publishers})",
        who,
        f"{who} wrote {where}, and is not a spec publisher ({ENV_SPEC_PUBLISHERS}): specs "
        f"decide what is drift, so this write could approve any change. {consequence}. "
        "Check what it changed, and have the publisher push again to end this alert",
    )
    ref = _ref(own, account)
    return Finding(
        kind=GUARD,
        id=None,
        name=ref.name,
        account=account,
        region=GLOBAL_REGION,
        status=Status.DRIFTED,
        changes=(change,),
        spec=STACK,
    )


def judges(own: OwnParts, bucket: str, key: str) -> bool:
    """Whether a write to `bucket`/`key` is a spec write the guard judges at all."""
    return bool(own.publishers) and own.is_spec_bucket(bucket) and own.is_spec_key(key)


def writer_finding(
    own: OwnParts, bucket: str, key: str, actor: Actor, account: str | None
) -> Finding | None:
    """A data event's writer (a principal) against the publishers; None when not judged."""
    if not judges(own, bucket, key):
        return None
    if own.publishes(actor):
        ref = _ref(own, account)
        return Finding(
            kind=GUARD,
            id=None,
            name=ref.name,
            account=account,
            region=GLOBAL_REGION,
            status=Status.IN_SYNC,
            spec=STACK,
        )
    who = actor.arn or "an unknown principal"
    return _untrusted(own, account, who, f"s3://{bucket}/{key}", READ_ANYWAY)


def requester_finding(
    own: OwnParts, bucket: str, key: str, requester: str | None, account: str | None
) -> Finding | None:
    """An S3 "Object Created" event's requester (an account, or a service principal)
    against the publishers' accounts; None when it cannot tell (the publisher's account,
    or no requester in the event)."""
    if not judges(own, bucket, key) or not requester:
        return None
    if any(fnmatchcase(requester, glob) for glob in publisher_accounts(own.publishers)):
        return None
    who = f"account {requester}" if requester.isdigit() else requester
    return _untrusted(own, account, who, f"s3://{bucket}/{key}", COMPARED_WITH_NOTHING)
