"""The Lambda's IAM policy: what the tables generate, read-only outside Setpoint's own things,
and everything it names pinned to the stack's own account and region."""

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
# LookupEvents reads CloudTrail event history; it has no resource-level permissions
READ_VERBS = ("Describe", "Get", "List", "Head", "Lookup")
PARTITION, REGION, ACCOUNT = "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}"
# the only actions that need "*": collector reads (checked below), who am I, which accounts
UNSCOPED = {"sts:GetCallerIdentity", "organizations:ListAccounts"}
# the member role: named by the RoleName parameter, in the accounts the Accounts parameter
# lists by id (Fn::Split on deploy), else in the stack's organization
MEMBER_ROLE = f"arn:{PARTITION}:iam::*:role/${{RoleName}}"
IN_ACCOUNTS = {"StringEquals": {"aws:ResourceAccount": "${Accounts}"}}
IN_ORGANIZATION = {"StringEquals": {"aws:ResourceOrgID": "${OrganizationId}"}}
ACCOUNT_LIMITS = (IN_ACCOUNTS, IN_ORGANIZATION)


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
                condition = statement["Condition"]
                assert condition["StringEquals"] == {
                    "kms:ViaService": f"ssm.{REGION}.amazonaws.com"
                }
                assert condition["StringLike"] == {
                    "kms:EncryptionContext:PARAMETER_ARN": (
                        f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter/setpoint/{stage}/*"
                    )
                }
                continue
            if action == "kms:Verify":
                assert scoped == ["${SpecVerifyKey}"]
                continue
            if action == "sns:Publish" and statement["Sid"] == "PublishToNotifierTopics":
                assert scoped == ["${NotifierTopicArns}"]  # Fn::Split of the topic list
                continue
            if statement["Sid"] == "QueryCloudTrailLake":
                # StartQuery runs SQL that Lake allows to be a SELECT only, on one store
                assert scoped == ["${ActorLakeEventDataStore}"], action
                continue
            if action == "sts:AssumeRole":  # the role parameter, in listed or org accounts
                assert scoped == [MEMBER_ROLE], statement["Sid"]
                assert statement["Condition"] in ACCOUNT_LIMITS, statement["Sid"]
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
    assert unscoped - UNSCOPED == {c.permission for c in collector_calls()}


def _pinned(statement: dict[str, Any], resource: str) -> bool:
    """Is `resource` this stack's: its account and region, or (S3) its account by condition,
    or (the member role) a configured account or the stack's organization?"""
    # the pseudo parameters hold "::"; name them by a letter before splitting the ARN
    for name, letter in ((PARTITION, "P"), (REGION, "R"), (ACCOUNT, "A")):
        resource = resource.replace(name, f"<{letter}>")
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[:2] != ["arn", "<P>"]:
        return False
    service, region, account = parts[2], parts[3], parts[4]
    condition = statement.get("Condition", {}).get("StringEquals", {})
    if service == "s3":
        bucket = parts[5].split("/", 1)[0]
        return "<A>" in bucket and condition == {"aws:ResourceAccount": ACCOUNT}
    if service == "iam":  # global: no region; another account is the point
        return account == "*" and statement.get("Condition") in ACCOUNT_LIMITS
    return region == "<R>" and account == "<A>"


@pytest.mark.parametrize("stage", STAGES)
def test_every_named_resource_is_pinned_to_this_account_and_region(stage: str) -> None:
    """What a reviewer checks: no `*` account or region, no bucket of any owner."""
    for statement in load(stage)["Statement"]:
        named = [r for r in resources(statement) if r != "*"]
        if statement["Sid"] == "VerifySpecs":
            assert named == ["${SpecVerifyKey}"]  # the key parameter, Fn::If-guarded on deploy
            continue
        if statement["Sid"] == "PublishToNotifierTopics":  # topics are elsewhere on purpose
            assert named == ["${NotifierTopicArns}"]
            continue
        if statement["Sid"] == "ReadTerraformStates":  # the user's bucket, maybe elsewhere
            bucket = "arn:${AWS::Partition}:s3:::${TerraformStateBucket}"
            assert named == [bucket, f"{bucket}/*"]
            assert not [a for a in statement["Action"] if not a.startswith(("s3:Get", "s3:List"))]
            continue
        if statement["Sid"] == "QueryCloudTrailLake":  # an organization's store, maybe
            # in the management or a delegated administrator account: only that one store
            assert named == ["${ActorLakeEventDataStore}"]
            assert statement["Action"] == ["cloudtrail:GetQueryResults", "cloudtrail:StartQuery"]
            continue
        if not named:
            assert set(statement["Action"]) <= UNSCOPED | {
                c.permission for c in collector_calls()
            }, statement["Sid"]
        for resource in named:
            assert _pinned(statement, resource), (statement["Sid"], resource)


@pytest.mark.parametrize("stage", STAGES)
def test_kms_verify_is_granted_on_the_verify_key_parameter_only(stage: str) -> None:
    verifying = [s for s in load(stage)["Statement"] if "kms:Verify" in s["Action"]]
    assert verifying == [
        {
            "Sid": "VerifySpecs",
            "Effect": "Allow",
            "Action": ["kms:DescribeKey", "kms:Verify"],
            "Resource": "${SpecVerifyKey}",
        }
    ]
    assert not any(
        "kms:Sign" in s["Action"] for s in load(stage)["Statement"]
    )  # signing stays with CI


@pytest.mark.parametrize("stage", STAGES)
def test_own_resources_are_named_for_the_stage(stage: str) -> None:
    by_sid = {s["Sid"]: s for s in load(stage)["Statement"]}
    arn = f"arn:{PARTITION}"
    assert resources(by_sid["AssumeReadOnlyRole"]) == [MEMBER_ROLE]
    assert resources(by_sid["AlertState"]) == [
        f"{arn}:dynamodb:{REGION}:{ACCOUNT}:table/setpoint-state-{stage}"
    ]
    assert resources(by_sid["ChatWebhookSecret"]) == [
        f"{arn}:ssm:{REGION}:{ACCOUNT}:parameter/setpoint/{stage}/*"
    ]
    # the bucket infra/setpoint.yaml creates, in this account: not setpoint-specs-*-<stage>
    assert resources(by_sid["ReadSpecObjects"]) == [
        f"{arn}:s3:::setpoint-specs-{ACCOUNT}-{stage}/*"
    ]
    assert "dynamodb:Scan" not in by_sid["AlertState"]["Action"]


def test_sns_topics_come_from_the_stage_config_the_role_name_from_its_parameter() -> None:
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
    # the config's role name is the RoleName parameter's default, not text in the policy:
    # a deployment that overrides the parameter gets a policy that follows it
    assert by_sid["AssumeReadOnlyRole"]["Resource"] == MEMBER_ROLE
    assert "audit-reader" not in render("prod", config)
    assert by_sid["PublishToTopics"] == {
        "Sid": "PublishToTopics",
        "Effect": "Allow",
        "Action": ["sns:Publish"],
        "Resource": "arn:aws:sns:eu-west-1:123456789012:drift",
    }
    assert "PublishToTopics" not in {
        s["Sid"] for s in json.loads(render("dev", config))["Statement"]
    }


def test_listed_account_ids_are_the_only_roles_assumed_else_the_organizations() -> None:
    """Two statements, one kept on deploy: HasAccountIds (Accounts lists ids) or not."""
    config = {"environment_variables": {"SETPOINT_ACCOUNTS": "210987654321,111122223333"}}
    by_sid = {s["Sid"]: s for s in json.loads(render("prod", config))["Statement"]}
    assert by_sid["AssumeReadOnlyRoleInAccounts"] == {
        "Sid": "AssumeReadOnlyRoleInAccounts",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole"],
        "Resource": MEMBER_ROLE,
        "Condition": IN_ACCOUNTS,
    }
    assert by_sid["AssumeReadOnlyRole"]["Condition"] == IN_ORGANIZATION
    # the accounts are the Accounts parameter's default, never baked into the file
    organization = {"environment_variables": {"SETPOINT_ACCOUNTS": "organization"}}
    assert render("prod", organization) == render("prod", config) == render("prod")


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


def merge_template() -> dict[str, Any]:
    text = (ROOT / "infra" / "setpoint.yaml").read_text(encoding="utf-8")
    template: dict[str, Any] = yaml.load(text, Loader=_CfnLoader)
    return template


def test_only_the_member_accounts_forwarder_roles_may_put_events_on_the_bus() -> None:
    template = merge_template()
    statement = template["Resources"]["MemberAccountsEventBusPolicy"]["Properties"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "events:PutEvents"
    # Principal "*" is narrowed by both conditions: the organization, and the forwarder role
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}},
        "ArnLike": {
            "aws:PrincipalArn": {"Sub": "arn:${AWS::Partition}:iam::*:role/${ForwarderRoleName}"}
        },
    }
    assert statement["Resource"] == {
        "Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
    }
    # the default forwarder name is the one the member template gives its forwarding role
    member = member_template()
    forwarder = member["Resources"]["ForwarderRole"]["Properties"]["RoleName"]["Sub"]
    role_name = member["Parameters"]["RoleName"]["Default"]
    default = template["Parameters"]["ForwarderRoleName"]["Default"]
    assert forwarder.replace("${RoleName}", role_name) == default
    targets = member["Resources"]["ForwardRule"]["Properties"]["Targets"]
    assert [t["RoleArn"]["Sub"].rsplit("/", 1)[1] for t in targets] == [forwarder]


def test_the_verify_key_parameter_is_a_key_arn_and_guards_its_statement() -> None:
    template = merge_template()
    import re

    pattern = re.compile(template["Parameters"]["SpecVerifyKey"]["AllowedPattern"])
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert pattern.match(key) and pattern.match("")
    assert not pattern.match("*") and not pattern.match("alias/setpoint")
    assert not pattern.match("arn:aws:kms:us-east-1:123456789012:key/*")
    assert "HasVerifyKey" in template["Conditions"]
