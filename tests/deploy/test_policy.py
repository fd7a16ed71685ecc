"""The Lambda's IAM policy: what the tables generate, read-only outside Setpoint's own things."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.deploy.calls import collector_calls
from chalicelib.deploy.policy import STAGES, main, render
from chalicelib.events.table import EVENT_SOURCES, eventbridge_source

ROOT = Path(__file__).resolve().parents[2]
READ_VERBS = ("Describe", "Get", "List", "Head")


def load(stage: str) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    return policy


def resources(statement: dict[str, Any]) -> list[str]:
    value = statement["Resource"]
    return [value] if isinstance(value, str) else list(value)


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READ_VERBS)


@pytest.mark.parametrize("stage", STAGES)
def test_committed_policy_is_what_the_tables_generate(stage: str) -> None:
    path = ROOT / ".chalice" / f"policy-{stage}.json"
    assert path.read_text(encoding="utf-8") == render(stage), (
        f"{path.name} differs from the call tables: run `make policy`"
    )


def test_policy_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--dir", str(tmp_path), "--check"]) == 0
    stale = tmp_path / "policy-prod.json"
    stale.write_text(stale.read_text().replace("iam:GetRole", "iam:*"))
    assert main(["--dir", str(tmp_path), "--check"]) == 1
    assert "policy-prod.json" in capsys.readouterr().err


@pytest.mark.parametrize("stage", STAGES)
def test_no_wildcard_action_and_no_write_outside_setpoint(stage: str) -> None:
    for statement in load(stage)["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert "*" not in action, (statement["Sid"], action)
            if is_read(action):
                continue
            scoped = resources(statement)
            if action == "kms:Decrypt":  # only through SSM, only for our parameters
                condition = statement["Condition"]["StringLike"]
                assert condition["kms:ViaService"] == "ssm.*.amazonaws.com"
                assert f"/setpoint/{stage}/" in condition["kms:EncryptionContext:PARAMETER_ARN"]
                continue
            for resource in scoped:
                assert resource != "*", (statement["Sid"], action)
                assert "setpoint" in resource.split(":", 5)[-1], (statement["Sid"], resource)


@pytest.mark.parametrize("stage", STAGES)
def test_reads_on_every_resource_are_exactly_the_collector_reads(stage: str) -> None:
    unscoped = {
        action
        for statement in load(stage)["Statement"]
        if "*" in resources(statement)
        for action in statement["Action"]
    }
    others = {"sts:GetCallerIdentity", "organizations:ListAccounts", "kms:Decrypt"}
    assert unscoped - others == {c.permission for c in collector_calls()}


@pytest.mark.parametrize("stage", STAGES)
def test_own_resources_are_named_for_the_stage(stage: str) -> None:
    by_sid = {s["Sid"]: s for s in load(stage)["Statement"]}
    assert resources(by_sid["AssumeReadOnlyRole"]) == ["arn:aws:iam::*:role/setpoint-readonly"]
    assert resources(by_sid["AlertState"]) == [f"arn:aws:dynamodb:*:*:table/setpoint-state-{stage}"]
    assert resources(by_sid["ChatWebhookSecret"]) == [
        f"arn:aws:ssm:*:*:parameter/setpoint/{stage}/*"
    ]
    assert resources(by_sid["ReadSpecObjects"]) == [f"arn:aws:s3:::setpoint-specs-*-{stage}/*"]
    assert "dynamodb:Scan" not in by_sid["AlertState"]["Action"]


def test_role_name_and_sns_topics_come_from_the_stage_config() -> None:
    config = {
        "environment_variables": {"SETPOINT_ROLE_NAME": "audit-reader"},
        "stages": {
            "prod": {
                "environment_variables": {
                    "SETPOINT_NOTIFIERS": json.dumps(
                        {
                            "notifiers": {
                                "mail": {
                                    "type": "sns",
                                    "topic_arn": "arn:aws:sns:eu-west-1:123456789012:drift",
                                }
                            }
                        }
                    )
                }
            }
        },
    }
    policy = json.loads(render("prod", config))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AssumeReadOnlyRole"]["Resource"] == "arn:aws:iam::*:role/audit-reader"
    assert by_sid["PublishToTopics"] == {
        "Sid": "PublishToTopics",
        "Effect": "Allow",
        "Action": ["sns:Publish"],
        "Resource": "arn:aws:sns:eu-west-1:123456789012:drift",
    }
    assert "PublishToTopics" not in {
        s["Sid"] for s in json.loads(render("dev", config))["Statement"]
    }


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short forms (!Sub, !Ref...) as plain values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _intrinsic)


def member_template() -> dict[str, Any]:
    text = (ROOT / "infra" / "member-account.yaml").read_text(encoding="utf-8")
    template: dict[str, Any] = yaml.load(text, Loader=_CfnLoader)
    return template


def test_member_account_role_grants_exactly_the_collector_reads() -> None:
    role = member_template()["Resources"]["ReadOnlyRole"]["Properties"]
    actions = {
        action
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in statement["Action"]
    }
    assert actions == {c.permission for c in collector_calls()}
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert "sts:ExternalId" in trust["Condition"]["StringEquals"]


def test_member_accounts_forward_every_event_source_setpoint_understands() -> None:
    pattern = member_template()["Resources"]["ForwardRule"]["Properties"]["EventPattern"]
    assert set(pattern["detail"]["eventSource"]) >= set(EVENT_SOURCES)
    assert set(pattern["source"]) >= {eventbridge_source(s) for s in EVENT_SOURCES}
