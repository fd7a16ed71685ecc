"""Our own fixtures (tests/events/fixtures/README.md) cover the shapes the samples lack."""

from __future__ import annotations

import pytest

from chalicelib.events.route import Routed, Skipped, SkipReason, route_payload
from chalicelib.model import ResourceRef
from tests.events.helpers import FIXTURES, load_fixture, sg

ACCOUNT = "111122223333"


def ref(group_id: str | None = None, **kwargs: object) -> ResourceRef:
    kwargs.setdefault("region", "eu-west-1")
    return sg(group_id, account=ACCOUNT, **kwargs)  # type: ignore[arg-type]


EXPECTED: dict[str, tuple[ResourceRef, ...] | SkipReason] = {
    "RevokeSecurityGroupIngress__ip_permissions": (ref("sg-0a1b2c3d4e5f60718"),),
    # the response names the same group again: still one ref
    "RevokeSecurityGroupEgress__ip_permissions": (ref("sg-0b2c3d4e5f6071829"),),
    "RevokeSecurityGroupIngress__rule_ids_only": (
        ref(None, rule_ids=("sgr-0123456789abcdef0", "sgr-0fedcba9876543210")),
    ),
    "ModifySecurityGroupRules": (ref("sg-0d4e5f60718293a4b"),),
    "UpdateSecurityGroupRuleDescriptionsIngress": (ref("sg-0f60718293a4b5c6d"),),
    "UpdateSecurityGroupRuleDescriptionsEgress__group_name": (ref(None, name="default"),),
    # tagged together with an instance: only the security group is ours
    "CreateTags__security_group": (ref("sg-0718293a4b5c6d7e8"),),
    "CreateTags__instance": SkipReason.NO_RESOURCE,
    "DeleteTags__security_group": (ref("sg-0718293a4b5c6d7e8"),),
    "DescribeSecurityGroups__read_only": SkipReason.READ_ONLY,
    "AuthorizeSecurityGroupIngress__cloudformation": (ref("sg-093a4b5c6d7e8f901"),),
    "EventBridge__AuthorizeSecurityGroupIngress": (
        ref("sg-0b5c6d7e8f9012345", region="us-east-1"),
    ),
}


def test_every_fixture_has_an_expectation() -> None:
    assert {path.stem for path in FIXTURES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_routes_as_expected(name: str) -> None:
    results = route_payload(load_fixture(name))

    assert len(results) == 1
    result, expected = results[0], EXPECTED[name]
    if isinstance(expected, SkipReason):
        assert isinstance(result, Skipped), result
        assert result.reason is expected
    else:
        assert isinstance(result, Routed), result
        assert result.refs == expected


def test_tags_on_other_resources_say_not_a_security_group() -> None:
    [result] = route_payload(load_fixture("CreateTags__instance"))

    assert isinstance(result, Skipped)
    assert "not a security group" in result.detail
    assert "i-0123456789abcdef0" in result.detail


def test_routed_record_keeps_the_actor_for_the_alert() -> None:
    [result] = route_payload(load_fixture("ModifySecurityGroupRules"))

    assert isinstance(result, Routed)
    assert result.actor.arn == "arn:aws:sts::111122223333:assumed-role/NetworkAdmin/deploy-bot"
    assert result.actor.event_name == "ModifySecurityGroupRules"
    assert result.actor.event_id == result.record.event_id == "0b1e9c2a-0004-4a5b-8c7d-000000000004"
    assert result.actor.via == "console"
