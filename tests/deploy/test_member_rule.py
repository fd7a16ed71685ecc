"""The member accounts' forwarding rule, as the guard sees it.

The guard judges only Setpoint's rules, told by name (`RULE_PREFIX`): a StackSet instance
names an unnamed rule `StackSet-…`, which the guard would skip and the sweep's ListRules
(NamePrefix) would never list. The rule is created on moto with the template's own
properties, so the test reads the name CloudFormation would give it.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib.aws import ClientCache
from chalicelib.kinds.guard import RULE_PREFIX
from chalicelib.kinds.guard.collector import GuardCollector
from tests.deploy.test_member_trust import Stack
from tests.deploy.test_policy import member_template

CENTRAL = "111122223333"


def forward_rule() -> dict[str, Any]:
    """The ForwardRule's properties as one stack instance resolves them."""
    stack = Stack(member_template(), CentralAccountId=CENTRAL, ExternalId="ext-0123456789")
    properties: dict[str, Any] = stack.resolve(
        stack.template["Resources"]["ForwardRule"]["Properties"]
    )
    return properties


def test_the_forwarding_rule_has_a_fixed_name_of_setpoints_own() -> None:
    name = forward_rule().get("Name")
    assert isinstance(name, str) and name.startswith(RULE_PREFIX)


def test_the_guards_sweep_lists_the_forwarding_rule_and_finds_it_whole(aws: None) -> None:
    rule = forward_rule()
    events = boto3.client("events", region_name="eu-west-1")
    events.put_rule(Name=str(rule["Name"]), EventPattern=json.dumps(rule["EventPattern"]))
    target = {k: v for k, v in rule["Targets"][0].items() if k in ("Id", "Arn")}
    events.put_targets(Rule=str(rule["Name"]), Targets=[target])
    clients = ClientCache()
    collector = GuardCollector(clients.factory("cloudtrail"), clients.factory("events"))
    (state,) = collector.list_rules("eu-west-1")
    assert state.name == rule["Name"] and state.enabled and state.targets == 1
