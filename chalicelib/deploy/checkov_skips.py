"""checkov's remaining findings on the packaged template, each answered where it applies.

`make test` runs checkov over build/package/sam.yaml. A check that does not fit Setpoint
is skipped inline, on the resource, with its reason (`Metadata: checkov: skip:`), never in
a global list: a reviewer reads the reason beside the resource, and a new resource of the
same type is checked until it earns the same reason. The resources the merge template
declares carry their skips there (infra/setpoint.yaml); the functions Chalice generates
get theirs here, and only when what the reason claims is true of that function (a DLQ
skip needs the on-failure destination or the queue it names; an SSE skip needs SSE on).
"""

from __future__ import annotations

from typing import Any

from chalicelib.deploy.dead_letters import INVOKE_CONFIG_SUFFIX

# every function
FUNCTION_SKIPS: dict[str, str] = {
    "CKV_AWS_117": (
        "Not in a VPC: the functions reach only AWS APIs and the chat webhook, no resource "
        "inside a VPC; a VPC would add NAT gateways or a dozen interface endpoints and no "
        "control over what they call (their role decides that)."
    ),
    "CKV_AWS_115": (
        "No reserved concurrency: it would take from the account's unreserved pool (a new "
        "account has 10) and throttle events into the dead-letter queues during a burst. "
        "The sweep's queue trigger is capped by SweepConcurrency; alert storms are folded "
        "by CoalesceSeconds and StormLimit."
    ),
    "CKV_AWS_173": (
        "Environment encrypted at rest with Lambda's AWS managed key. It holds settings and "
        "resource names only: the webhook URL and bot tokens are SSM SecureStrings read at "
        "run time (docs/security.md), so a customer managed key would protect no secret."
    ),
}
ASYNC_DLQ_SKIP = (
    "CKV_AWS_116",
    "The on-failure destination (AWS::Lambda::EventInvokeConfig to setpoint-events-dlq, "
    "chalicelib/deploy/dead_letters.py) replaces the older DeadLetterQueue: it keeps the "
    "event, the error and the attempts. checkov reads only DeadLetterQueue.",
)
POLLED_DLQ_SKIP = (
    "CKV_AWS_116",
    "Invoked synchronously by its SQS event source mapping, where a dead-letter queue does "
    "not apply: a failed message returns to its queue, whose redrive policy (or retention, "
    "for setpoint-recheck) decides what happens to it.",
)
QUEUE_SSE_SKIP = (
    "CKV_AWS_27",
    "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled). checkov reads only "
    "KmsMasterKeyId; a KMS key would need key policy grants for EventBridge and Lambda "
    "to send dead letters and protects nothing the functions' role could not read.",
)


def _skip(resource: dict[str, Any], check: str, comment: str) -> None:
    skips = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
    skips[:] = [s for s in skips if s.get("id") != check]
    skips.append({"id": check, "comment": comment})


def add_checkov_skips(template: dict[str, Any]) -> list[str]:
    """Skip, with its reason, each check that does not fit a resource; "Id: CHECK" added."""
    resources = template.get("Resources", {})
    added = []
    for logical, resource in sorted(resources.items()):
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            skips = list(FUNCTION_SKIPS.items())
            events = [e for e in (props.get("Events") or {}).values() if isinstance(e, dict)]
            if logical + INVOKE_CONFIG_SUFFIX in resources:
                skips.append(ASYNC_DLQ_SKIP)
            elif events and all(e.get("Type") == "SQS" for e in events):
                skips.append(POLLED_DLQ_SKIP)
        elif resource.get("Type") == "AWS::SQS::Queue" and props.get("SqsManagedSseEnabled"):
            skips = [QUEUE_SSE_SKIP]
        else:
            continue
        for check, comment in skips:
            _skip(resource, check, comment)
            added.append(f"{logical}: {check}")
    return added
