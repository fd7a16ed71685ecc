"""Nothing lost: where an event goes when no function run could handle it.

An asynchronously invoked function (an EventBridge rule, the schedule, S3 or SNS) is
handed its event by Lambda's own queue; after the last retry Lambda drops it unless the
function has an on-failure destination. And EventBridge itself drops an event it could
not hand to Lambda at all (throttled past its retry policy, a permission missing) unless
the rule's target has a dead-letter queue. Chalice 1.34 can say neither, so `make
package` adds them here, to every such function and rule it finds in the packaged
template (no list of names: a function added to app.py gets them too):

- an `AWS::Lambda::EventInvokeConfig` per asynchronously invoked function: a bounded
  number of retries, a maximum event age, and the on-failure destination
  `EventsDeadLetterQueue`. Lambda sends there with the function's role, and refuses the
  config if that role may not: the committed policy grants it (calls.py,
  `DeliverFailedEvents`), and a role in the template without it (a function with a role
  of its own) gets a policy of its own for that one queue;
- `DeadLetterConfig` and `RetryPolicy` on every rule event (SAM writes them onto the
  `AWS::Events::Rule` target it generates);
- the policy of `RulesDeadLetterQueue`: events.amazonaws.com may send to it for exactly
  those rules (`aws:SourceArn`, the rules SAM names `<Function><Event>`).

An hour bounds both: past it the hourly sweep has read the resource again, so a late
event adds nothing but its actor, and that actor is kept in the dead-letter message.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.deploy.calls import EVENTS_DLQ, REVERT_FUNCTION

EVENTS_DLQ_ID = "EventsDeadLetterQueue"
RULES_DLQ_ID = "RulesDeadLetterQueue"
RULES_DLQ_POLICY_ID = "RulesDeadLetterQueuePolicy"
INVOKE_CONFIG_SUFFIX = "InvokeConfig"
DESTINATION_POLICY_NAME = "OnFailureDestination"

# SAM event types that Lambda invokes asynchronously (SQS, Kinesis and DynamoDB are polled
# synchronously; Api and HttpApi answer a caller)
ASYNC_EVENT_TYPES = frozenset(
    {"CloudWatchEvent", "EventBridgeRule", "Schedule", "S3", "SNS", "CloudWatchLogs", "IoTRule"}
)
# those whose trigger is an EventBridge rule with a Lambda target SAM generates
RULE_EVENT_TYPES = frozenset({"CloudWatchEvent", "EventBridgeRule", "Schedule"})

# Lambda's own retries of an event the function failed on (0..2; the functions are
# idempotent per event id, so a retry costs a read, never a second alert)
ASYNC_RETRIES = 2
ASYNC_MAX_AGE_SECONDS = 3600
# EventBridge's retries of an invocation Lambda refused (default 185 over 24 h)
RULE_RETRIES = 20
RULE_MAX_AGE_SECONDS = 3600


def _functions(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical, resource.get("Properties", {}))
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    ]


def _events(props: dict[str, Any], types: frozenset[str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, event)
        for name, event in sorted((props.get("Events") or {}).items())
        if isinstance(event, dict) and event.get("Type") in types
    ]


# Handlers our own functions invoke with InvocationType=Event: no trigger in the template
# says so, and a failed revert must land in the dead-letter queue like a failed event.
INVOKED_BY_OUR_FUNCTIONS = frozenset({REVERT_FUNCTION})


def _invoked_by_us(props: dict[str, Any]) -> bool:
    return str(props.get("Handler", "")).removeprefix("app.") in INVOKED_BY_OUR_FUNCTIONS


def async_functions(template: dict[str, Any]) -> list[str]:
    """Logical ids of the functions a trigger or one of ours invokes asynchronously, sorted."""
    return sorted(
        fn
        for fn, props in _functions(template)
        if _events(props, ASYNC_EVENT_TYPES) or _invoked_by_us(props)
    )


def rule_ids(template: dict[str, Any]) -> list[str]:
    """Logical ids of the rules SAM generates for the functions' rule events, sorted."""
    return sorted(
        logical + name
        for logical, props in _functions(template)
        for name, _ in _events(props, RULE_EVENT_TYPES)
    )


def _arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def add_on_failure_destinations(template: dict[str, Any]) -> list[str]:
    """An EventInvokeConfig sending to EventsDeadLetterQueue for each asynchronously invoked
    function; the functions' logical ids. Nothing without that queue in the template."""
    resources = template.get("Resources", {})
    if EVENTS_DLQ_ID not in resources:
        return []
    functions = async_functions(template)
    grant_destinations(template)
    for logical in functions:
        resources[logical + INVOKE_CONFIG_SUFFIX] = {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": logical},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": ASYNC_RETRIES,
                "MaximumEventAgeInSeconds": ASYNC_MAX_AGE_SECONDS,
                "DestinationConfig": {"OnFailure": {"Destination": _arn(EVENTS_DLQ_ID)}},
            },
        }
    return functions


def _grants_destination(role: dict[str, Any]) -> bool:
    """Whether a role's inline policies already allow sqs:SendMessage on the events DLQ."""
    for policy in role.get("Properties", {}).get("Policies") or []:
        statements = policy.get("PolicyDocument", {}).get("Statement") or []
        for statement in statements if isinstance(statements, list) else [statements]:
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action")
            actions = [actions] if isinstance(actions, str) else actions or []
            where = json.dumps(statement.get("Resource"))
            if "sqs:SendMessage" in actions and (EVENTS_DLQ in where or EVENTS_DLQ_ID in where):
                return True
    return False


def grant_destinations(template: dict[str, Any]) -> list[str]:
    """A policy allowing sqs:SendMessage on EventsDeadLetterQueue for each role of an
    asynchronously invoked function that lacks it; the roles' logical ids."""
    resources = template.get("Resources", {})
    granted = []
    for logical in async_functions(template):
        role_ref = resources[logical]["Properties"].get("Role")
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            continue  # SAM's own role, or one outside the template: not ours to change
        target = role_ref["Fn::GetAtt"]
        role_id = str(target[0] if isinstance(target, list) else target.split(".")[0])
        role = resources.get(role_id, {})
        if role.get("Type") != "AWS::IAM::Role" or _grants_destination(role):
            continue
        role.setdefault("Properties", {}).setdefault("Policies", []).append(
            {
                "PolicyName": DESTINATION_POLICY_NAME,
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DeliverFailedEvents",
                            "Effect": "Allow",
                            "Action": "sqs:SendMessage",
                            "Resource": _arn(EVENTS_DLQ_ID),
                        }
                    ],
                },
            }
        )
        granted.append(role_id)
    return sorted(set(granted))


def add_rule_dead_letters(template: dict[str, Any]) -> list[str]:
    """DeadLetterConfig and RetryPolicy on every rule event, and the queue policy that
    lets exactly those rules send to RulesDeadLetterQueue; the rules' logical ids."""
    resources = template.get("Resources", {})
    if RULES_DLQ_ID not in resources:
        return []
    for _, props in _functions(template):
        for _, event in _events(props, RULE_EVENT_TYPES):
            properties = event.setdefault("Properties", {})
            properties["DeadLetterConfig"] = {"Arn": _arn(RULES_DLQ_ID)}
            properties["RetryPolicy"] = {
                "MaximumRetryAttempts": RULE_RETRIES,
                "MaximumEventAgeInSeconds": RULE_MAX_AGE_SECONDS,
            }
    rules = rule_ids(template)
    if not rules:
        return []
    resources[RULES_DLQ_POLICY_ID] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [{"Ref": RULES_DLQ_ID}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "SetpointRulesDeadLetters",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": _arn(RULES_DLQ_ID),
                        "Condition": {"ArnEquals": {"aws:SourceArn": [_arn(r) for r in rules]}},
                    }
                ],
            },
        },
    }
    return rules
