"""The JSON contract wants the spec path alone; people read file:line."""

from __future__ import annotations

import pytest

from chalicelib.model import Finding, Kind, Status


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
    finding = Finding(
        Kind.SECURITY_GROUP, "sg-1", "web", "1", "eu-west-1", Status.DRIFTED, spec=spec
    )
    assert (finding.spec_path, finding.spec_line) == (path, line)
