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
  `EventsDeadLetterQueue` (the functions' role may send to it: calls.py);
- `DeadLetterConfig` and `RetryPolicy` on every rule event (SAM writes them onto the
  `AWS::Events::Rule` target it generates);
- the policy of `RulesDeadLetterQueue`: events.amazonaws.com may send to it for exactly
  those rules (`aws:SourceArn`, the rules SAM names `<Function><Event>`).

An hour bounds both: past it the hourly sweep has read the resource again, so a late
event adds nothing but its actor, and that actor is kept in the dead-letter message.
"""

from __future__ import annotations

from typing import Any

EVENTS_DLQ_ID = "EventsDeadLetterQueue"
RULES_DLQ_ID = "RulesDeadLetterQueue"
RULES_DLQ_POLICY_ID = "RulesDeadLetterQueuePolicy"
INVOKE_CONFIG_SUFFIX = "InvokeConfig"

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


def async_functions(template: dict[str, Any]) -> list[str]:
    """Logical ids of the functions some trigger invokes asynchronously, sorted."""
    return sorted(fn for fn, props in _functions(template) if _events(props, ASYNC_EVENT_TYPES))


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
