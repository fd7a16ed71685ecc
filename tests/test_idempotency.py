"""One result per CloudTrail eventID, on a moto DynamoDB table shared with the state."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from chalice.local import LambdaContext

from chalicelib.aws import ClientCache
from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.idempotency import (
    IdempotentEvents,
    idempotency_from_env,
    idempotency_table,
    run_idempotent,
)
from chalicelib.state import DynamoStateStore
from tests.chat_server import ChatServer
from tests.conftest import REGION
from tests.state.world import TABLE, authorize, make_runtime, specs, state_table

WEB_SPEC = (
    "policies/web.yaml",
    "kind: security_group\nname: web\ndescription: Web\ningress:\n"
    "  - proto: tcp\n    ports: 443\n    cidr: 0.0.0.0/0\n",
)


@pytest.fixture
def estate(ec2: Any) -> dict[str, Any]:
    """A group in its spec, then port 22 opened by hand; the state table; an EC2 call counter."""
    table = state_table()
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="Web", VpcId=vpc)["GroupId"]
    for port in (443, 22):
        ec2.authorize_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0"
        )
    clients = ClientCache()
    calls: list[str] = []
    clients.client("ec2", REGION).meta.events.register(
        "before-call.ec2.*", lambda model, **_: calls.append(model.name)
    )
    return {"group": group, "table": table, "clients": clients, "ec2_calls": calls}


def _guard() -> IdempotentEvents:
    return IdempotentEvents(TABLE, dynamodb_client=lambda: boto3.client("dynamodb", REGION))


def _handler(runtime: Any) -> Any:
    return lambda payload: handle_cloudtrail_event(payload, runtime).as_log()


@pytest.mark.parametrize("shape", ["eventbridge", "raw record"])
def test_the_same_event_twice_is_read_and_posted_once(
    estate: dict[str, Any], chat_server: ChatServer, shape: str
) -> None:
    runtime = make_runtime(
        chat_server.url,
        specs(WEB_SPEC),
        state=DynamoStateStore(TABLE, estate["table"]),
        clients=estate["clients"],
    )
    envelope = authorize(estate["group"], 22)
    payload = envelope if shape == "eventbridge" else envelope["detail"]
    guard = _guard()
    # the context Chalice hands a handler: an invocation that dies stops counting as
    # "in progress" when its time is up
    context = LambdaContext("on_ec2_change", 256, max_runtime_ms=60_000)
    first = guard(payload, _handler(runtime), context)
    assert first["delivered"] == 1 and len(chat_server.received) == 1
    reads = len(estate["ec2_calls"])
    assert reads > 0

    second = guard(payload, _handler(runtime), context)
    assert len(estate["ec2_calls"]) == reads  # not read again
    assert len(chat_server.received) == 1
    assert second["skipped"][0]["reason"] == "duplicate"
    assert second["delivered"] == 0 and second["findings"] == []
    assert second["first_result"] == first


def test_the_record_and_its_envelope_are_the_same_event(
    estate: dict[str, Any], chat_server: ChatServer
) -> None:
    runtime = make_runtime(chat_server.url, specs(WEB_SPEC), clients=estate["clients"])
    envelope = authorize(estate["group"], 22)
    guard = _guard()
    guard(envelope, _handler(runtime))
    reads = len(estate["ec2_calls"])
    assert guard(envelope["detail"], _handler(runtime))["skipped"][0]["reason"] == "duplicate"
    assert len(estate["ec2_calls"]) == reads


def test_another_event_on_the_same_group_is_handled(
    estate: dict[str, Any], chat_server: ChatServer
) -> None:
    runtime = make_runtime(chat_server.url, specs(WEB_SPEC), clients=estate["clients"])
    guard = _guard()
    guard(authorize(estate["group"], 22), _handler(runtime))
    reads = len(estate["ec2_calls"])
    later = guard(authorize(estate["group"], 22), _handler(runtime))  # a new eventID
    assert len(estate["ec2_calls"]) > reads
    assert later["deduplicated"] == 1  # the state store keeps it quiet instead
    assert len(chat_server.received) == 1


def test_a_failed_delivery_is_not_remembered_so_the_retry_posts(
    estate: dict[str, Any], chat_server: ChatServer
) -> None:
    envelope = authorize(estate["group"], 22)
    guard = _guard()
    chat_server.fail_first(1)
    runtime = make_runtime(
        chat_server.url,
        specs(WEB_SPEC),
        state=DynamoStateStore(TABLE, estate["table"]),
        clients=estate["clients"],
    )
    with pytest.raises(DeliveryError):
        guard(envelope, _handler(runtime))
    assert chat_server.refused == 1 and chat_server.received == []
    reads = len(estate["ec2_calls"])
    retried = guard(envelope, _handler(runtime))  # Lambda's retry of the same event
    assert len(estate["ec2_calls"]) > reads
    assert retried["delivered"] == 1
    assert len(chat_server.received) == 1
    # and once it succeeded, a third delivery is a duplicate
    assert guard(envelope, _handler(runtime))["skipped"][0]["reason"] == "duplicate"
    assert len(chat_server.received) == 1


class LambdaTimedOut(BaseException):
    """Lambda stopping the process at its timeout: nothing after it runs, so Powertools
    cannot clean up its record (it does so only after an `Exception`)."""


def test_a_duplicate_while_the_first_is_in_progress_fails_and_its_retry_is_a_duplicate(
    estate: dict[str, Any], chat_server: ChatServer
) -> None:
    """EventBridge delivers the event again while the first invocation is still running.
    The second neither reads nor posts: it fails (so Lambda tries it again later), and
    by then the first has finished and its result stands. One alert in chat."""
    runtime = make_runtime(
        chat_server.url,
        specs(WEB_SPEC),
        state=DynamoStateStore(TABLE, estate["table"]),
        clients=estate["clients"],
    )
    envelope = authorize(estate["group"], 22)
    guard = _guard()
    context = LambdaContext("on_ec2_change", 256, max_runtime_ms=60_000)
    during: dict[str, int] = {}

    def first(payload: dict[str, Any]) -> dict[str, Any]:
        reads = len(estate["ec2_calls"])
        with pytest.raises(IdempotencyAlreadyInProgressError):
            guard(payload, _handler(runtime), context)  # the second delivery, meanwhile
        during.update(reads=len(estate["ec2_calls"]) - reads, posted=len(chat_server.received))
        return _handler(runtime)(payload)

    result = guard(envelope, first, context)
    assert during == {"reads": 0, "posted": 0}
    assert result["delivered"] == 1 and len(chat_server.received) == 1
    reads = len(estate["ec2_calls"])

    retried = guard(envelope, _handler(runtime), context)  # Lambda's retry of the second
    assert retried["skipped"][0]["reason"] == "duplicate"
    assert retried["first_result"] == result
    assert len(estate["ec2_calls"]) == reads and len(chat_server.received) == 1


def test_an_in_progress_record_left_by_a_timed_out_lambda_does_not_block_the_retry(
    estate: dict[str, Any], chat_server: ChatServer
) -> None:
    """The first invocation timed out mid-run, leaving its record "in progress". The
    record expires with the invocation's time, not after a day: the retry runs, reads
    and posts the alert once."""
    runtime = make_runtime(
        chat_server.url,
        specs(WEB_SPEC),
        state=DynamoStateStore(TABLE, estate["table"]),
        clients=estate["clients"],
    )
    envelope = authorize(estate["group"], 22)
    guard = _guard()

    def times_out(payload: dict[str, Any]) -> dict[str, Any]:
        raise LambdaTimedOut

    # its time is up as it starts: the in-progress record expires with it
    dying = LambdaContext("on_ec2_change", 256, max_runtime_ms=0)
    with pytest.raises(LambdaTimedOut):
        guard(envelope, times_out, dying)
    items = estate["table"].scan(TableName=TABLE)["Items"]
    (left,) = [i for i in items if i["pk"]["S"].startswith("idempotency#")]
    assert left["status"]["S"] == "INPROGRESS"  # what the timed-out Lambda left behind
    assert chat_server.received == []

    reads = len(estate["ec2_calls"])
    context = LambdaContext("on_ec2_change", 256, max_runtime_ms=60_000)
    retried = guard(envelope, _handler(runtime), context)
    assert retried["delivered"] == 1 and "first_result" not in retried
    assert len(estate["ec2_calls"]) > reads
    assert len(chat_server.received) == 1
    assert guard(envelope, _handler(runtime), context)["skipped"][0]["reason"] == "duplicate"
    assert len(chat_server.received) == 1


def test_records_share_the_state_table_with_its_key_and_expiry(
    estate: dict[str, Any], down_url: str
) -> None:
    runtime = make_runtime(down_url, specs(), clients=estate["clients"])
    runtime.notifiers = []
    _guard()(authorize(estate["group"], 443), _handler(runtime))
    items = estate["table"].scan(TableName=TABLE)["Items"]
    (item,) = [i for i in items if i["pk"]["S"].startswith("idempotency#")]
    assert item["status"]["S"] == "COMPLETED"
    assert int(item["expires_at"]["N"]) > 0


def test_without_a_guard_the_handler_runs_every_time() -> None:
    runs: list[dict[str, Any]] = []

    def handle(payload: dict[str, Any]) -> dict[str, Any]:
        runs.append(payload)
        return {}

    for _ in range(2):
        run_idempotent(None, {"detail": {"eventID": "e"}}, handle)
    assert len(runs) == 2


@pytest.mark.parametrize(
    ("env", "table"),
    [
        ({}, None),
        ({"SETPOINT_STATE": "memory://"}, None),
        ({"SETPOINT_STATE": "dynamodb://setpoint-state-dev"}, ("setpoint-state-dev", None)),
        (
            {"SETPOINT_STATE": "dynamodb://state?region=eu-west-1"},
            ("state", "eu-west-1"),
        ),
        (
            {"SETPOINT_STATE": "dynamodb://state", "SETPOINT_IDEMPOTENCY_TABLE": "idem"},
            ("idem", None),
        ),
        ({"SETPOINT_STATE": "memory://", "SETPOINT_IDEMPOTENCY_TABLE": "idem"}, ("idem", None)),
    ],
)
def test_which_table_the_environment_names(
    env: dict[str, str], table: tuple[str, str | None] | None
) -> None:
    assert idempotency_table(env) == table
    guard = idempotency_from_env(env)
    assert (guard.table_name if guard else None) == (table[0] if table else None)


def test_a_url_is_not_a_table_name() -> None:
    with pytest.raises(ConfigError, match="SETPOINT_IDEMPOTENCY_TABLE"):
        idempotency_table({"SETPOINT_IDEMPOTENCY_TABLE": "https://dynamodb/x"})


def test_importing_it_loads_neither_powertools_idempotency_nor_a_client() -> None:
    """app.py imports this module on every cold start; the layer is built on first use."""
    code = (
        "import sys, os; os.environ.pop('AWS_DEFAULT_REGION', None); "
        "os.environ.pop('AWS_REGION', None); "
        "from chalicelib.idempotency import idempotency_from_env; "
        "g = idempotency_from_env({'SETPOINT_STATE': 'dynamodb://setpoint-state'}); "
        "print(g is not None, 'aws_lambda_powertools.utilities.idempotency' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["True", "False"]
