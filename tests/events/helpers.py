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
