"""What counts as logging Setpoint's management writes: basic and advanced selectors."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.kinds.guard.model import TrailState, guards, logs_management_writes

WRITES = {"Field": "readOnly", "Equals": ["false"]}
MANAGEMENT = {"Field": "eventCategory", "Equals": ["Management"]}


@pytest.mark.parametrize(
    ("basic", "advanced", "logs"),
    [
        ([], [], True),  # no selectors: CloudTrail's default, every management event
        ([{"ReadWriteType": "All", "IncludeManagementEvents": True}], [], True),
        ([{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}], [], True),
        ([{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}], [], False),
        # the Stratus "event selectors" attack: data events only
        ([{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False}], [], False),
        (
            [
                {
                    "IncludeManagementEvents": True,
                    "ExcludeManagementEventSources": ["iam.amazonaws.com"],
                }
            ],
            [],
            False,
        ),
        ([], [{"FieldSelectors": [MANAGEMENT]}], True),
        ([], [{"FieldSelectors": [MANAGEMENT, WRITES]}], True),
        ([], [{"FieldSelectors": [MANAGEMENT, {"Field": "readOnly", "Equals": ["true"]}]}], False),
        ([], [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}], False),
        (
            [],
            [
                {
                    "FieldSelectors": [
                        MANAGEMENT,
                        {"Field": "eventSource", "NotEquals": ["ec2.amazonaws.com"]},
                    ]
                }
            ],
            False,
        ),
        (
            [],
            [
                {
                    "FieldSelectors": [
                        MANAGEMENT,
                        {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
                    ]
                }
            ],
            True,
        ),
    ],
)
def test_selectors(basic: list[Any], advanced: list[Any], logs: bool) -> None:
    assert logs_management_writes(basic, advanced) is logs


def test_a_single_region_trail_guards_only_when_only_its_home_is_watched() -> None:
    trail = TrailState("arn", "t", "1", "us-east-1", False, True, True)
    assert not guards(trail, ())  # no regions given: every region must be covered
    assert guards(trail, ("us-east-1",))
    assert not guards(trail, ("us-east-1", "eu-west-1"))
