"""Nothing lost: on-failure destinations and rule dead-letter queues, on a template shaped
as Chalice writes it (tests/deploy/test_package.py checks the real packaged one).

The functions here are named as no real one is: what gets a destination is derived from
each function's triggers, never from a list of names.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from chalicelib.deploy.checkov_skips import add_checkov_skips
from chalicelib.deploy.dead_letters import (
    ASYNC_MAX_AGE_SECONDS,
    ASYNC_RETRIES,
    add_on_failure_destinations,
    add_rule_dead_letters,
)
from chalicelib.deploy.policy import render
from tests.deploy.sam import of_type, transformed
from tests.deploy.test_policy import member_template

QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}}


def function(handler: str, events: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Handler": f"app.{handler}",
            "Runtime": "python3.12",
            "CodeUri": "./deployment.zip",
            "Events": events,
        },
    }


def chalice_like() -> dict[str, Any]:
    pattern = {"source": ["aws.cloudtrail"], "detail-type": ["AWS API Call via CloudTrail"]}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "OnTrailChange": function(
                "on_trail_change",
                {
                    "OnTrailChangeEvent": {
                        "Type": "CloudWatchEvent",
                        "Properties": {"Pattern": pattern},
                    }
                },
            ),
            "Nightly": function(
                "nightly",
                {"NightlyEvent": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)"}}},
            ),
            "OnQueue": function(
                "on_queue",
                {
                    "OnQueueSqsEventSource": {
                        "Type": "SQS",
                        "Properties": {"Queue": {"Fn::GetAtt": ["WorkQueue", "Arn"]}},
                    }
                },
            ),
            "WorkQueue": copy.deepcopy(QUEUE),
            "EventsDeadLetterQueue": copy.deepcopy(QUEUE),
            "RulesDeadLetterQueue": copy.deepcopy(QUEUE),
        },
    }


def test_every_asynchronously_invoked_function_gets_an_on_failure_destination() -> None:
    template = chalice_like()
    assert add_on_failure_destinations(template) == ["Nightly", "OnTrailChange"]
    configs = of_type(template, "AWS::Lambda::EventInvokeConfig")
    assert {c["Properties"]["FunctionName"]["Ref"] for c in configs.values()} == {
        "Nightly",
        "OnTrailChange",
    }
    for config in configs.values():
        props = config["Properties"]
        assert props["Qualifier"] == "$LATEST"
        assert props["MaximumRetryAttempts"] == ASYNC_RETRIES
        assert props["MaximumEventAgeInSeconds"] == ASYNC_MAX_AGE_SECONDS
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]
        }


def test_a_function_its_queue_polls_gets_no_destination_it_would_never_use() -> None:
    template = chalice_like()
    add_on_failure_destinations(template)
    assert "OnQueueInvokeConfig" not in template["Resources"]


def test_every_rule_target_gets_a_dead_letter_queue_and_a_retry_policy_after_sam() -> None:
    """Through SAM's own transform: the rules it generates carry both, and the queue policy
    lets exactly those rules (and nothing else) send."""
    template = chalice_like()
    rules = add_rule_dead_letters(template)
    assert rules == ["NightlyNightlyEvent", "OnTrailChangeOnTrailChangeEvent"]
    cloud = transformed(template)
    generated = of_type(cloud, "AWS::Events::Rule")
    assert set(generated) == set(rules)
    for rule in generated.values():
        (target,) = rule["Properties"]["Targets"]
        dead_letters = {"Arn": {"Fn::GetAtt": ["RulesDeadLetterQueue", "Arn"]}}
        assert target["DeadLetterConfig"] == dead_letters
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600
    (policy,) = of_type(cloud, "AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [{"Ref": "RulesDeadLetterQueue"}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sources == [{"Fn::GetAtt": [rule, "Arn"]} for rule in rules]


def test_a_template_without_the_queues_is_left_as_it_was() -> None:
    template = chalice_like()
    for queue in ("EventsDeadLetterQueue", "RulesDeadLetterQueue"):
        del template["Resources"][queue]
    before = copy.deepcopy(template)
    assert add_on_failure_destinations(template) == []
    assert add_rule_dead_letters(template) == []
    assert template == before


def test_finishing_twice_gives_the_same_template() -> None:
    template = chalice_like()
    for _ in range(2):
        add_on_failure_destinations(template)
        add_rule_dead_letters(template)
        add_checkov_skips(template)
    once = chalice_like()
    add_on_failure_destinations(once)
    add_rule_dead_letters(once)
    add_checkov_skips(once)
    assert template == once


def skips_of(resource: dict[str, Any]) -> dict[str, str]:
    skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    return {s["id"]: s["comment"] for s in skips}


def test_a_dead_letter_skip_is_only_given_where_its_reason_holds() -> None:
    template = chalice_like()
    template["Resources"]["Plain"] = function("plain", {})
    template["Resources"]["Clear"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    add_on_failure_destinations(template)
    add_checkov_skips(template)
    resources = template["Resources"]
    assert "on-failure destination" in skips_of(resources["OnTrailChange"])["CKV_AWS_116"]
    assert "SQS event source mapping" in skips_of(resources["OnQueue"])["CKV_AWS_116"]
    # no destination, no queue: checkov's DLQ finding stands
    assert "CKV_AWS_116" not in skips_of(resources["Plain"])
    # SSE-SQS on: checkov's KMS-only reading is answered; off: it still fails
    assert "SqsManagedSseEnabled" in skips_of(resources["WorkQueue"])["CKV_AWS_27"]
    assert "CKV_AWS_27" not in skips_of(resources["Clear"])
    for resource in resources.values():
        assert all(len(comment) > 40 for comment in skips_of(resource).values())


def role(policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
            "Policies": [{"PolicyName": "DefaultRolePolicy", "PolicyDocument": policy}],
        },
    }


def test_a_role_of_its_own_without_the_grant_gets_it_for_the_events_queue_only() -> None:
    """Lambda refuses an on-failure destination its role may not send to, so a function
    with a role of its own (one the committed policy does not make) is granted that."""
    template = chalice_like()
    resources = template["Resources"]
    own = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:X"}]}
    resources["OnTrailChangeRole"] = role(own)
    resources["OnTrailChange"]["Properties"]["Role"] = {"Fn::GetAtt": ["OnTrailChangeRole", "Arn"]}
    committed = json.loads(render("prod"))
    resources["NightlyRole"] = role(copy.deepcopy(committed))
    resources["Nightly"]["Properties"]["Role"] = {"Fn::GetAtt": ["NightlyRole", "Arn"]}

    add_on_failure_destinations(template)
    add_on_failure_destinations(template)  # twice: still one grant

    policies = resources["OnTrailChangeRole"]["Properties"]["Policies"]
    assert [p["PolicyName"] for p in policies] == ["DefaultRolePolicy", "OnFailureDestination"]
    (statement,) = policies[1]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    # the committed policy already grants it (DeliverFailedEvents): nothing added
    (kept,) = resources["NightlyRole"]["Properties"]["Policies"]
    assert kept["PolicyDocument"] == committed


def test_the_member_accounts_forwarding_rule_keeps_what_the_central_bus_refuses() -> None:
    """infra/member-account.yaml: every rule's target has a dead-letter queue and a retry
    policy, the queue is encrypted, and only that rule may send to it."""
    member = member_template()
    resources = member["Resources"]
    rules = {k: r for k, r in resources.items() if r["Type"] == "AWS::Events::Rule"}
    assert rules
    for logical, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            queue_id = target["DeadLetterConfig"]["Arn"]["GetAtt"].split(".")[0]
            queue = resources[queue_id]["Properties"]
            assert queue["SqsManagedSseEnabled"] is True
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 3600
            (policy,) = [
                r["Properties"]
                for r in resources.values()
                if r["Type"] == "AWS::SQS::QueuePolicy"
                and r["Properties"]["Queues"] == [{"Ref": queue_id}]
            ]
            (statement,) = policy["PolicyDocument"]["Statement"]
            assert statement["Principal"] == {"Service": "events.amazonaws.com"}
            assert statement["Condition"] == {
                "ArnEquals": {"aws:SourceArn": {"GetAtt": f"{logical}.Arn"}}
            }
    for resource in resources.values():
        if resource["Type"] == "AWS::SQS::Queue":
            assert resource["Properties"].get("SqsManagedSseEnabled") is True
