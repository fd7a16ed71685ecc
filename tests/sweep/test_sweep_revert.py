"""The scheduled sweep reverts too: drift only the sweep saw, on a spec that says
`on_drift: revert`, goes to the revert function like an event's, and is alerted once.

On moto. The revert function is invoked through botocore's Stubber on a real Lambda
client (moto would try to run the function); the request it was sent is then handled by
`handle_revert_request`, as `on_revert` does. CloudTrail's `LookupEvents` is not in
moto's in-process backend, so the history the lookup reads is a small client answering
with real records (as in test_lookup.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.stub import ANY, Stubber

from chalicelib.alerting import EventOutcome, deliver
from chalicelib.aws import ClientCache
from chalicelib.cli.main import main
from chalicelib.handlers import handle_revert_request
from chalicelib.iac_principals import IacPrincipals
from chalicelib.model import Actor, Kind, ResourceRef
from chalicelib.notify.delivery import notifier_for
from chalicelib.revert.hand_off import LambdaHandOff
from chalicelib.revert.settings import RevertSettings
from chalicelib.runtime import Runtime, build_reverter, spec_provider, sweep_service
from chalicelib.state import MemoryStateStore, StateStoreError, record_key
from chalicelib.state.record import StateRecord
from chalicelib.sweep.lookup import CloudTrailLookup
from chalicelib.sweep.settings import SweepSettings
from chalicelib.sweep.shards import shard_messages
from chalicelib.sweep.worker import SweepService, handle_shard_message, plan, sweep_in_process
from tests.conftest import REGION, make_vpc_with_web
from tests.runtime_builder import build_runtime
from tests.sweep.conftest import Org, make_runtime
from tests.sweep.test_lookup import history_entry, ingress_record
from tests.sweep.test_worker import seed, write_specs

FUNCTION = "setpoint-test-on_revert"
ACCOUNT = "123456789012"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TERRAFORM = f"arn:aws:iam::{ACCOUNT}:role/terraform-ci"
TERRAFORM_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/terraform-ci/apply-42"
IAC = IacPrincipals(("arn:aws:iam::*:role/terraform-*",))


@dataclass
class Swept:
    runtime: Runtime
    service: SweepService
    group: str
    received: list[dict[str, Any]]
    lam: Any  # the Lambda client the hand-off invokes on_revert with
    sent: list[dict[str, Any]]  # the revert requests it sent


def _write_specs(tmp_path: Path, *, revert: bool) -> Path:
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--kinds", "security_group"]) == 0
    if revert:
        (spec,) = [p for p in specs.rglob("*.yaml") if "name: web" in p.read_text()]
        spec.write_text(spec.read_text() + "on_drift: revert\n")
    return specs


def _sweep_setup(
    ec2: Any,
    webhook: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
    *,
    revert: bool = True,
    settings: RevertSettings | None = None,
    who: dict[str, Any] | None = None,
    iac: IacPrincipals | None = IAC,
    state: MemoryStateStore | None = None,
) -> Swept:
    """The demo's group `web` (443 open in its spec) with SSH opened to the world by hand,
    no event sent; the sweep reads it. `who` is the userIdentity CloudTrail's history names
    for that change (None: the history has nothing)."""
    ids = make_vpc_with_web(ec2)
    specs = _write_specs(tmp_path, revert=revert)
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    url, received = webhook
    clients = ClientCache()
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(str(specs), clients),
        notifiers=[notifier_for(url, "json", sleep=lambda _: None)],
        regions=[REGION],
        state=state if state is not None else MemoryStateStore(),
        clock=lambda: NOW,
        iac=iac,
    )
    lam = clients.client("lambda", REGION)
    sent: list[dict[str, Any]] = []
    lam.meta.events.register(
        "provide-client-params.lambda.Invoke",
        lambda params, **_: sent.append(json.loads(params["Payload"])),
    )
    runtime.reverter = build_reverter(
        runtime, settings, apply=True, hand_off=LambdaHandOff(lam, FUNCTION)
    )
    service = sweep_service(runtime, SweepSettings(regions=(REGION,)))
    if who is not None:
        record = ingress_record(ids["web"], time="2026-11-30T02:07:41Z", who="x", event_id="e-1")
        record["userIdentity"] = who
        service.lookup = CloudTrailLookup(
            lambda account, region: History(ids["web"], record), sleep=lambda _: None
        )
    return Swept(runtime, service, ids["web"], received, lam, sent)


class History:
    """CloudTrail's event history as LookupEvents answers: the one record for `group`."""

    def __init__(self, group: str, record: dict[str, Any]) -> None:
        self.group = group
        self.record = record

    def lookup_events(self, **params: Any) -> dict[str, Any]:
        name = params["LookupAttributes"][0]["AttributeValue"]
        return {"Events": [history_entry(self.record)] if name == self.group else []}


ALICE = {
    "type": "IAMUser",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "accountId": ACCOUNT,
    "userName": "alice",
}
TERRAFORM_IDENTITY = {
    "type": "AssumedRole",
    "arn": TERRAFORM_SESSION,
    "accountId": ACCOUNT,
    "sessionContext": {"sessionIssuer": {"type": "Role", "arn": TERRAFORM, "accountId": ACCOUNT}},
}


def _ingress(ec2: Any, group_id: str) -> set[tuple[int, str]]:
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return {
        (perm["FromPort"], r["CidrIp"]) for perm in group["IpPermissions"] for r in perm["IpRanges"]
    }


def _about(received: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    return [r for r in received if r.get("id") == group]


def _digest(received: list[dict[str, Any]]) -> dict[str, Any]:
    return [r for r in received if r.get("type") == "sweep_digest"][-1]


def _sweep_expecting_hand_offs(swept: Swept, count: int) -> None:
    with Stubber(swept.lam) as stub:
        for _ in range(count):
            expected = {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": ANY}
            stub.add_response("invoke", {"StatusCode": 202}, expected)
        sweep_in_process(swept.service)
        stub.assert_no_pending_responses()


def test_drift_the_sweep_finds_is_handed_off_reverted_and_alerted_once(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path, who=ALICE)
    _sweep_expecting_hand_offs(swept, 1)

    # the sweep posted nothing about the group (the revert function will) and reverted
    # nothing itself; its digest counts the drift as new, with its probable author
    assert _about(swept.received, swept.group) == []
    assert (22, "0.0.0.0/0") in _ingress(ec2, swept.group)
    digest = _digest(swept.received)
    (item,) = [i for i in digest["new_drift"] if i.get("id") == swept.group]
    assert item["who"].startswith(f"probably arn:aws:iam::{ACCOUNT}:user/alice")
    (request,) = swept.sent
    assert request["refs"][0]["id"] == swept.group
    assert request["actor"]["source"] == "lookup"

    outcome = handle_revert_request(request, swept.runtime)  # what on_revert does
    assert outcome.errors == []
    assert _ingress(ec2, swept.group) == {(443, "0.0.0.0/0")}
    drift, back = _about(swept.received, swept.group)
    assert drift["alert"]["kind"] == "new" and back["alert"]["kind"] == "back_to_normal"
    assert "Reverted: revoke ingress tcp/22 from 0.0.0.0/0" in drift["text"]
    assert f"arn:aws:iam::{ACCOUNT}:user/alice (probably:" in drift["text"]

    # the next sweep finds the group in sync: nothing more about it, nothing handed off
    _sweep_expecting_hand_offs(swept, 0)
    assert len(_about(swept.received, swept.group)) == 2
    assert len(swept.sent) == 1


def test_drift_on_a_spec_without_on_drift_revert_is_alerted_by_the_sweep_and_kept(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path, revert=False)
    _sweep_expecting_hand_offs(swept, 0)
    assert swept.sent == []
    (alert,) = _about(swept.received, swept.group)
    assert "+ ingress tcp/22 from 0.0.0.0/0" in alert["text"]
    said = ("Reverted:", "Would revert:", "Not reverted:", "Gave up reverting:")
    assert not [line for line in alert["text"].splitlines() if line.startswith(said)]
    assert (22, "0.0.0.0/0") in _ingress(ec2, swept.group)


def test_drift_whose_looked_up_author_is_an_iac_principal_is_never_reverted(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path, who=TERRAFORM_IDENTITY)
    _sweep_expecting_hand_offs(swept, 0)
    assert swept.sent == []
    (alert,) = _about(swept.received, swept.group)
    assert (
        "Not reverted: revoke ingress tcp/22 from 0.0.0.0/0 (ec2:RevokeSecurityGroupIngress)"
        " — iac: made by a configured "
        f"IaC principal ({TERRAFORM_SESSION}); never reverted"
    ) in alert["text"]
    assert (22, "0.0.0.0/0") in _ingress(ec2, swept.group)


def test_the_kill_switch_stops_the_sweeps_reverts(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path, settings=RevertSettings(enabled=False))
    _sweep_expecting_hand_offs(swept, 0)
    assert swept.sent == []
    (alert,) = _about(swept.received, swept.group)
    assert "off: SETPOINT_REVERT=off turns every revert off" in alert["text"]
    assert (22, "0.0.0.0/0") in _ingress(ec2, swept.group)


def _alert_as_an_event_did(swept: Swept, actor_arn: str) -> None:
    """Alert the drift first without reverting (as before the spec opted in, or as an
    event by `actor_arn` was alerted): the alert state remembers who made it."""
    ref = ResourceRef(Kind("security_group"), ACCOUNT, REGION, swept.group)
    (finding,) = swept.runtime.evaluate([ref], Actor(actor_arn, "X", None, None))
    deliver(swept.runtime.delivery(), [finding], EventOutcome())
    assert len(_about(swept.received, swept.group)) == 1


def test_open_drift_an_iac_principal_made_stays_unreverted_on_later_sweeps(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path)
    _alert_as_an_event_did(swept, TERRAFORM_SESSION)  # the state keeps the session's ARN
    _sweep_expecting_hand_offs(swept, 0)
    assert swept.sent == []
    assert len(_about(swept.received, swept.group)) == 1  # known drift: the sweep is quiet
    assert (22, "0.0.0.0/0") in _ingress(ec2, swept.group)
    (item,) = [i for i in _digest(swept.received)["still_open"] if i.get("id") == swept.group]
    assert item["since"]


def test_open_drift_alerted_before_its_spec_opted_in_is_reverted_by_the_next_sweep(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path, iac=None)  # no IaC rule to read the state for
    _alert_as_an_event_did(swept, f"arn:aws:iam::{ACCOUNT}:user/alice")
    _sweep_expecting_hand_offs(swept, 1)
    # counted as still open (chat knows it), alerted by nobody this time
    (item,) = [i for i in _digest(swept.received)["still_open"] if i.get("id") == swept.group]
    assert item["since"]
    assert len(_about(swept.received, swept.group)) == 1
    (request,) = swept.sent
    handle_revert_request(request, swept.runtime)
    assert _ingress(ec2, swept.group) == {(443, "0.0.0.0/0")}
    first, back = _about(swept.received, swept.group)
    assert first["alert"]["kind"] == "new" and back["alert"]["kind"] == "back_to_normal"


def test_a_sweep_shard_from_the_queue_hands_off_too(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path)
    shards = plan(swept.service)
    messages = shard_messages(shards, "run-1", 0)
    swept.service.runs.start("run-1", len(messages), NOW.isoformat())
    with Stubber(swept.lam) as stub:
        expected = {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": ANY}
        stub.add_response("invoke", {"StatusCode": 202}, expected)
        for message in messages:
            handle_shard_message(swept.service, message)
        stub.assert_no_pending_responses()
    (request,) = swept.sent
    assert request["refs"][0]["id"] == swept.group
    assert _about(swept.received, swept.group) == []
    (item,) = [i for i in _digest(swept.received)["new_drift"] if i.get("id") == swept.group]
    assert item["status"] == "drifted"


def test_the_report_keeps_the_handed_off_finding(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path)
    with Stubber(swept.lam) as stub:
        expected = {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": ANY}
        stub.add_response("invoke", {"StatusCode": 202}, expected)
        result = sweep_in_process(swept.service)
    (finding,) = [f for f in result.findings if f.id == swept.group]
    assert finding.status.value == "drifted"
    drifted = [f for f in result.findings if f.status.value == "drifted"]
    assert result.digest.counts["drifted"] == len(drifted)
    assert swept.group in {i.id for i in result.digest.new_drift}


class FirstReadFails(MemoryStateStore):
    """The alert state refusing the first read of one key (throttled), then answering."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: str | None = None

    def get(self, key: str) -> StateRecord | None:
        if key == self.failing:
            self.failing = None
            raise StateStoreError("GetItem: ProvisionedThroughputExceededException", "throttled")
        return super().get(key)


def test_drift_whose_author_the_state_cannot_tell_is_not_reverted_and_says_why(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    state = FirstReadFails()
    swept = _sweep_setup(ec2, webhook, tmp_path, state=state)
    ref = ResourceRef(Kind("security_group"), ACCOUNT, REGION, swept.group)
    (finding,) = swept.runtime.evaluate([ref], None)
    state.failing = record_key(finding)
    _sweep_expecting_hand_offs(swept, 0)
    assert swept.sent == []
    (alert,) = _about(swept.received, swept.group)
    assert (
        "— failed: who made this drift could not be read: GetItem: "
        "ProvisionedThroughputExceededException"
    ) in alert["text"]
    assert (22, "0.0.0.0/0") in _ingress(ec2, swept.group)


def test_setpoint_check_reports_the_drift_and_reverts_nothing(
    ec2: Any, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    swept = _sweep_setup(ec2, webhook, tmp_path)
    specs = str(tmp_path / "policies")
    args = ["check", "--specs", specs, "--region", REGION, "--kinds", "security_group"]
    assert main([*args, "--format", "json", "--output", str(tmp_path / "out.json")]) == 1
    report = json.loads((tmp_path / "out.json").read_text())
    (found,) = [f for f in report["findings"] if f.get("id") == swept.group]
    assert found["status"] == "drifted"
    assert (22, "0.0.0.0/0") in _ingress(ec2, swept.group)


def test_drift_in_a_member_account_is_alerted_as_elsewhere_and_not_handed_off(
    org: Org,
    base_clients: ClientCache,
    member_clients: ClientCache,
    webhook: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """An Organization sweep reads the member through its role; the revert function's role
    writes only in the stack's own account, so nothing is handed over."""
    seed(member_clients)
    specs = write_specs(tmp_path / "policies", org.allowed)
    app = specs / "security_groups" / "app.yaml"
    app.write_text(app.read_text() + "on_drift: revert\n")
    member_ec2 = member_clients.client("ec2", "us-east-1")
    (group,) = member_ec2.describe_security_groups(GroupNames=["app"])["SecurityGroups"]
    member_ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    runtime = make_runtime(base_clients, specs, webhook[0], MemoryStateStore(), ["us-east-1"])
    lam = base_clients.client("lambda", REGION)
    runtime.reverter = build_reverter(runtime, apply=True, hand_off=LambdaHandOff(lam, FUNCTION))
    settings = SweepSettings(accounts=[org.allowed], regions=("us-east-1",))
    service = sweep_service(runtime, settings)
    with Stubber(lam):  # no response: an invoke would fail the hand-off and say so
        sweep_in_process(service)
    (alert,) = _about(webhook[1], group["GroupId"])
    assert f"elsewhere: the resource is in account {org.allowed}" in alert["text"]
    assert "handoff_failed" not in alert["text"]
