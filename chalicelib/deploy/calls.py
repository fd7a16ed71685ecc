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
from chalicelib.revert.table import Undo


@dataclass(frozen=True)
class Call:
    """One API operation as botocore sends it, and the IAM action that authorizes it."""

    service: str  # botocore service name: "ec2", "s3", "s3control", "sqs"...
    operation: str  # botocore operation name: "DescribeSecurityGroups"
    permission: str  # IAM action: "ec2:DescribeSecurityGroups"


# Reads the sweep makes besides the collectors', in every account it covers (the member
# accounts' read-only role needs them too): which regions an account has enabled, and
# who probably made drift no event announced (CloudTrail's event history, sweep.lookup).
SWEEP_READS: tuple[tuple[str, str], ...] = (
    ("DescribeRegions", "ec2:DescribeRegions"),
    ("LookupEvents", "cloudtrail:LookupEvents"),
)


def collector_calls() -> tuple[Call, ...]:
    """What is read in a watched account: every registered family's reads (never restated)."""
    reads = [*reads_from_table(SWEEP_READS), *(r for family in FAMILIES for r in family.reads())]
    calls = [Call(read.service, read.operation, read.permission) for read in reads]
    return tuple(dict.fromkeys(calls))


# -- the runtime's own calls, with the resources each may touch --------------------------

# Resources are pinned to the stack's own account and region with CloudFormation's pseudo
# parameters: the JSON policy holds them as `${AWS::...}` text, and `finish.py` turns every
# such string of the packaged roles into `Fn::Sub`. `${Name}` without `AWS::` is a parameter
# of infra/setpoint.yaml (`TEMPLATE_PARAMETERS`); nothing else may appear in `${}`.
PARTITION = "${AWS::Partition}"
REGION = "${AWS::Region}"
ACCOUNT = "${AWS::AccountId}"
ORGANIZATION_ID = "${OrganizationId}"
SPEC_VERIFY_KEY = "${SpecVerifyKey}"
# The settings SETPOINT_ROLE_NAME and SETPOINT_ACCOUNTS are stack parameters (their
# defaults from .chalice/config.json), so a deployment that overrides them gets a policy
# that follows: the role by name, the accounts as a list (a `LIST_PARAMETERS` name alone
# in a string becomes Fn::Split of the comma-separated parameter).
ROLE_NAME = "${RoleName}"
ACCOUNTS = "${Accounts}"
# SNS notifiers given on deploy (the Notifiers parameter) name their topics here as well
NOTIFIER_TOPICS = "${NotifierTopicArns}"
# the user's Terraform state bucket (a `terraform:s3://` source, and `on_state_write`)
TERRAFORM_STATE_BUCKET = "${TerraformStateBucket}"
# the CloudTrail Lake event data store the actor lookup queries (SETPOINT_ACTOR_LAKE_...)
LAKE_EVENT_DATA_STORE = "${ActorLakeEventDataStore}"
TEMPLATE_PARAMETERS = (
    "OrganizationId",
    "SpecVerifyKey",
    "RoleName",
    "Accounts",
    "NotifierTopicArns",
    "TerraformStateBucket",
    "ActorLakeEventDataStore",
)
LIST_PARAMETERS = ("Accounts", "NotifierTopicArns")
ARN = f"arn:{PARTITION}"
HERE = f"{REGION}:{ACCOUNT}"  # region:account of an ARN, for services that have both
Resources = Callable[["Names"], list[str]]
Conditions = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Names:
    """Names of one stage's resources, as the shared contract fixes them."""

    stage: str

    @property
    def table(self) -> str:
        return f"setpoint-state-{self.stage}"

    @property
    def spec_bucket(self) -> str:
        """The bucket infra/setpoint.yaml creates: named for this account, not any owner's."""
        return f"setpoint-specs-{ACCOUNT}-{self.stage}"

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
# infra/setpoint.yaml: Lambda's on-failure destination of the asynchronously invoked
# functions, and the dead-letter queue of the EventBridge rule targets
EVENTS_DLQ = "setpoint-events-dlq"
RULES_DLQ = "setpoint-rules-dlq"
# what the sweep digest lists (SETPOINT_DEAD_LETTER_QUEUE_URLS); the outbox's dead letters
# have their own section (failed deliveries)
DIGEST_DEAD_LETTER_QUEUES = (EVENTS_DLQ, RULES_DLQ, SWEEP_DLQ)
CONSUMED_QUEUES = (SWEEP_QUEUE, RECHECK_QUEUE, OUTBOX_QUEUE)
SENT_TO_QUEUES = (SWEEP_QUEUE, RECHECK_QUEUE, OUTBOX_QUEUE)


# the function that reverts (app.py `on_revert`), invoked asynchronously by the others
REVERT_FUNCTION = "on_revert"

# SETPOINT_REPORT_PREFIX's default (sweep/settings.py); another bucket or prefix needs its
# own grant
REPORT_PREFIX = "reports/"


def _queues(names: tuple[str, ...]) -> Resources:
    return lambda _: [f"{ARN}:sqs:{HERE}:{queue}" for queue in names]


@dataclass(frozen=True)
class Grant:
    """One policy statement: the calls it allows, on which resources, under which condition."""

    sid: str
    calls: tuple[Call, ...]
    resources: Resources
    why: str
    condition: Callable[[Names], Conditions] | None = None
    extra_actions: tuple[str, ...] = field(default=())  # needed by a service, not by our code
    # a condition of infra/setpoint.yaml: the packaged roles carry the statement only when it
    # holds (finish.py wraps it in Fn::If), e.g. a verify key is configured
    template_condition: str | None = None

    def actions(self) -> list[str]:
        return sorted({c.permission for c in self.calls} | set(self.extra_actions))


def _logs(names: Names) -> list[str]:
    group = f"{ARN}:logs:{HERE}:log-group:/aws/lambda/{names.function_prefix}*"
    return [group, f"{group}:log-stream:*"]


def _member_roles(_: Names) -> list[str]:
    return [f"{ARN}:iam::*:role/{ROLE_NAME}"]


def _in_organization(_: Names) -> Conditions:
    """Any account of the stack's organization (none when OrganizationId is empty)."""
    return {"StringEquals": {"aws:ResourceOrgID": ORGANIZATION_ID}}


def _in_accounts(_: Names) -> Conditions:
    """Only the accounts the Accounts parameter lists by id."""
    return {"StringEquals": {"aws:ResourceAccount": ACCOUNTS}}


def _own_account(_: Names) -> Conditions:
    """S3 ARNs name no account: the bucket must be ours, not a same-named one elsewhere."""
    return {"StringEquals": {"aws:ResourceAccount": ACCOUNT}}


def _parameters(names: Names) -> str:
    return f"{ARN}:ssm:{HERE}:parameter{names.parameter_path}*"


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
        _member_roles,
        "the read-only role in the organization's accounts (SETPOINT_ACCOUNTS not ids)",
        condition=_in_organization,
        template_condition="NoAccountIds",
    ),
    Grant(
        "AssumeReadOnlyRoleInAccounts",
        (Call("sts", "AssumeRole", "sts:AssumeRole"),),
        _member_roles,
        "the read-only role in the accounts SETPOINT_ACCOUNTS lists by id, and no other",
        condition=_in_accounts,
        template_condition="HasAccountIds",
    ),
    Grant(
        "ListSpecBucket",
        (
            Call("s3", "ListObjectsV2", "s3:ListBucket"),
            Call("s3", "ListObjectVersions", "s3:ListBucketVersions"),
        ),
        lambda n: [f"{ARN}:s3:::{n.spec_bucket}"],
        "spec source: which ETags moved; on a spec change, the version before it",
        condition=_own_account,
    ),
    Grant(
        "ReadSpecObjects",
        (
            Call("s3", "GetObject", "s3:GetObject"),
            Call("s3", "HeadObject", "s3:GetObject"),
        ),
        lambda n: [f"{ARN}:s3:::{n.spec_bucket}/*"],
        "spec source: the bundle, and an older version of it by id",
        condition=_own_account,
        extra_actions=("s3:GetObjectVersion",),
    ),
    Grant(
        "WriteSweepReports",
        (Call("s3", "PutObject", "s3:PutObject"),),
        lambda n: [f"{ARN}:s3:::{n.spec_bucket}/{REPORT_PREFIX}*"],
        "the sweep's report (latest, history, the fan-out's parts) under reports/ only; "
        "the digest's presigned link reads it with ReadSpecObjects",
        condition=_own_account,
    ),
    Grant(
        "VerifySpecs",
        (
            Call("kms", "DescribeKey", "kms:DescribeKey"),
            Call("kms", "Verify", "kms:Verify"),
        ),
        lambda _: [SPEC_VERIFY_KEY],
        "signed spec bundles: the one key SETPOINT_SPECS_VERIFY_KEY names (SpecVerifyKey)",
        template_condition="HasVerifyKey",
    ),
    Grant(
        "PublishToNotifierTopics",
        (Call("sns", "Publish", "sns:Publish"),),
        lambda _: [NOTIFIER_TOPICS],
        "SNS notifiers configured on deploy: the topics NotifierTopicArns lists, no other",
        template_condition="HasNotifierTopics",
    ),
    Grant(
        "ReadTerraformStates",
        (
            Call("s3", "ListObjectsV2", "s3:ListBucket"),
            Call("s3", "GetObject", "s3:GetObject"),
        ),
        lambda _: [
            f"{ARN}:s3:::{TERRAFORM_STATE_BUCKET}",
            f"{ARN}:s3:::{TERRAFORM_STATE_BUCKET}/*",
        ],
        "Terraform state as desired state: list and read the one bucket TerraformStateBucket "
        "names (read only; Terraform writes it), with the earlier versions a diff reads",
        extra_actions=("s3:GetObjectVersion", "s3:ListBucketVersions"),
        template_condition="HasTerraformStateBucket",
    ),
    Grant(
        "QueryCloudTrailLake",
        (
            Call("cloudtrail", "StartQuery", "cloudtrail:StartQuery"),
            Call("cloudtrail", "GetQueryResults", "cloudtrail:GetQueryResults"),
        ),
        lambda _: [LAKE_EVENT_DATA_STORE],
        "who probably made drift no event announced, from older history: SQL queries on the "
        "one event data store ActorLakeEventDataStore names (sweep.lake), and their results",
        template_condition="HasActorLakeEventDataStore",
    ),
    Grant(
        "ChatWebhookSecret",
        (Call("ssm", "GetParameter", "ssm:GetParameter"),),
        lambda n: [_parameters(n)],
        "the chat webhook URL (SecureString), re-read when chat answers 403/404/410",
    ),
    Grant(
        "DecryptChatWebhookSecret",
        (Call("kms", "Decrypt", "kms:Decrypt"),),
        lambda _: [f"{ARN}:kms:{HERE}:key/*"],
        "SSM decrypts the SecureString with aws/ssm on our behalf, for our parameters only",
        condition=lambda n: {
            "StringEquals": {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": _parameters(n)},
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
        lambda n: [f"{ARN}:dynamodb:{HERE}:table/{n.table}"],
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
        "HandOffReverts",
        (Call("lambda", "Invoke", "lambda:InvokeFunction"),),
        lambda n: [f"{ARN}:lambda:{HERE}:function:{n.function_prefix}{REVERT_FUNCTION}"],
        "a drift whose spec says on_drift: revert goes to the revert function, the only one "
        "whose role may write (the event functions' role stays read-only)",
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
    Grant(
        "DeliverFailedEvents",
        (),
        _queues((EVENTS_DLQ,)),
        "Lambda's on-failure destination: an event the function failed on after its "
        "retries is sent there with the function's role (no code of ours sends it)",
        extra_actions=("sqs:SendMessage",),
    ),
    Grant(
        "PeekDeadLetterQueues",
        (
            Call("sqs", "GetQueueAttributes", "sqs:GetQueueAttributes"),
            Call("sqs", "ReceiveMessage", "sqs:ReceiveMessage"),
        ),
        _queues(DIGEST_DEAD_LETTER_QUEUES),
        "the sweep digest counts what waits in the dead-letter queues and quotes a few "
        "messages; it never deletes them",
    ),
)


def revert_rows() -> tuple[Undo, ...]:
    """Every registered family's revert table: the only writes the revert role gets."""
    return tuple(row for family in FAMILIES if family.reverts for row in family.reverts())


def runtime_calls() -> tuple[Call, ...]:
    return tuple(call for grant in RUNTIME_GRANTS for call in grant.calls)


def all_calls() -> dict[tuple[str, str], str]:
    """(service, operation) -> IAM action, for every call the Lambda may make."""
    return {(c.service, c.operation): c.permission for c in (*collector_calls(), *runtime_calls())}
