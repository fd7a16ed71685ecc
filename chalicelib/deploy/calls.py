"""Every AWS call the Lambda makes, keyed as botocore names it, with the IAM action it needs.

Two sources. Each registered family declares its collector's reads (`Family.reads`: the
botocore service and operation, and the permission of each), used here without restating
them. The runtime's own calls (specs, alert state, queues, the
chat secret, other accounts) are listed in `RUNTIME_GRANTS` together with the resources
they may touch. `policy.py` turns both into the Lambda's policy; a test runs the
collectors against moto, records every operation botocore sends, and fails on any that
is not in `collector_calls()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.kinds.family import reads_from_table
from chalicelib.kinds.registry import FAMILIES


@dataclass(frozen=True)
class Call:
    """One API operation as botocore sends it, and the IAM action that authorizes it."""

    service: str  # botocore service name: "ec2", "s3", "s3control", "sqs"...
    operation: str  # botocore operation name: "DescribeSecurityGroups"
    permission: str  # IAM action: "ec2:DescribeSecurityGroups"


# Reads the sweep makes besides the collectors', in every account it covers (the member
# accounts' read-only role needs them too): which regions an account has enabled.
SWEEP_READS: tuple[tuple[str, str], ...] = (("DescribeRegions", "ec2:DescribeRegions"),)


def collector_calls() -> tuple[Call, ...]:
    """What is read in a watched account: every registered family's reads (never restated)."""
    reads = [*reads_from_table(SWEEP_READS), *(r for family in FAMILIES for r in family.reads())]
    calls = [Call(read.service, read.operation, read.permission) for read in reads]
    return tuple(dict.fromkeys(calls))


# -- the runtime's own calls, with the resources each may touch --------------------------

ARN = "arn:aws"
Resources = Callable[["Names"], list[str]]


@dataclass(frozen=True)
class Names:
    """Names of one stage's resources, as the shared contract fixes them."""

    stage: str
    role_name: str = "setpoint-readonly"

    @property
    def table(self) -> str:
        return f"setpoint-state-{self.stage}"

    @property
    def spec_bucket_pattern(self) -> str:
        return f"setpoint-specs-*-{self.stage}"

    @property
    def parameter_path(self) -> str:
        return f"/setpoint/{self.stage}/"

    @property
    def function_prefix(self) -> str:
        return f"setpoint-{self.stage}-"


# Queue names are fixed in app.py's decorators: one deployment per account and region.
SWEEP_QUEUE = "setpoint-sweep"
SWEEP_DLQ = "setpoint-sweep-dlq"
RECHECK_QUEUE = "setpoint-recheck"
OUTBOX_QUEUE = "setpoint-outbox"
OUTBOX_DLQ = "setpoint-outbox-dlq"
CONSUMED_QUEUES = (SWEEP_QUEUE, RECHECK_QUEUE, OUTBOX_QUEUE)
SENT_TO_QUEUES = (SWEEP_QUEUE, RECHECK_QUEUE, OUTBOX_QUEUE)


def _queues(names: tuple[str, ...]) -> Resources:
    return lambda _: [f"{ARN}:sqs:*:*:{queue}" for queue in names]


@dataclass(frozen=True)
class Grant:
    """One policy statement: the calls it allows, on which resources, under which condition."""

    sid: str
    calls: tuple[Call, ...]
    resources: Resources
    why: str
    condition: Callable[[Names], dict[str, dict[str, str]]] | None = None
    extra_actions: tuple[str, ...] = field(default=())  # needed by a service, not by our code

    def actions(self) -> list[str]:
        return sorted({c.permission for c in self.calls} | set(self.extra_actions))


def _logs(names: Names) -> list[str]:
    group = f"{ARN}:logs:*:*:log-group:/aws/lambda/{names.function_prefix}*"
    return [group, f"{group}:log-stream:*"]


RUNTIME_GRANTS: tuple[Grant, ...] = (
    Grant(
        "Logs",
        (
            Call("logs", "CreateLogGroup", "logs:CreateLogGroup"),
            Call("logs", "CreateLogStream", "logs:CreateLogStream"),
            Call("logs", "PutLogEvents", "logs:PutLogEvents"),
        ),
        _logs,
        "Lambda writes the functions' logs (and EMF metrics) to their own log groups",
    ),
    Grant(
        "WhoAmI",
        (Call("sts", "GetCallerIdentity", "sts:GetCallerIdentity"),),
        lambda _: ["*"],
        "the account id findings are filed under",
    ),
    Grant(
        "ListOrganizationAccounts",
        (Call("organizations", "ListAccounts", "organizations:ListAccounts"),),
        lambda _: ["*"],
        "SETPOINT_ACCOUNTS=organization: the accounts a sweep fans out to",
    ),
    Grant(
        "AssumeReadOnlyRole",
        (Call("sts", "AssumeRole", "sts:AssumeRole"),),
        lambda n: [f"{ARN}:iam::*:role/{n.role_name}"],
        "the read-only role in member accounts, and only that role name",
    ),
    Grant(
        "ListSpecBucket",
        (
            Call("s3", "ListObjectsV2", "s3:ListBucket"),
            Call("s3", "ListObjectVersions", "s3:ListBucketVersions"),
        ),
        lambda n: [f"{ARN}:s3:::{n.spec_bucket_pattern}"],
        "spec source: which ETags moved; on a spec change, the version before it",
    ),
    Grant(
        "ReadSpecObjects",
        (
            Call("s3", "GetObject", "s3:GetObject"),
            Call("s3", "HeadObject", "s3:GetObject"),
        ),
        lambda n: [f"{ARN}:s3:::{n.spec_bucket_pattern}/*"],
        "spec source: the bundle, and an older version of it by id",
        extra_actions=("s3:GetObjectVersion",),
    ),
    Grant(
        "ChatWebhookSecret",
        (Call("ssm", "GetParameter", "ssm:GetParameter"),),
        lambda n: [f"{ARN}:ssm:*:*:parameter{n.parameter_path}*"],
        "the chat webhook URL (SecureString), re-read when chat answers 403/404/410",
    ),
    Grant(
        "DecryptChatWebhookSecret",
        (Call("kms", "Decrypt", "kms:Decrypt"),),
        lambda _: ["*"],
        "SSM decrypts the SecureString with aws/ssm on our behalf, for our parameters only",
        condition=lambda n: {
            "StringLike": {
                "kms:ViaService": "ssm.*.amazonaws.com",
                "kms:EncryptionContext:PARAMETER_ARN": (
                    f"{ARN}:ssm:*:*:parameter{n.parameter_path}*"
                ),
            }
        },
    ),
    Grant(
        "AlertState",
        (
            Call("dynamodb", "GetItem", "dynamodb:GetItem"),
            Call("dynamodb", "PutItem", "dynamodb:PutItem"),
            Call("dynamodb", "UpdateItem", "dynamodb:UpdateItem"),
            Call("dynamodb", "DeleteItem", "dynamodb:DeleteItem"),
            Call("dynamodb", "BatchGetItem", "dynamodb:BatchGetItem"),
        ),
        lambda n: [f"{ARN}:dynamodb:*:*:table/{n.table}"],
        "alert state, sweep runs and Powertools idempotency records (one table, key pk)",
    ),
    Grant(
        "SendToQueues",
        (
            Call("sqs", "SendMessage", "sqs:SendMessage"),
            Call("sqs", "SendMessageBatch", "sqs:SendMessage"),
        ),
        _queues(SENT_TO_QUEUES),
        "sweep shards, delayed re-checks, alerts no notifier could take yet",
    ),
    Grant(
        "ConsumeQueues",
        (
            Call("sqs", "ReceiveMessage", "sqs:ReceiveMessage"),
            Call("sqs", "DeleteMessage", "sqs:DeleteMessage"),
            Call("sqs", "GetQueueAttributes", "sqs:GetQueueAttributes"),
        ),
        _queues(CONSUMED_QUEUES),
        "the SQS event source mappings of on_sweep_shard, on_recheck and on_outbox",
    ),
    Grant(
        "PeekOutboxDeadLetters",
        (
            Call("sqs", "GetQueueAttributes", "sqs:GetQueueAttributes"),
            Call("sqs", "ReceiveMessage", "sqs:ReceiveMessage"),
        ),
        _queues((OUTBOX_DLQ,)),
        "the sweep digest counts and quotes undelivered alerts; it never deletes them",
    ),
)


def runtime_calls() -> tuple[Call, ...]:
    return tuple(call for grant in RUNTIME_GRANTS for call in grant.calls)


def all_calls() -> dict[tuple[str, str], str]:
    """(service, operation) -> IAM action, for every call the Lambda may make."""
    return {(c.service, c.operation): c.permission for c in (*collector_calls(), *runtime_calls())}
