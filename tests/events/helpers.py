"""Where the test records live, and a short way to write the refs we expect from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import ResourceRef

# Real and hand-written CloudTrail records, with their provenance in SOURCES.md beside them.
SAMPLES = Path(__file__).parents[1] / "fixtures" / "cloudtrail"
FIXTURES = Path(__file__).parent / "fixtures"


def load_sample(folder: str, name: str) -> Any:
    return json.loads((SAMPLES / folder / f"{name}.json").read_text())


# Published samples whose account the publisher shortened to "12345": real CloudTrail
# never does, and Setpoint rejects such a record (tests/events/test_samples.py shows it).
SHORTENED_ACCOUNT = frozenset(
    {"ec2/AuthorizeSecurityGroupIngress__8", "s3/PutBucketAcl__2", "s3/PutBucketAcl__3"}
)


def load_routable_sample(folder: str, name: str, account: str = "123456789012") -> Any:
    """A sample with a 12-digit account put back where the publisher shortened it, so a
    test can look at its other redactions."""
    payload = load_sample(folder, name)
    if f"{folder}/{name}" in SHORTENED_ACCOUNT:
        payload["account"] = account
        payload.get("detail", payload)["recipientAccountId"] = account
    return payload


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def sg(
    group_id: str | None = None,
    *,
    region: str,
    account: str | None = "123456789012",
    name: str | None = None,
    vpc_id: str | None = None,
    rule_ids: tuple[str, ...] = (),
) -> ResourceRef:
    return ResourceRef(
        kind=SECURITY_GROUP,
        account=account,
        region=region,
        id=group_id,
        name=name,
        vpc_id=vpc_id,
        rule_ids=rule_ids,
    )
