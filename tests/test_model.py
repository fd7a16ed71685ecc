"""The JSON contract wants the spec path alone; people read file:line."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Finding, Status, tag_pairs


@pytest.mark.parametrize(
    ("spec", "path", "line"),
    [
        ("policies/security_groups/web.yaml:12", "policies/security_groups/web.yaml", 12),
        ("s3://bucket/specs/web.yaml:3", "s3://bucket/specs/web.yaml", 3),
        ("policies/web.yaml", "policies/web.yaml", None),
        (None, None, None),
    ],
)
def test_spec_path_and_line(spec: str | None, path: str | None, line: int | None) -> None:
    finding = Finding(SECURITY_GROUP, "sg-1", "web", "1", "eu-west-1", Status.DRIFTED, spec=spec)
    assert (finding.spec_path, finding.spec_line) == (path, line)


def test_tags_are_sorted_pairs_so_findings_stay_hashable_and_plain_json() -> None:
    import json

    tags = tag_pairs({"team": "payments", "env": "prod"})
    finding = Finding(SECURITY_GROUP, "sg-1", "web", "1", "eu-west-1", Status.DRIFTED, tags=tags)
    assert finding.tags == (("env", "prod"), ("team", "payments"))
    assert finding == Finding(
        SECURITY_GROUP,
        "sg-1",
        "web",
        "1",
        "eu-west-1",
        Status.DRIFTED,
        tags=tag_pairs({"env": "prod", "team": "payments"}),
    )
    assert hash(finding) == hash(replace(finding))
    assert json.loads(json.dumps(finding.tags)) == [["env", "prod"], ["team", "payments"]]
    assert finding.tag_map == {"team": "payments", "env": "prod"}
    assert tag_pairs(None) == ()
