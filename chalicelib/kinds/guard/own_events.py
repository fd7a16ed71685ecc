"""Where calls on Setpoint's own parts name them: more guard rows of the event table.

Lambda's calls (`lambda.amazonaws.com`, logged with their API version in the name:
`PutFunctionConcurrency20171031`) name a function in `requestParameters.functionName`, as
a name or an ARN. EventBridge's `PutPermission` / `RemovePermission` name a bus in
`eventBusName` (the default bus when absent). A CloudTrail data event `PutObject` names a
bucket and key. IAM's calls on a role and S3's on a bucket are already routed by their own
families: the guard rides on those rows (`RIDERS`) for roles named like a Setpoint stack's
(`setpoint-…`, as its rules are) and for spec buckets (`setpoint-specs-…`), adding a ref
that its pipeline drops unless the setting names that role or bucket.

Which functions and roles are Setpoint's is a setting (`own.OwnParts`), read by the
pipeline, not here: these locators stay pure and find every function; the pipeline
reads only Setpoint's.
"""

from __future__ import annotations

import re

from chalicelib.events.fields import ci_get
from chalicelib.events.locators import EventRoute, Locator
from chalicelib.events.record import CloudTrailRecord
from chalicelib.kinds.guard import EVENTS_SOURCE, GUARD, RULE_PREFIX
from chalicelib.kinds.guard.events import partition_of
from chalicelib.model import GLOBAL_REGION, ResourceRef

LAMBDA_SOURCE = "lambda.amazonaws.com"
IAM_SOURCE = "iam.amazonaws.com"
S3_SOURCE = "s3.amazonaws.com"
DEFAULT_BUS = "default"
# every stack's spec bucket is `setpoint-specs-<account>-<stage>` (infra/setpoint.yaml);
# the pipeline then reads only the one SETPOINT_SPECS names
SPEC_BUCKET_PREFIX = "setpoint-specs-"

_FUNCTION_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"function:(?P<name>[A-Za-z0-9_-]{1,64})(?::[A-Za-z0-9$_-]+)?"
)
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ROLE_ARN = re.compile(r"arn:[a-z-]+:iam::\d{12}:role/(?:[\w+=,.@/-]*/)?[\w+=,.@-]{1,64}")
_BUS_ARN = re.compile(r"arn:[a-z-]+:events:[a-z0-9-]+:\d{12}:event-bus/[A-Za-z0-9._/-]+")


def function_arn(region: str, account: str, name: str) -> str:
    return f"arn:{partition_of(region)}:lambda:{region}:{account}:function:{name}"


def bus_arn(region: str, account: str, name: str = DEFAULT_BUS) -> str:
    return f"arn:{partition_of(region)}:events:{region}:{account}:event-bus/{name}"


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def is_function_arn(value: str | None) -> bool:
    return value is not None and _FUNCTION_ARN.fullmatch(value) is not None


def is_role_arn(value: str | None) -> bool:
    return value is not None and _ROLE_ARN.fullmatch(value) is not None


def is_bus_arn(value: str | None) -> bool:
    return value is not None and _BUS_ARN.fullmatch(value) is not None


def is_bucket_arn(value: str | None) -> bool:
    return value is not None and value.startswith("arn:aws:s3:::") and "/" not in value


def is_object_arn(value: str | None) -> bool:
    return value is not None and value.startswith("arn:aws:s3:::") and "/" in value


def function_ref(value: object, record: CloudTrailRecord) -> ResourceRef | None:
    if not isinstance(value, str):
        return None
    match = _FUNCTION_ARN.fullmatch(value)
    if match is not None:
        region, account, name = match["region"], match["account"], match["name"]
    else:
        region, account, name = record.aws_region or "", record.account or "", value
        if not region or not account or _FUNCTION_NAME.fullmatch(name) is None:
            return None
    return ResourceRef(GUARD, account, region, id=function_arn(region, account, name), name=name)


def _function() -> Locator:
    where = "requestParameters.functionName"

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        ref = function_ref(ci_get(record.request_parameters, "functionName"), record)
        return [ref] if ref is not None else []

    def explain(record: CloudTrailRecord) -> str:
        return f"{record.event_name}: no function name or ARN in {where}"

    return Locator((where,), find, explain)


def _bus() -> Locator:
    where = "requestParameters.eventBusName"

    def named(record: CloudTrailRecord) -> str:
        value = ci_get(record.request_parameters, "eventBusName")
        value = value if isinstance(value, str) and value else DEFAULT_BUS
        return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        name, region, account = named(record), record.aws_region, record.account
        if name != DEFAULT_BUS or not region or not account:
            return []
        return [ResourceRef(GUARD, account, region, id=bus_arn(region, account), name=name)]

    def explain(record: CloudTrailRecord) -> str:
        return (
            f"{record.event_name}: event bus {named(record)!r} is not the bus Setpoint's "
            f"rules use ({DEFAULT_BUS!r})"
        )

    return Locator((where,), find, explain)


def _role() -> Locator:
    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        name, account = ci_get(record.request_parameters, "roleName"), record.account
        if not isinstance(name, str) or not account or _ROLE_NAME.fullmatch(name) is None:
            return []
        if not name.startswith(RULE_PREFIX):
            return []  # not named by a Setpoint stack: IAM's own row speaks for it alone
        partition = partition_of(record.aws_region or "")
        arn = f"arn:{partition}:iam::{account}:role/{name}"
        return [ResourceRef(GUARD, account, GLOBAL_REGION, id=arn, name=name)]

    return Locator(("requestParameters.roleName",), find)


def _bucket() -> Locator:
    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        name, region = ci_get(record.request_parameters, "bucketName"), record.aws_region
        if not isinstance(name, str) or not region or _BUCKET.fullmatch(name) is None:
            return []
        if not name.startswith(SPEC_BUCKET_PREFIX):
            return []  # not a spec bucket: S3's own row speaks for it alone
        return [ResourceRef(GUARD, record.account, region, id=bucket_arn(name), name=name)]

    return Locator(("requestParameters.bucketName",), find)


def _object() -> Locator:
    where = "requestParameters.bucketName, requestParameters.key"

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        params = record.request_parameters
        bucket, key, region = ci_get(params, "bucketName"), ci_get(params, "key"), record.aws_region
        if not isinstance(bucket, str) or not isinstance(key, str) or not key or not region:
            return []
        if _BUCKET.fullmatch(bucket) is None:
            return []
        arn = f"{bucket_arn(bucket)}/{key}"
        return [ResourceRef(GUARD, record.account, region, id=arn, name=f"s3://{bucket}/{key}")]

    def explain(record: CloudTrailRecord) -> str:
        return f"{record.event_name}: no bucket and key in {where}"

    return Locator((where,), find, explain)


FUNCTION = _function()
# the function calls Setpoint watches, as CloudTrail names them (with the API version)
FUNCTION_CALLS: tuple[str, ...] = (
    "UpdateFunctionConfiguration20150331v2",
    "UpdateFunctionCode20150331v2",
    "DeleteFunction20150331",
    "PutFunctionConcurrency20171031",
    "DeleteFunctionConcurrency20171031",
    "RemovePermission20150331v2",
    "DeleteFunctionEventInvokeConfig",
)
# what a re-read cannot judge: the call itself, by anyone but the deploy, is the finding
FUNCTION_UNJUDGED: frozenset[str] = frozenset(
    {
        "UpdateFunctionConfiguration20150331v2",
        "UpdateFunctionCode20150331v2",
        "RemovePermission20150331v2",
        "DeleteFunctionEventInvokeConfig",
    }
)
ROLE_CALLS: tuple[str, ...] = (
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "UpdateAssumeRolePolicy",
)
ROLE_UNJUDGED: frozenset[str] = frozenset(ROLE_CALLS)
BUCKET_CALLS: tuple[str, ...] = (
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketVersioning",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
)
BUS_CALLS: tuple[str, ...] = ("PutPermission", "RemovePermission")
SPEC_WRITE_CALLS: tuple[str, ...] = ("PutObject",)

OWN_ROWS: tuple[EventRoute, ...] = (
    *(EventRoute(name, LAMBDA_SOURCE, GUARD, FUNCTION) for name in FUNCTION_CALLS),
    *(EventRoute(name, EVENTS_SOURCE, GUARD, _bus()) for name in BUS_CALLS),
    *(EventRoute(name, S3_SOURCE, GUARD, _object()) for name in SPEC_WRITE_CALLS),
)
RIDERS: tuple[EventRoute, ...] = (
    *(EventRoute(name, IAM_SOURCE, GUARD, _role()) for name in ROLE_CALLS),
    *(EventRoute(name, S3_SOURCE, GUARD, _bucket()) for name in BUCKET_CALLS),
)

# PutObject is a data event: a trail logging every bucket's would invoke the guard for every
# object written anywhere; the rule pattern takes only spec buckets' writes
DETAIL_FILTERS: dict[tuple[str, str], dict[str, object]] = {
    (S3_SOURCE, name): {"requestParameters": {"bucketName": [{"prefix": SPEC_BUCKET_PREFIX}]}}
    for name in SPEC_WRITE_CALLS
}
