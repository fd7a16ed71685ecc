"""The revert role writes only what the kinds' revert tables list; the others stay read-only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.deploy.calls import RUNTIME_GRANTS, collector_calls, revert_rows
from chalicelib.deploy.policy import STAGES, render_revert

ROOT = Path(__file__).resolve().parents[2]
READ_VERBS = ("Describe", "Get", "List", "Head", "Lookup")
# the services whose resources Setpoint watches: a write there changes the user's estate
WATCHED = {"ec2", "s3", "iam", "elasticloadbalancing", "cloudtrail", "events"}
# Setpoint's own objects on S3 (the sweep's reports under its spec bucket), and a CloudTrail
# Lake query (it reads events; the verb is not Get or List)
OWN_WRITES = {"s3:PutObject", "cloudtrail:StartQuery"}


def load(name: str) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads((ROOT / ".chalice" / name).read_text())
    return policy


def actions(policy: dict[str, Any]) -> set[str]:
    return {a for s in policy["Statement"] for a in s["Action"]}


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READ_VERBS)


TABLE_ACTIONS = {row.permission for row in revert_rows()}


@pytest.mark.parametrize("stage", STAGES)
def test_committed_revert_policy_is_what_the_tables_generate(stage: str) -> None:
    path = ROOT / ".chalice" / f"policy-revert-{stage}.json"
    assert path.read_text(encoding="utf-8") == render_revert(stage), "run `make policy`"


@pytest.mark.parametrize("stage", STAGES)
def test_the_read_only_policy_has_no_write_on_a_watched_resource(stage: str) -> None:
    granted = actions(load(f"policy-{stage}.json"))
    assert not granted & TABLE_ACTIONS
    writes = {
        a for a in granted if a.split(":")[0] in WATCHED and not is_read(a) and a not in OWN_WRITES
    }
    assert writes == set()


@pytest.mark.parametrize("stage", STAGES)
def test_the_revert_policy_writes_only_the_tables_actions(stage: str) -> None:
    policy = load(f"policy-revert-{stage}.json")
    runtime = {a for grant in RUNTIME_GRANTS for a in grant.actions()}
    reads = {c.permission for c in collector_calls()}
    granted = actions(policy)
    assert granted >= TABLE_ACTIONS
    assert granted - TABLE_ACTIONS - reads - runtime == set()
    writes = {a for a in granted if a.split(":")[0] in WATCHED and not is_read(a)}
    assert writes - OWN_WRITES == TABLE_ACTIONS
    for statement in policy["Statement"]:
        if not set(statement["Action"]) & TABLE_ACTIONS:
            continue
        assert set(statement["Action"]) <= TABLE_ACTIONS, statement["Sid"]
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource != "*"
            own = "${AWS::AccountId}" in resource or statement.get("Condition") == {
                "StringEquals": {"aws:ResourceAccount": "${AWS::AccountId}"}
            }
            assert own, (statement["Sid"], resource)


def test_no_revert_row_deletes_anything() -> None:
    for row in revert_rows():
        assert not row.operation.startswith(("Delete", "Terminate", "Remove")), row.operation


def test_the_revert_role_cannot_assume_roles_elsewhere() -> None:
    assert "sts:AssumeRole" not in actions(load("policy-revert-prod.json"))


def test_given_the_specs_the_revert_role_writes_only_what_opts_in(tmp_path: Path) -> None:
    specs = tmp_path / "policies"
    specs.mkdir()
    (specs / "web.yaml").write_text(
        "kind: security_group\ngroup_id: sg-0abc1234\nregion: eu-west-1\ningress: []\n"
        "on_drift: revert\n"
    )
    (specs / "named.yaml").write_text(
        "kind: security_group\nname: db\nregion: eu-west-1\ningress: []\non_drift: revert\n"
    )
    (specs / "logs.yaml").write_text("kind: s3_bucket\nname: acme-logs\non_drift: revert\n")
    (specs / "quiet.yaml").write_text("kind: s3_bucket\nname: acme-quiet\n")
    policy = json.loads(render_revert("prod", specs=str(specs)))
    writes = {s["Sid"]: s for s in policy["Statement"] if s["Sid"].startswith("Revert")}
    assert set(writes) == {"RevertEc2", "RevertS3"}  # no IAM or ELB spec opts in
    assert writes["RevertS3"]["Resource"] == "arn:${AWS::Partition}:s3:::acme-logs"
    # the group named by id is named; the one named by name only keeps the type's pattern
    assert writes["RevertEc2"]["Resource"] == [
        "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:security-group/*",
        "arn:${AWS::Partition}:ec2:eu-west-1:${AWS::AccountId}:security-group/sg-0abc1234",
    ]


def _allowed(policy: dict[str, Any], action: str, resource: str) -> bool:
    """IAM's verdict for one call, from Allow and Deny statements matched by glob after the
    stack's substitutions (stack setpoint-prod in eu-west-1, account 123456789012); an
    explicit Deny wins. Conditions are not evaluated (the statements used here have none)."""
    from fnmatch import fnmatchcase

    values = {
        "${AWS::Partition}": "aws",
        "${AWS::AccountId}": "123456789012",
        "${AWS::Region}": "eu-west-1",
        "${AWS::StackName}": "setpoint-prod",
        "${RoleName}": "setpoint-readonly",
    }

    def matches(statement: dict[str, Any]) -> bool:
        acts = statement["Action"]
        resources = statement["Resource"]
        if action not in ([acts] if isinstance(acts, str) else acts):
            return False
        for pattern in [resources] if isinstance(resources, str) else resources:
            for name, value in values.items():
                pattern = pattern.replace(name, value)
            if fnmatchcase(resource, pattern):
                return True
        return False

    hits = [s["Effect"] for s in policy["Statement"] if matches(s)]
    return "Allow" in hits and "Deny" not in hits


def test_the_revert_role_never_writes_to_setpoints_own_roles() -> None:
    """A spec for Setpoint's own role with `on_drift: revert` must not let the revert
    function put a wider policy on itself; a user's role is reverted as before."""
    policy = load("policy-revert-prod.json")
    iam_writes = sorted(a for a in TABLE_ACTIONS if a.startswith("iam:") and "Role" in a)
    assert iam_writes
    own = [
        "arn:aws:iam::123456789012:role/setpoint-prod-DefaultRole-1A2B3C",
        "arn:aws:iam::123456789012:role/setpoint-prod-RevertRole-4D5E6F",
        "arn:aws:iam::123456789012:role/setpoint-readonly",
        "arn:aws:iam::123456789012:role/setpoint-readonly-forwarder",
    ]
    for action in iam_writes:
        for role in own:
            assert not _allowed(policy, action, role), (action, role)
        assert _allowed(policy, action, "arn:aws:iam::123456789012:role/deploy"), action


def test_the_revert_role_reverts_in_every_watched_region_of_its_account() -> None:
    """The revert function runs in the home region; drift in another watched region is
    reverted there too, and never in another account."""
    policy = load("policy-revert-prod.json")
    for region in ("eu-west-1", "us-east-1", "ap-southeast-2"):
        group = f"arn:aws:ec2:{region}:123456789012:security-group/sg-0abc"
        assert _allowed(policy, "ec2:RevokeSecurityGroupIngress", group), region
        listener = f"arn:aws:elasticloadbalancing:{region}:123456789012:listener/app/web/1/2"
        assert _allowed(policy, "elasticloadbalancing:ModifyListener", listener), region
    other = "arn:aws:ec2:eu-west-1:222222222222:security-group/sg-0abc"
    assert not _allowed(policy, "ec2:RevokeSecurityGroupIngress", other)
