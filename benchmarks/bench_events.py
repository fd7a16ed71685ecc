"""Measure the event path and write docs/performance.md (`make bench`).

1. AWS requests per CloudTrail event, by operation, counted with botocore `before-call`
   hooks: on the session handed to `ClientCache`, and process-wide (botocore's built-in
   handler list) to catch clients made elsewhere (Powertools' SSM client).
   Specs come from S3 as deployed: the Lambda lists the prefix on every event and GETs
   only objects whose ETag changed.
2. Our own time per event, in process with moto: handler wall time minus the time spent
   inside moto's backend (botocore `before-send` → `before-parse`) and minus the local
   webhook's HTTP round trip.
3. Cold-start import time of `app` in fresh interpreters, and the heaviest imports.
4. The wall time of `setpoint demo`.

moto is not AWS: the latencies here are not AWS latencies. Request counts carry over.
This is a script, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: `python benchmarks/bench_events.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.indexed_events import (  # noqa: E402
    DEFAULT_SIZES,
    IndexedRun,
    measure_indexed,
    render_indexed,
)
from benchmarks.report_sections import demote_headings, git_commit, write_section  # noqa: E402

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "setpoint-specs-bench"
CHAT_PARAM = "/setpoint/bench/chat-webhook-url"

TARGET_REQUESTS = 3
TARGET_OWN_MS = 25.0
TARGET_IMPORT_MS = 700.0
TARGET_DEMO_S = 120.0

PACKAGES = (
    "boto3",
    "botocore",
    "moto",
    "chalice",
    "aws-lambda-powertools",
    "PyYAML",
    "jsonschema",
)

# The environment the in-process measurements run in: moto, never a real account.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
CLEARED_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "SETPOINT_SPECS",
    "SETPOINT_CHAT_URL",
    "SETPOINT_CHAT_URL_PARAM",
    "SETPOINT_REGIONS",
)


# --------------------------------------------------------------------------------------
# Small helpers


def ms(seconds: float) -> float:
    return seconds * 1000.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def fmt_ops(ops: Counter[str]) -> str:
    if not ops:
        return "none"
    return ", ".join(f"{op} ×{n}" if n > 1 else op for op, n in sorted(ops.items()))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Machine


@dataclasses.dataclass
class Machine:
    cpu: str
    cores: int
    python: str
    system: str
    packages: dict[str, str]
    commit: str
    date: str
    load: tuple[float, float, float]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> Machine:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    return Machine(
        cpu=cpu_model(),
        cores=os.cpu_count() or 0,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        system=platform.platform(),
        packages=packages,
        commit=git_commit(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        load=os.getloadavg(),
    )


# --------------------------------------------------------------------------------------
# Counting and timing AWS calls with botocore's event hooks


class AwsMeter:
    """Counts and times AWS calls through botocore's event system.

    `attach(session)` registers hooks on one boto3 session (the one `ClientCache` gets):
    `before-call`/`after-call` bound a whole API call; `before-send` (registered first, so
    it runs before moto's own `before-send` stub) to `before-parse` bounds the transport,
    which is moto's backend in process and the network round trip on AWS. Signing,
    serialising and parsing stay outside that window: they are client-side CPU, ours.

    `install_global()` also counts calls from clients made on any later session (botocore
    copies `BUILTIN_HANDLERS` into every new session), so calls that bypass `ClientCache`
    show up too. Nothing is counted outside `window()`.
    """

    def __init__(self) -> None:
        self.active = False
        self.ops: Counter[str] = Counter()  # via the attached session (ClientCache)
        self.all_ops: Counter[str] = Counter()  # any client in the process
        self.call_s = 0.0
        self.transport_s = 0.0
        self._call_t0: float | None = None
        self._send_t0: float | None = None
        self._global_entry: tuple[str, Callable[..., None]] | None = None

    @staticmethod
    def _op(model: Any) -> str:
        return f"{model.service_model.service_name}:{model.name}"

    def attach(self, session: Any) -> None:
        events = session.events
        events.register("before-call", self._before_call)
        events.register("after-call", self._after_call)
        events.register("after-call-error", self._after_call)
        events.register_first("before-send", self._before_send)
        events.register("before-parse", self._end_send)
        events.register("needs-retry", self._end_send)  # a failed send skips before-parse

    def install_global(self) -> None:
        from botocore import handlers

        self._global_entry = ("before-call", self._global_before_call)
        handlers.BUILTIN_HANDLERS.append(self._global_entry)

    def uninstall_global(self) -> None:
        from botocore import handlers

        if self._global_entry in handlers.BUILTIN_HANDLERS:
            handlers.BUILTIN_HANDLERS.remove(self._global_entry)
        self._global_entry = None

    def reset(self) -> None:
        self.ops = Counter()
        self.all_ops = Counter()
        self.call_s = self.transport_s = 0.0
        self._call_t0 = self._send_t0 = None

    @contextmanager
    def window(self) -> Iterator[AwsMeter]:
        self.reset()
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    @property
    def outside(self) -> Counter[str]:
        """Calls made by clients that did not come from the attached session."""
        return self.all_ops - self.ops

    # hooks: they must return None (a value from before-send would be taken as a response)

    def _global_before_call(self, model: Any = None, **_: Any) -> None:
        if self.active and model is not None:
            self.all_ops[self._op(model)] += 1

    def _before_call(self, model: Any = None, **_: Any) -> None:
        if self.active and model is not None:
            self.ops[self._op(model)] += 1
            self._call_t0 = time.perf_counter()

    def _after_call(self, **_: Any) -> None:
        if self.active and self._call_t0 is not None:
            self.call_s += time.perf_counter() - self._call_t0
            self._call_t0 = None

    def _before_send(self, **_: Any) -> None:
        if self.active:
            self._send_t0 = time.perf_counter()

    def _end_send(self, **_: Any) -> None:
        if self.active and self._send_t0 is not None:
            self.transport_s += time.perf_counter() - self._send_t0
            self._send_t0 = None


class TimingOpener:
    """urllib's opener, timing each webhook POST from request to the response's last byte."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener()
        self.http_s = 0.0
        self.posts = 0

    def open(
        self, fullurl: urllib.request.Request, data: None = None, timeout: float = 10.0
    ) -> Any:
        start = time.perf_counter()
        try:
            with self._opener.open(fullurl, timeout=timeout) as response:
                body = response.read()
        finally:
            self.http_s += time.perf_counter() - start
            self.posts += 1
        return io.BytesIO(body)


# --------------------------------------------------------------------------------------
# The estate, its specs in S3, and CloudTrail records


@dataclasses.dataclass
class Estate:
    vpc: str
    web: str  # ingress from bastion: reading it costs one more describe (peer names)
    bastion: str  # CIDR rules only
    db: str


def build_estate(ec2: Any) -> Estate:
    """The demo's small VPC: web (443 from anywhere, 22 from bastion), bastion, db."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]

    def group(name: str, description: str) -> str:
        response = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc)
        return str(response["GroupId"])

    web = group("web", "Public web tier")
    bastion = group("bastion", "SSH jump host")
    db = group("db", "PostgreSQL")
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "UserIdGroupPairs": [{"GroupId": bastion}],
            },
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=bastion,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "office"}],
            }
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": web}],
            }
        ],
    )
    return Estate(vpc=vpc, web=web, bastion=bastion, db=db)


def filler_group(index: int, vpc: str) -> dict[str, Any]:
    """A DescribeSecurityGroups item for a group that only exists as a spec (catalog size)."""
    return {
        "GroupId": f"sg-{index + 0x100000:017x}",
        "GroupName": f"svc-{index:04d}",
        "VpcId": vpc,
        "Description": f"Service {index}",
        "OwnerId": ACCOUNT,
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "internal HTTPS"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 8000 + index % 100,
                "ToPort": 8000 + index % 100,
                "IpRanges": [{"CidrIp": f"10.{index % 250}.0.0/16"}],
            },
        ],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        "Tags": [{"Key": "team", "Value": f"team-{index % 7}"}],
    }


def upload_specs(ec2: Any, s3: Any, prefix: str, total: int, vpc: str) -> int:
    """Import-style specs for every live group, padded with filler specs to `total` objects."""
    from chalicelib.kinds.security_group.collector import (
        SecurityGroupCollector,
        parse_security_group,
    )
    from chalicelib.kinds.security_group.writer import render_security_group_spec, spec_filename

    states = SecurityGroupCollector(lambda region: ec2).list_region(REGION)
    used: set[str] = set()
    count = 0
    for state in states:
        name = spec_filename(state)
        if name in used:
            name = f"{name.removesuffix('.yaml')}.{state.group_id}.yaml"
        used.add(name)
        body = render_security_group_spec(state, group_names=state.peer_names)
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/security_groups/{REGION}/{name}", Body=body)
        count += 1
    for index in range(max(0, total - count)):
        state = parse_security_group(filler_group(index, vpc), REGION)
        body = render_security_group_spec(state, group_names={})
        key = f"{prefix}/security_groups/{REGION}/{spec_filename(state)}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        count += 1
    return count


def record_rule(port: int, cidr: str) -> dict[str, Any]:
    return {
        "ipProtocol": "tcp",
        "fromPort": port,
        "toPort": port,
        "groups": {},
        "ipRanges": {"items": [{"cidrIp": cidr}]},
        "ipv6Ranges": {},
        "prefixListIds": {},
    }


def envelope(event_name: str, group_id: str, port: int, response: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge envelope CloudTrail delivers for one security-group call."""
    from chalicelib.cli.demo import cloudtrail_envelope

    request = {"groupId": group_id, "ipPermissions": {"items": [record_rule(port, "0.0.0.0/0")]}}
    return cloudtrail_envelope(event_name, "ec2.amazonaws.com", request, "alice", response)


class Actor:
    """Someone changing a group by hand (their calls are not ours: they are not metered)."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    @staticmethod
    def _permissions(port: int) -> list[dict[str, Any]]:
        return [
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ]

    def open_to_world(self, group_id: str, port: int) -> dict[str, Any]:
        """Authorize tcp/`port` from 0.0.0.0/0 (drift); the record CloudTrail would send."""
        result = self.ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=self._permissions(port)
        )
        rule_id = result["SecurityGroupRules"][0]["SecurityGroupRuleId"]
        response = {
            "_return": True,
            "securityGroupRuleSet": {
                "items": [{"groupId": group_id, "securityGroupRuleId": rule_id, "isEgress": False}]
            },
        }
        return envelope("AuthorizeSecurityGroupIngress", group_id, port, response)

    def revert(self, group_id: str, port: int) -> dict[str, Any]:
        """Revoke it again (back to the spec); the record CloudTrail would send."""
        self.ec2.revoke_security_group_ingress(
            GroupId=group_id, IpPermissions=self._permissions(port)
        )
        return envelope("RevokeSecurityGroupIngress", group_id, port, {"_return": True})


# --------------------------------------------------------------------------------------
# 1 and 2: in process, with moto


@dataclasses.dataclass
class RequestRow:
    case: str
    ops: Counter[str]
    outside: Counter[str]
    status: str
    target: bool  # whether the ≤ 3 target applies (specs cached)
    own_s: float  # handler wall time minus time inside moto (a webhook post included)

    @property
    def total(self) -> int:
        return sum(self.ops.values()) + sum(self.outside.values())


@dataclasses.dataclass
class EventTiming:
    kind: str  # "drift" or "in_sync"
    total_s: float
    transport_s: float
    call_s: float
    webhook_s: float
    requests: int

    @property
    def own_s(self) -> float:
        return self.total_s - self.transport_s - self.webhook_s

    @property
    def own_strict_s(self) -> float:
        """Own time also without botocore's client-side work (signing, parsing)."""
        return self.total_s - self.call_s - self.webhook_s


@dataclasses.dataclass
class TimingRun:
    specs: int
    events: list[EventTiming]
    list_pages: int
    ops: Counter[str]


@dataclasses.dataclass
class InProcessResults:
    requests: list[RequestRow]
    headline: TimingRun
    scaling: list[TimingRun]


def expect(outcome: Any, status: str, delivered: int, what: str) -> None:
    """The scenario must do what it says, or the numbers measure something else."""
    got = [f.status.value for f in outcome.findings]
    if got != [status] or outcome.delivered != delivered or outcome.errors:
        raise SystemExit(
            f"benchmark scenario broke: {what}: expected [{status}] with {delivered} "
            f"delivered, got {got} with {outcome.delivered} delivered, errors {outcome.errors}"
        )


def measure_requests(
    meter: AwsMeter, actor: Actor, estate: Estate, s3: Any, webhook: str, prefix: str
) -> list[RequestRow]:
    """Requests for one event: cold (runtime built as app.get_runtime does), then warm."""
    import boto3
    from aws_lambda_powertools.utilities import parameters

    from chalicelib.handlers import handle_cloudtrail_event
    from chalicelib.runtime import runtime_from_env

    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=CHAT_PARAM, Value=webhook, Type="SecureString", Overwrite=True
    )
    parameters.clear_caches()
    env = {
        "SETPOINT_SPECS": f"s3://{BUCKET}/{prefix}",
        "SETPOINT_CHAT_URL_PARAM": CHAT_PARAM,
        "SETPOINT_CHAT_FORMAT": "slack",
        "SETPOINT_REGIONS": REGION,
    }
    session = boto3.session.Session()
    meter.attach(session)
    rows: list[RequestRow] = []

    def run(case: str, event: dict[str, Any], status: str, target: bool, runtime: Any) -> Any:
        with meter.window():
            start = time.perf_counter()
            if runtime is None:
                runtime = runtime_from_env(env, session)
            outcome = handle_cloudtrail_event(event, runtime)
            own = time.perf_counter() - start - meter.transport_s
        # with alert state, a drift posts its alert and the fix posts "back to normal"
        expect(outcome, status, 1, case)
        rows.append(RequestRow(case, meter.ops.copy(), meter.outside.copy(), status, target, own))
        return runtime

    event = actor.open_to_world(estate.web, 22)
    runtime = run(
        "first event of a container (cold: runtime built, specs fetched), web",
        event,
        "drifted",
        False,
        None,
    )
    run(
        "warm, back in sync, web (references bastion)",
        actor.revert(estate.web, 22),
        "in_sync",
        True,
        runtime,
    )
    run(
        "warm, drift, group without group references (bastion)",
        actor.open_to_world(estate.bastion, 3389),
        "drifted",
        True,
        runtime,
    )
    run(
        "warm, back in sync, bastion",
        actor.revert(estate.bastion, 3389),
        "in_sync",
        True,
        runtime,
    )
    run(
        "warm, drift, group whose rules reference another group (web → bastion)",
        actor.open_to_world(estate.web, 22),
        "drifted",
        True,
        runtime,
    )
    # (The webhook URL is read from SSM on the first alert and kept for the container's
    # life, re-read only when the hook answers 403/404/410: no per-alert SSM request.)
    actor.revert(estate.web, 22)
    # One spec object rewritten (same rules, a new comment): its ETag moves, it alone is read.
    key = next(
        k["Key"]
        for k in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/")["Contents"]
        if k["Key"].endswith("/bastion.yaml")
    )
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body + b"# touched by the benchmark\n")
    run(
        "warm, one spec object changed in S3 since the last event, bastion",
        actor.open_to_world(estate.bastion, 3389),
        "drifted",
        False,
        runtime,
    )
    actor.revert(estate.bastion, 3389)
    return rows


def measure_timing(
    meter: AwsMeter, actor: Actor, estate: Estate, webhook: str, prefix: str, specs: int, pairs: int
) -> TimingRun:
    """`pairs` × (drift event, its revert), after a few unmeasured warm-up pairs."""
    import boto3

    from chalicelib.aws import ClientCache
    from chalicelib.handlers import handle_cloudtrail_event
    from chalicelib.notify.delivery import SlackWebhookNotifier
    from chalicelib.runtime import Runtime, build_pipeline, spec_provider

    session = boto3.session.Session()
    meter.attach(session)
    opener = TimingOpener()
    clients = ClientCache(session)
    runtime = Runtime(
        clients=clients,
        pipeline=build_pipeline(clients),
        specs=spec_provider(f"s3://{BUCKET}/{prefix}", clients),
        notifiers=[SlackWebhookNotifier(webhook, opener=opener)],
        regions=[REGION],
        account=ACCOUNT,
    )
    events: list[EventTiming] = []
    ops: Counter[str] = Counter()
    warmup = 5
    for index in range(warmup + pairs):
        for kind, make in (
            ("drift", lambda: actor.open_to_world(estate.web, 22)),
            ("in_sync", lambda: actor.revert(estate.web, 22)),
        ):
            event = make()  # the change itself is someone else's call: not timed
            opener.http_s = 0.0
            with meter.window():
                start = time.perf_counter()
                outcome = handle_cloudtrail_event(event, runtime)
                total = time.perf_counter() - start
            expect(outcome, "drifted" if kind == "drift" else "in_sync", 1, kind)
            if index < warmup:
                continue
            ops.update(meter.all_ops)
            events.append(
                EventTiming(
                    kind=kind,
                    total_s=total,
                    transport_s=meter.transport_s,
                    call_s=meter.call_s,
                    webhook_s=opener.http_s,
                    requests=sum(meter.all_ops.values()),
                )
            )
    per_event = Counter({op: n // len(events) for op, n in ops.items()})
    return TimingRun(
        specs=specs, events=events, list_pages=per_event["s3:ListObjectsV2"], ops=per_event
    )


def measure_in_process(events: int, specs: int, scaling: Sequence[int]) -> InProcessResults:
    """Measurements 1 and 2, against moto in process (`mock_aws`)."""
    from moto import mock_aws

    from chalicelib.cli.demo import webhook_receiver

    meter = AwsMeter()
    meter.install_global()  # before any session exists, so every session carries it
    try:
        with mock_aws(), webhook_receiver() as (webhook, _received):
            import boto3

            admin = boto3.session.Session(region_name=REGION)
            ec2 = admin.client("ec2")
            s3 = admin.client("s3")
            s3.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            estate = build_estate(ec2)
            actor = Actor(admin.client("ec2"))

            log(f"requests per event (section 1): {specs} specs in S3")
            upload_specs(ec2, s3, "policies", specs, estate.vpc)
            requests = measure_requests(meter, actor, estate, s3, webhook, "policies")

            log(f"own time per event (section 2): {events} events, {specs} specs")
            headline = measure_timing(
                meter, actor, estate, webhook, "policies", specs, pairs=max(1, events // 2)
            )
            runs: list[TimingRun] = []
            for count in scaling:
                prefix = f"scaling-{count}"
                upload_specs(ec2, s3, prefix, count, estate.vpc)
                log(f"      catalog size {count} specs: 40 events")
                runs.append(measure_timing(meter, actor, estate, webhook, prefix, count, pairs=20))
    finally:
        meter.uninstall_global()
    return InProcessResults(requests=requests, headline=headline, scaling=runs)


def measure_indexed_in_process(sizes: Sequence[int]) -> list[IndexedRun]:
    """The indexed-bundle section, against moto in process (`mock_aws`)."""
    from moto import mock_aws

    from chalicelib.cli.demo import webhook_receiver

    meter = AwsMeter()
    meter.install_global()
    try:
        with mock_aws(), webhook_receiver() as (webhook, _received):
            import boto3

            admin = boto3.session.Session(region_name=REGION)
            ec2 = admin.client("ec2")
            s3 = admin.client("s3")
            s3.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            estate = build_estate(ec2)
            return measure_indexed(
                sizes,
                meter=meter,
                actor=Actor(admin.client("ec2")),
                estate=estate,
                ec2=ec2,
                s3=s3,
                webhook=webhook,
                bucket=BUCKET,
                region=REGION,
                account=ACCOUNT,
                filler=filler_group,
                timing=measure_timing,
                log=log,
            )
    finally:
        meter.uninstall_global()


def render_indexed_section(info: Machine, runs: Sequence[IndexedRun], elapsed_s: float) -> str:
    header = [
        "# Event path over an indexed bundle (bench_events.py)",
        "",
        "The event path when specs are pushed with `setpoint push`: the bundle carries an",
        "index (kind + id or name → the spec files that declare it), so an event parses only",
        "the specs it looks up, once per bundle version and container. The warm check is the",
        "one `s3:ListObjectsV2` of the prefix (a pushed prefix holds one object, so one page at",
        "any catalog size); the bundle is fetched only when its ETag moves. Specs here are",
        "security groups as `setpoint import` writes them (about 700 bytes each); the estate's",
        "web group is the one the events change. Own time is wall time minus time inside",
        "moto's backend. Rerun with `make bench` (sizes 100, 1,000 and 10,000; this section",
        f"took {elapsed_s:.0f} s); `python benchmarks/bench_events.py --only-indexed --indexed",
        "100,1000,10000,50000 --output docs/performance.md` adds the 50,000 row (rendering and",
        "validating 50,000 specs takes minutes).",
        "",
        f"Measured {info.date} at commit {info.commit}, load average"
        f" {', '.join(f'{v:.2f}' for v in info.load)} at start, {info.cores} cores.",
        "",
    ]
    body = render_indexed(
        runs,
        ms=ms,
        percentile=percentile,
        verdict=verdict,
        table=table,
        fmt_ops=fmt_ops,
        target_requests=TARGET_REQUESTS,
        target_own_ms=TARGET_OWN_MS,
        header=header,
    )
    notes = [
        "",
        "The cold event builds the runtime (the account is given, so no `sts` call), lists",
        "the prefix, fetches the bundle once and reads the group. Its peak memory is measured",
        "with `tracemalloc`, which counts moto's copies of the bundle too. Sizes run smallest",
        "first, so the first row also carries the process's first warm events (its median is",
        "the noisiest). Bundles over 8 MiB of spec text (about 12,000 such specs) are refused by",
        "`setpoint push` and by the sweep, which parse every spec (`specs/budgets.py`); the",
        "event path takes bundles up to 64 MiB, so the 50,000 row's bundle is built and",
        "uploaded by this script with push's own function (`indexed_bundle`) but without",
        "push's directory budget.",
        "",
    ]
    return body + "\n".join(notes)


# --------------------------------------------------------------------------------------
# 3: cold import of the handler module


IMPORT_PROBE = (
    "import time\nstart = time.perf_counter()\nimport app\nprint(time.perf_counter() - start)\n"
)
IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")
OWN_PACKAGES = ("app", "chalicelib")
# Costly imports named in DESIGN.md that the handler module should not pay for up front.
HEAVY_PACKAGES = ("boto3", "aws_xray_sdk", "pydantic", "jsonschema", "moto")


@dataclasses.dataclass
class ImportResult:
    runs_s: list[float]
    wall_s: list[float]
    heaviest: list[ImportEntry]  # by median cumulative time
    own_self_ms: float
    not_imported: list[str]  # heavy packages `import app` does not load


@dataclasses.dataclass
class ImportEntry:
    name: str
    parent: str
    self_ms: float
    cumulative_ms: float


def subprocess_env() -> dict[str, str]:
    """What the Lambda has at import: a region and credentials (fake), no endpoint games."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(FAKE_AWS_ENV)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def parse_importtime(stderr: str) -> tuple[list[ImportEntry], float]:
    """Every module `import app` loaded (with its importer), and own modules' self ms."""
    entries: list[tuple[int, int, int, str]] = []
    for line in stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            entries.append((len(indent) // 2, int(self_us), int(cumulative_us), name))
    app_index = next(i for i, e in enumerate(entries) if e[3] == "app" and e[0] == 0)
    start = app_index
    while start > 0 and entries[start - 1][0] > 0:
        start -= 1  # importtime prints children before their parent
    subtree = entries[start : app_index + 1]
    found: list[ImportEntry] = []
    own = 0.0
    for index, (depth, self_us, cumulative_us, name) in enumerate(subtree):
        if name.split(".")[0] in OWN_PACKAGES:
            own += self_us / 1000
        # The importer is the next entry one level up (children are printed first).
        parent = next((e[3] for e in subtree[index + 1 :] if e[0] == depth - 1), "")
        found.append(ImportEntry(name, parent, self_us / 1000, cumulative_us / 1000))
    return found, own


def loaded_sentence(not_imported: Sequence[str]) -> str:
    """Which of the known-heavy packages `import app` pulls in, in words."""
    loaded = [name for name in HEAVY_PACKAGES if name not in not_imported]
    names = ", ".join(f"`{name}`" for name in HEAVY_PACKAGES)
    if not loaded:
        return f"`import app` loads none of {names}."
    return f"`import app` loads {', '.join(f'`{name}`' for name in loaded)} (checked: {names})."


def measure_import(runs: int) -> ImportResult:
    env = subprocess_env()
    python = sys.executable

    def probe(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, *flags, "-c", IMPORT_PROBE],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )

    probe()  # writes any missing .pyc, so every measured run starts alike
    times: list[float] = []
    walls: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        result = probe()
        walls.append(time.perf_counter() - start)
        times.append(float(result.stdout.strip().splitlines()[-1]))
    samples: dict[str, list[ImportEntry]] = {}
    own: list[float] = []
    for _ in range(3):
        entries, own_ms = parse_importtime(probe("-X", "importtime").stderr)
        own.append(own_ms)
        for entry in entries:
            samples.setdefault(entry.name, []).append(entry)
    medians = [
        ImportEntry(
            name,
            runs[0].parent,
            statistics.median(e.self_ms for e in runs),
            statistics.median(e.cumulative_ms for e in runs),
        )
        for name, runs in samples.items()
        if name != "app"
    ]
    heaviest = sorted(medians, key=lambda e: e.cumulative_ms, reverse=True)[:5]
    absent = [name for name in HEAVY_PACKAGES if name not in samples]
    return ImportResult(times, walls, heaviest, statistics.median(own), absent)


# --------------------------------------------------------------------------------------
# 4: the demo


@dataclasses.dataclass
class DemoResult:
    wall_s: float
    exit_code: int | None
    completed: bool
    leftovers: bool
    note: str


def measure_demo(timeout: float = 300.0) -> DemoResult:
    cli = Path(sys.executable).parent / "setpoint"
    command = (
        [str(cli), "demo"]
        if cli.exists()
        else [sys.executable, "-m", "chalicelib.cli.main", "demo"]
    )
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    start = time.perf_counter()
    # Its own process group, so anything it leaves behind can be found and stopped.
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    note = ""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        note = f"timed out after {timeout:.0f} s and was killed"
    wall = time.perf_counter() - start
    leftovers = False
    try:
        os.killpg(process.pid, 0)
        leftovers = True  # something in its group outlived it (a server?)
        os.killpg(process.pid, signal.SIGKILL)
        note = (note + "; " if note else "") + "left processes behind (killed)"
    except ProcessLookupError:
        pass
    completed = process.returncode == 0 and "Demo complete" in output
    if not completed and not note:
        note = "did not complete: " + " / ".join(output.strip().splitlines()[-3:])
    return DemoResult(wall, process.returncode, completed, leftovers, note)


# --------------------------------------------------------------------------------------
# The report


def timing_rows(run: TimingRun) -> list[list[object]]:
    def row(label: str, values: list[float]) -> list[object]:
        return [label, f"{ms(statistics.median(values)):.1f}", f"{ms(percentile(values, 0.9)):.1f}"]

    events = run.events
    return [
        row("handler wall time (total)", [e.total_s for e in events]),
        row(
            "− in moto's backend (`before-send` → `before-parse`)", [e.transport_s for e in events]
        ),
        row("− webhook HTTP round trip (local receiver)", [e.webhook_s for e in events]),
        row("**= own time**", [e.own_s for e in events]),
        row(
            "  own, drift events (render + post one Slack message)",
            [e.own_s for e in events if e.kind == "drift"],
        ),
        row(
            '  own, back-in-sync events ("back to normal" posted)',
            [e.own_s for e in events if e.kind == "in_sync"],
        ),
        row(
            "  own without any botocore call time (signing, parsing too)",
            [e.own_strict_s for e in events],
        ),
    ]


def render(
    info: Machine,
    inproc: InProcessResults | None,
    imports: ImportResult | None,
    demo: DemoResult | None,
    elapsed_s: float,
    events: int,
) -> str:
    out: list[str] = [
        "# Event path (bench_events.py)",
        "",
        "What one CloudTrail event costs on Setpoint's event path: the AWS requests it makes,",
        "the time our own code spends on it, the cold-start import of the Lambda handler module,",
        "and the wall time of `setpoint demo`. Rerun with `make bench` (this run took "
        f"{elapsed_s:.0f} s); it regenerates this section whole.",
        "",
        f"Measured {info.date} at commit {info.commit}.",
        "",
    ]
    summary: list[list[object]] = []
    if inproc is not None:
        warm = [r for r in inproc.requests if r.target]
        worst_row = max(warm, key=lambda r: r.total)
        worst = worst_row.total
        best = min(r.total for r in warm)
        own = [e.own_s for e in inproc.headline.events]
        summary.append(
            [
                "AWS requests per event, specs cached (warm events)",
                f"≤ {TARGET_REQUESTS}",
                f"{best}–{worst} (most: {worst_row.case})",
                verdict(worst <= TARGET_REQUESTS),
            ]
        )
        summary.append(
            [
                f"own time per event, median ({len(own)} events)",
                f"≤ {TARGET_OWN_MS:.0f} ms",
                f"{ms(statistics.median(own)):.1f} ms (p90 {ms(percentile(own, 0.9)):.1f} ms)",
                verdict(ms(statistics.median(own)) <= TARGET_OWN_MS),
            ]
        )
    if imports is not None:
        median_import = ms(statistics.median(imports.runs_s))
        summary.append(
            [
                f"cold import of `app`, median of {len(imports.runs_s)}",
                f"≤ {TARGET_IMPORT_MS:.0f} ms",
                f"{median_import:.0f} ms",
                verdict(median_import <= TARGET_IMPORT_MS),
            ]
        )
    if demo is not None:
        summary.append(
            [
                "`setpoint demo` wall time",
                f"< {TARGET_DEMO_S:.0f} s",
                f"{demo.wall_s:.1f} s",
                verdict(demo.completed and demo.wall_s < TARGET_DEMO_S),
            ]
        )
    out += ["## Summary", "", *table(["measure", "target", "result", ""], summary), ""]
    if inproc is not None:
        misses = []
        for run in inproc.scaling:
            own_ms = ms(statistics.median([e.own_s for e in run.events]))
            requests = sum(run.ops.values())
            if own_ms > TARGET_OWN_MS or requests > TARGET_REQUESTS:
                misses.append(
                    f"{run.specs} spec objects: {requests} requests and {own_ms:.0f} ms own "
                    "time per event"
                )
        if misses:
            out += [
                f"The table is for {inproc.headline.specs} spec objects in S3. Larger catalogs "
                "miss the targets (section 2, catalog size): " + "; ".join(misses) + ".",
                "",
            ]

    if inproc is not None:
        out += [
            "## 1. AWS requests per event",
            "",
            "Every AWS API call made while handling one CloudTrail event, counted by a botocore",
            "`before-call` hook on the boto3 session given to `ClientCache`, and by one in",
            "botocore's built-in handler list, which every session made later (Powertools' SSM",
            "client too) copies. Specs are in S3 as deployed (`s3://bucket/policies`, "
            f"{inproc.headline.specs} spec objects); the",
            "webhook URL is an SSM SecureString, as `runtime_from_env` expects. The first row",
            "builds the runtime inside the count, as `app.get_runtime()` does on a container's",
            "first event. The target applies when specs are cached (the warm rows). The",
            "last column is the handler's wall time minus time inside moto (a local webhook",
            "post included on drift rows); on the cold row it includes creating clients,",
            "fetching, parsing and validating every spec, and lazy imports.",
            "",
            "Alert state is kept in memory here (`SETPOINT_STATE` unset). Deployed with",
            "`dynamodb://TABLE` it adds, per finding (counted against moto): a new alert 2",
            "`GetItem` + 2 `PutItem` (claim, then where it was posted); a drift already",
            "alerted 1 `GetItem`; back to normal 1 `GetItem` + 1 `DeleteItem`; in sync with",
            "nothing open 2 `GetItem` (by id, then by name). They are what deduplication",
            "costs and are not counted against the target above.",
            "",
        ]
        rows = []
        for r in inproc.requests:
            outside = f" + outside `ClientCache`: {fmt_ops(r.outside)}" if r.outside else ""
            target = f"≤ {TARGET_REQUESTS}" if r.target else "—"
            result = verdict(r.total <= TARGET_REQUESTS) if r.target else "—"
            rows.append(
                [
                    r.case,
                    r.status,
                    f"{fmt_ops(r.ops)}{outside}",
                    r.total,
                    target,
                    result,
                    f"{ms(r.own_s):.0f}",
                ]
            )
        out += table(
            [
                "event",
                "finding",
                "requests by operation",
                "total",
                "target",
                "",
                "own ms (this event)",
            ],
            rows,
        )
        cold = inproc.requests[0]
        out += [
            "",
            "A warm event is one `s3:ListObjectsV2` (the ETag check), one",
            "`ec2:DescribeSecurityGroups` for the group, and one more for the names of the groups",
            "its rules reference, if any. The listing is one request per 1,000 spec objects, so",
            "past 1,000 specs a warm event costs one more request per extra page (see the",
            f"catalog-size table below). The cold event makes {cold.total} requests: one",
            "`s3:GetObject` per spec object, one after the other.",
        ]
        outside_ops: Counter[str] = Counter()
        for r in inproc.requests:
            outside_ops |= r.outside
        if outside_ops:
            out += [
                "",
                f"Outside `ClientCache`: {fmt_ops(outside_ops)}. The webhook URL is read from SSM",
                "on a container's first alert, through a client Powertools builds for itself",
                "(without `ClientCache`'s adaptive retries and Setpoint user agent), and kept;",
                "it is read again only when the webhook answers 403/404/410 (a rotation).",
                "Events that alert nothing never read it.",
            ]
        out += [""]

        head = inproc.headline
        out += [
            "## 2. Own time per event (in process, moto)",
            "",
            f"`chalicelib.handlers.handle_cloudtrail_event` on {len(head.events)} events against",
            "moto in process (`mock_aws`), after 10 unmeasured warm-up events. Events alternate",
            "between a drift-making change (tcp/22 opened to 0.0.0.0/0 on `web`: finding",
            '`drifted`, one Slack message posted) and its revert (finding `in_sync`, "back to',
            'normal" posted). The runtime is built by hand as the demo builds it: specs from S3 '
            f"({head.specs} objects),",
            "notifier `SlackWebhookNotifier` posting to a local webhook receiver on 127.0.0.1.",
            "The change itself is made before the clock starts. Each event makes "
            f"{fmt_ops(head.ops)}.",
            "",
            "Own time = handler wall time − time inside moto's backend (from botocore's",
            "`before-send`, hooked first so it runs before moto's stub, to `before-parse`) − the",
            "webhook's HTTP round trip. Serialising, signing and parsing AWS requests and",
            "responses is client-side CPU that Lambda pays too, so it counts as ours; the last",
            "row takes it out as well, for comparison.",
            "",
            *table(["per event", "median ms", "p90 ms"], timing_rows(head)),
            "",
            f"Target: own time median ≤ {TARGET_OWN_MS:.0f} ms: "
            f"{verdict(ms(statistics.median([e.own_s for e in head.events])) <= TARGET_OWN_MS)}.",
            "",
        ]
        if inproc.scaling:
            rows = []
            for run in inproc.scaling:
                own = [e.own_s for e in run.events]
                strict = [e.own_strict_s for e in run.events]
                transport = [e.transport_s for e in run.events]
                requests = sum(run.ops.values())
                median_own = ms(statistics.median(own))
                rows.append(
                    [
                        run.specs,
                        run.list_pages,
                        f"{requests} {verdict(requests <= TARGET_REQUESTS)}",
                        f"{median_own:.1f} {verdict(median_own <= TARGET_OWN_MS)}",
                        f"{ms(percentile(own, 0.9)):.1f}",
                        f"{ms(statistics.median(strict)):.1f}",
                        f"{ms(statistics.median(transport)):.1f}",
                    ]
                )
            out += [
                "### Catalog size",
                "",
                f"The same event pair ({len(inproc.scaling[0].events)} events per size) with more",
                "or fewer spec objects in S3. Every event lists the whole prefix (one",
                "ListObjectsV2 page per 1,000 keys, each key's `LastModified` parsed by botocore)",
                "and rebuilds the catalog from the cached parsed files, so own time grows with the",
                'number of specs. The "without botocore" column leaves out all time inside AWS',
                "calls, to show how much of it is ours outside botocore (the catalog rebuild).",
                "",
                *table(
                    [
                        "spec objects",
                        "ListObjectsV2 pages",
                        f"requests per event (≤ {TARGET_REQUESTS})",
                        f"own median ms (≤ {TARGET_OWN_MS:.0f})",
                        "own p90 ms",
                        "own without botocore, median ms",
                        "moto backend median ms",
                    ],
                    rows,
                ),
                "",
            ]

    if imports is not None:
        walls = ms(statistics.median(imports.wall_s))
        median_import = ms(statistics.median(imports.runs_s))
        out += [
            "## 3. Cold-start import of the handler module",
            "",
            f"`import app` in {len(imports.runs_s)} fresh interpreters (cwd = repository root,",
            "region and fake credentials set as in Lambda, bytecode caches present), timed inside",
            "the interpreter around the import; the whole subprocess, interpreter start-up",
            f"included, took {walls:.0f} ms (median).",
            "",
            *table(
                ["import of `app`", "median ms", "min ms", "max ms", "target", ""],
                [
                    [
                        "time.perf_counter() around `import app`",
                        f"{median_import:.0f}",
                        f"{ms(min(imports.runs_s)):.0f}",
                        f"{ms(max(imports.runs_s)):.0f}",
                        f"≤ {TARGET_IMPORT_MS:.0f} ms",
                        verdict(median_import <= TARGET_IMPORT_MS),
                    ]
                ],
            ),
            "",
            "The 5 heaviest imports under `import app` by cumulative time (`python -X",
            "importtime`, median of 3 runs; cumulative time includes every module first",
            "imported beneath it, so nested entries overlap; `-X importtime` itself adds a",
            "little):",
            "",
            *table(
                ["module", "imported by", "cumulative ms", "self ms"],
                [
                    [f"`{e.name}`", f"`{e.parent}`", f"{e.cumulative_ms:.0f}", f"{e.self_ms:.1f}"]
                    for e in imports.heaviest
                ],
            ),
            "",
            f"Our own modules (`app`, `chalicelib.*`) take {imports.own_self_ms:.0f} ms of self"
            f" time. {loaded_sentence(imports.not_imported)}",
            "",
        ]

    if demo is not None:
        status = "completed" if demo.completed else f"did not complete (exit {demo.exit_code})"
        out += [
            "## 4. The demo",
            "",
            "`setpoint demo` run as a subprocess (its own moto server and webhook on 127.0.0.1):",
            "",
            *table(
                ["run", "wall time", "target", ""],
                [
                    [
                        "`setpoint demo`",
                        f"{demo.wall_s:.1f} s ({status})",
                        f"< {TARGET_DEMO_S:.0f} s",
                        verdict(demo.completed and demo.wall_s < TARGET_DEMO_S),
                    ]
                ],
            ),
            "",
        ]
        if demo.note:
            out += [f"Note: {demo.note}.", ""]

    load = ", ".join(f"{value:.2f}" for value in info.load)
    out += [
        "## Machine",
        "",
        *table(
            ["", ""],
            [
                ["date", info.date],
                ["CPU", info.cpu],
                ["cores", info.cores],
                ["load average at start (1/5/15 min)", load],
                ["Python", info.python],
                ["OS", info.system],
                *[[name, version] for name, version in info.packages.items()],
            ],
        ),
        "",
        "## Methodology and caveats",
        "",
        "- moto is not AWS. Its latencies are not AWS latencies, so time inside moto is taken",
        "  out of our own time, not reported as an AWS figure. What carries over to AWS is the",
        "  request count per event, and our own CPU time (on a Lambda with a different CPU",
        "  share: at 256 MB a function gets a fraction of a vCPU, so expect it to be slower).",
        "- Request counts use botocore's event hooks, so retries of one call count once (as",
        "  `before-call` fires once per API call), and calls short-circuited by a cache count",
        "  zero. Webhook posts are HTTP, not AWS, and are not counted.",
        "- Medians and nearest-rank 90th percentiles over single events. The machine may be",
        "  shared (see the load average), so the tail is noisier than the median.",
        "- No test asserts on these numbers; the benchmark is this script, run on demand.",
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--output", help="write the report into this page's events section (default: stdout)"
    )
    parser.add_argument("--events", type=int, default=300, help="timed events (default 300)")
    parser.add_argument("--specs", type=int, default=100, help="spec objects in S3 (default 100)")
    parser.add_argument(
        "--scaling",
        default="10,500,1100",
        help="comma-separated catalog sizes for the catalog-size table ('' to skip)",
    )
    parser.add_argument("--import-runs", type=int, default=10, help="fresh interpreters (10)")
    parser.add_argument("--no-demo", action="store_true", help="skip running the demo")
    parser.add_argument(
        "--indexed",
        default=",".join(str(size) for size in DEFAULT_SIZES),
        help="catalog sizes for the indexed-bundle section ('' to skip; add 50000 for that row)",
    )
    parser.add_argument(
        "--only-indexed", action="store_true", help="measure and write the indexed section only"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    info = machine()
    indexed_sizes = [int(v) for v in args.indexed.split(",") if v.strip()]
    if indexed_sizes:
        for key in CLEARED_ENV:
            os.environ.pop(key, None)
        os.environ.update(FAKE_AWS_ENV)
        runs = measure_indexed_in_process(indexed_sizes)
        section = render_indexed_section(info, runs, time.perf_counter() - started)
        if args.output:
            write_section(Path(args.output), "event-index", demote_headings(section))
            log(f"wrote the event-index section of {args.output}")
        else:
            print(section)
    if args.only_indexed:
        return 0
    log(f"cold import of app (section 3): {args.import_runs} fresh interpreters")
    imports = measure_import(args.import_runs)
    demo = None
    if not args.no_demo:
        log("setpoint demo (section 4)")
        demo = measure_demo()

    for key in CLEARED_ENV:
        os.environ.pop(key, None)
    os.environ.update(FAKE_AWS_ENV)
    scaling = [int(v) for v in args.scaling.split(",") if v.strip()]
    inproc = measure_in_process(args.events, args.specs, scaling)

    report = render(info, inproc, imports, demo, time.perf_counter() - started, args.events)
    if args.output:
        # Its own section of the page: bench_sweep.py writes the other one.
        write_section(Path(args.output), "events", demote_headings(report))
        log(f"wrote the events section of {args.output}")
    else:
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
