"""Every EventBridge rule of the app matches only events AWS itself emits (`aws.*` sources).

PutEvents refuses an event whose `source` starts with `aws.` (NotAuthorizedForSourceException),
so no principal can put an event these rules match on a bus by hand: a forged "AWS API Call via
CloudTrail" event needs a source of its own, and no rule listens to one.
"""

from __future__ import annotations

from typing import Any

import app as lambda_app


def _patterns() -> dict[str, dict[str, Any]]:
    rules = {f"on_{name}_change": pattern for name, pattern in lambda_app.CHANGES.items()}
    rules["on_spec_change"] = lambda_app.SPEC_CHANGES
    rules["on_state_write"] = lambda_app.STATE_WRITES
    return rules


def test_every_rule_matches_only_aws_sources() -> None:
    patterns = _patterns()
    assert len(patterns) >= 7, sorted(patterns)
    for name, pattern in patterns.items():
        sources = pattern["source"]
        assert sources and all(s.startswith("aws.") for s in sources), (name, sources)


def test_every_rule_names_an_aws_detail_type() -> None:
    for name, pattern in _patterns().items():
        kinds = pattern["detail-type"]
        assert kinds and all(k.startswith(("AWS API Call", "Object Created")) for k in kinds), (
            name,
            kinds,
        )
