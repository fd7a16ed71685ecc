"""IAM from Terraform state: the specs a user gets, the errors they read, and moto round trips.

Fixture provenance: tests/fixtures/terraform/iam.tfstate follows the shape of public
format-4 states written by AWS provider v4/v5 (Terraform 1.6: `inline_policy: []` and
`managed_policy_arns: []` on roles whose attachments were made in the same apply,
`"private": "bnVsbA=="`, `index_key` for for_each, a module address), with attribute names
from terraform-provider-aws website/docs/r/iam_*.html.markdown. iam-exclusive.tfstate
adds the `*_exclusive` resources (provider 5.59+/v6; attribute names from their framework
schemas: role_name/user_name/group_name, policy_names, policy_arns) and the older
`aws_iam_policy_attachment`. Names, ids and the account (moto's 123456789012) are made up.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from chalicelib.compare.policy_document import parse_policy
from chalicelib.errors import SpecError, SpecSetError
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.collector import IamCollector
from chalicelib.kinds.iam.family import FAMILY
from chalicelib.kinds.iam.model import IamIdentitySpec, IamPolicySpec
from chalicelib.kinds.iam.pipeline import IamPipeline
from chalicelib.model import Status
from chalicelib.sources.declared import declared_file
from chalicelib.sources.terraform.model import TfInstance
from chalicelib.sources.terraform.state import parse_state
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import build_catalog

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "terraform"
ACCOUNT = "123456789012"
KINDS = frozenset({IAM_POLICY, IAM_ROLE, IAM_USER, IAM_GROUP})


def state_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def instances(name: str, text: str | None = None) -> list[TfInstance]:
    return parse_state(f"prod/{name}", text if text is not None else state_text(name))


def declare(found: list[TfInstance]) -> list[Any]:
    assert FAMILY.terraform is not None
    return list(FAMILY.terraform().declare(found))


def catalog(*names: str) -> SpecCatalog:
    found = [i for name in names for i in instances(name)]
    return build_catalog([declared_file("terraform:prod", declare(found))])


def specs_by_name(*names: str) -> dict[str, Any]:
    built = catalog(*names)
    return {spec.name: spec for specs in built.by_kind.values() for spec in specs}


def errors_of(state: dict[str, Any]) -> list[str]:
    found = instances("edited.tfstate", json.dumps(state))
    return [str(e) for e in declare(found) if isinstance(e, SpecError)]


def edit(name: str, type_: str, **attributes: Any) -> dict[str, Any]:
    """A fixture state with some attributes of the first resource of `type_` replaced."""
    state: dict[str, Any] = copy.deepcopy(json.loads(state_text(name)))
    resource = next(r for r in state["resources"] if r["type"] == type_)
    resource["instances"][0]["attributes"].update(attributes)
    return state


def doc(statement: dict[str, Any]) -> Any:
    return parse_policy({"Version": "2012-10-17", "Statement": [statement]})


# ------------------------------------------------------------------------- mapping


def test_the_mapping_reads_every_iam_type_the_docs_list() -> None:
    assert FAMILY.terraform is not None
    types = FAMILY.terraform().types
    for noun in ("role", "user", "group"):
        for suffix in ("", "_policy", "_policy_attachment", "_policies_exclusive"):
            assert f"aws_iam_{noun}{suffix}" in types
        assert f"aws_iam_{noun}_policy_attachments_exclusive" in types
    assert {"aws_iam_policy", "aws_iam_user_group_membership", "aws_iam_group_membership"} <= types


def test_a_role_must_have_what_its_role_policy_and_attachment_resources_declare() -> None:
    role = specs_by_name("iam.tfstate")["app-server"]
    assert isinstance(role, IamIdentitySpec) and role.kind is IAM_ROLE
    assert str(role.source) == "prod/iam.tfstate: module.app.aws_iam_role.this"
    assert role.account == ACCOUNT and role.path == "/"
    assert role.trust_policy == doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    assert set(role.inline_policies) == {"write-logs"}
    assert role.managed_policies == {
        f"arn:aws:iam::{ACCOUNT}:policy/ci/deploy-artifacts",
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    }
    assert role.permissions_boundary is None
    # tags_all: what AWS holds, the provider's default_tags included
    assert role.tags == {"team": "web", "env": "prod"}


def test_a_role_with_inline_blocks_and_managed_policy_arns_takes_them_as_declared() -> None:
    role = specs_by_name("iam.tfstate")["ci-deploy"]
    assert role.path == "/ci/"
    assert set(role.inline_policies) == {"read-params"}
    assert role.managed_policies == {f"arn:aws:iam::{ACCOUNT}:policy/ci/deploy-artifacts"}
    assert role.permissions_boundary == f"arn:aws:iam::{ACCOUNT}:policy/ci/deploy-artifacts"
    # the data source's indented JSON with Sid "" reads as the same policy
    (statement,) = role.trust_policy.statements
    assert "sts:assumerolewithwebidentity" in str(statement).lower()


def test_policy_user_and_group_specs() -> None:
    built = specs_by_name("iam.tfstate")
    policy = built["deploy-artifacts"]
    assert isinstance(policy, IamPolicySpec)
    assert policy.path == "/ci/" and policy.description == "Read and write build artifacts"
    user, group = built["deployer"], built["devs"]
    assert user.kind is IAM_USER and group.kind is IAM_GROUP
    assert user.managed_policies == {"arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert user.inline_policies == {} and user.groups == {"devs"}
    assert set(group.inline_policies) == {"describe"}
    assert group.managed_policies == {"arn:aws:iam::aws:policy/IAMUserChangePassword"}
    # alice is only named by the group membership: no spec for her
    assert "alice" not in built
    # the data source is not desired state
    assert all("data." not in str(spec.source) for spec in built.values())


def test_exclusive_resources_decide_the_sets_over_the_roles_refreshed_copies() -> None:
    built = specs_by_name("iam-exclusive.tfstate")
    role = built["etl"]
    # the role's blocks hold a refreshed copy of a hand-made "scratch" policy and
    # AdministratorAccess; the exclusive resources (what apply enforces) leave them out
    assert set(role.inline_policies) == {"etl-read"}
    assert role.managed_policies == {"arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"}
    auditor = built["auditor"]
    assert auditor.path == "/audit/" and auditor.inline_policies == {}
    assert auditor.managed_policies == {"arn:aws:iam::aws:policy/SecurityAudit"}
    assert auditor.groups == frozenset() and auditor.tags == {"team": "security"}
    assert built["auditors"].managed_policies == {
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
    }


def test_without_exclusive_resources_the_role_is_the_union_of_its_parts() -> None:
    state = json.loads(state_text("iam-exclusive.tfstate"))
    state["resources"] = [r for r in state["resources"] if not r["type"].endswith("_exclusive")]
    found = instances("edited.tfstate", json.dumps(state))
    role = next(
        d for d in declare(found) if not isinstance(d, SpecError) and d.data["name"] == "etl"
    )
    assert set(role.data["inline_policies"]) == {"etl-read", "scratch"}
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in role.data["managed_policies"]


def test_an_unparsable_policy_document_is_an_error_naming_the_instance() -> None:
    state = edit("iam.tfstate", "aws_iam_role_policy", policy='{"Version": "2012-10-17", ')
    (error,) = errors_of(state)
    assert error.startswith(
        'prod/edited.tfstate: module.app.aws_iam_role_policy.this["write-logs"]: policy:'
    )
    assert "not JSON" in error and "line 1" in error
    # the role is not declared without that policy (its live copy would read as drift)
    found = instances("edited.tfstate", json.dumps(state))
    names = {d.data["name"] for d in declare(found) if not isinstance(d, SpecError)}
    assert names == {"deploy-artifacts", "ci-deploy", "deployer", "devs"}


def test_an_unparsable_trust_policy_names_the_role_and_the_role_is_not_declared() -> None:
    state = edit("iam.tfstate", "aws_iam_role", assume_role_policy="not json")
    found = instances("edited.tfstate", json.dumps(state))
    out = declare(found)
    (error,) = [e for e in out if isinstance(e, SpecError)]
    assert str(error).startswith(
        "prod/edited.tfstate: module.app.aws_iam_role.this: assume_role_policy:"
    )
    assert "app-server" not in {d.data["name"] for d in out if not isinstance(d, SpecError)}
    with pytest.raises(SpecSetError):
        build_catalog([declared_file("terraform:prod", out)])


def test_a_policy_that_is_json_but_not_a_policy_is_a_schema_error_naming_the_instance() -> None:
    state = edit("iam.tfstate", "aws_iam_policy", policy='{"Version": "2012-10-17"}')
    found = instances("edited.tfstate", json.dumps(state))
    parsed = declared_file("terraform:prod", declare(found))
    (error,) = parsed.errors
    assert "prod/edited.tfstate: aws_iam_policy.deploy_artifacts" in str(error)
    assert "Statement" in str(error)


def test_a_document_the_state_marks_sensitive_is_refused_without_printing_it() -> None:
    # a trust policy built from a sensitive variable (an sts:ExternalId)
    secret = "ext-id-7f3a9c"
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": secret}},
                }
            ],
        }
    )
    state = edit("iam.tfstate", "aws_iam_role", assume_role_policy=trust)
    role = next(r for r in state["resources"] if r["type"] == "aws_iam_role")
    role["instances"][0]["sensitive_attributes"] = [
        [{"type": "get_attr", "value": "assume_role_policy"}]
    ]
    found = instances("edited.tfstate", json.dumps(state))
    out = declare(found)
    (error,) = [str(e) for e in out if isinstance(e, SpecError)]
    assert error == (
        "prod/edited.tfstate: module.app.aws_iam_role.this: assume_role_policy:"
        " assume_role_policy is marked sensitive in the state; Setpoint does not read"
        " sensitive values"
    )
    assert all(secret not in json.dumps(getattr(d, "data", {})) for d in out)


def test_a_role_policy_outside_the_exclusive_list_is_an_error_naming_both() -> None:
    state = edit("iam-exclusive.tfstate", "aws_iam_role_policies_exclusive", policy_names=[])
    (error,) = errors_of(state)
    assert error.startswith("prod/edited.tfstate: aws_iam_role_policy.etl_read: name:")
    assert "aws_iam_role_policies_exclusive.etl does not list" in error


def test_an_exclusive_name_without_a_document_is_an_error() -> None:
    state = edit(
        "iam-exclusive.tfstate",
        "aws_iam_role_policies_exclusive",
        policy_names=["etl-read", "etl-write"],
    )
    (error,) = errors_of(state)
    assert error.startswith("prod/edited.tfstate: aws_iam_role_policies_exclusive.etl:")
    assert "'etl-write'" in error and "declares its document" in error


def test_an_attachment_outside_the_exclusive_list_is_an_error() -> None:
    state = edit(
        "iam-exclusive.tfstate", "aws_iam_group_policy_attachments_exclusive", policy_arns=[]
    )
    (error,) = errors_of(state)
    assert error.startswith("prod/edited.tfstate: aws_iam_policy_attachment.view_only:")
    assert "ViewOnlyAccess" in error and "group auditors" in error


def test_a_part_of_a_role_no_state_declares_is_left_out() -> None:
    state = json.loads(state_text("iam.tfstate"))
    state["resources"] = [r for r in state["resources"] if r["type"] != "aws_iam_role"]
    found = instances("edited.tfstate", json.dumps(state))
    out = declare(found)
    assert not [e for e in out if isinstance(e, SpecError)]
    assert {d.data["kind"] for d in out} == {"iam_policy", "iam_user", "iam_group"}


def test_a_role_name_in_two_accounts_parts_go_to_their_own_state() -> None:
    other = state_text("iam.tfstate").replace(ACCOUNT, "210987654321")
    found = instances("iam.tfstate") + parse_state("staging/iam.tfstate", other)
    out = declare(found)
    assert not [e for e in out if isinstance(e, SpecError)]
    roles = [d for d in out if d.data["name"] == "app-server"]
    assert {r.data["account"] for r in roles} == {ACCOUNT, "210987654321"}
    for role in roles:
        assert len(role.data["managed_policies"]) == 2
    build_catalog([declared_file("terraform:all", out)])  # accounts differ: no conflict


def test_a_part_in_a_third_state_for_a_name_two_accounts_use_is_an_error() -> None:
    other = state_text("iam.tfstate").replace(ACCOUNT, "210987654321")
    state = json.loads(state_text("iam.tfstate"))
    state["resources"] = [
        r for r in state["resources"] if r["type"] == "aws_iam_user_policy_attachment"
    ]
    found = instances("iam.tfstate") + parse_state("staging/iam.tfstate", other)
    found += parse_state("shared/attachments.tfstate", json.dumps(state))
    errors = [str(e) for e in declare(found) if isinstance(e, SpecError)]
    assert errors == [
        "shared/attachments.tfstate: aws_iam_user_policy_attachment.deployer: user: user"
        " deployer is declared by prod/iam.tfstate: aws_iam_user.deployer, staging/iam.tfstate:"
        " aws_iam_user.deployer; cannot tell which this belongs to (keep each account's"
        " resources in its own state)"
    ]


def test_one_inline_policy_with_two_documents_is_an_error_naming_both() -> None:
    state = json.loads(state_text("iam.tfstate"))
    (resource,) = [r for r in state["resources"] if r["type"] == "aws_iam_role_policy"]
    twin = copy.deepcopy(resource)
    twin["name"] = "twin"
    twin["instances"][0]["attributes"]["policy"] = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
    state["resources"].append(twin)
    (error,) = errors_of(state)
    assert error.startswith(
        'prod/edited.tfstate: module.app.aws_iam_role_policy.twin["write-logs"]'
    )
    assert (
        'also declared by prod/edited.tfstate: module.app.aws_iam_role_policy.this["write-logs"]'
        in error
    )
    assert "another document" in error


def test_an_empty_inline_policy_block_declares_no_policy() -> None:
    # `inline_policy {}` in HCL: "remove every inline policy"; the state keeps one empty block
    state = edit("iam.tfstate", "aws_iam_role", inline_policy=[{"name": "", "policy": ""}])
    found = instances("edited.tfstate", json.dumps(state))
    role = next(d for d in declare(found) if d.data["name"] == "app-server")
    assert set(role.data["inline_policies"]) == {"write-logs"}


def test_the_account_wide_policy_attachment_attaches_to_roles_users_and_groups() -> None:
    state = json.loads(state_text("iam.tfstate"))
    state["resources"].append(
        {
            "mode": "managed",
            "type": "aws_iam_policy_attachment",
            "name": "read_only",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [
                {
                    "schema_version": 0,
                    "attributes": {
                        "groups": ["devs"],
                        "id": "read-only",
                        "name": "read-only",
                        "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                        "roles": ["app-server"],
                        "users": ["deployer"],
                    },
                }
            ],
        }
    )
    found = instances("edited.tfstate", json.dumps(state))
    by_name = {d.data["name"]: d.data for d in declare(found)}
    for name in ("app-server", "deployer", "devs"):
        assert "arn:aws:iam::aws:policy/ReadOnlyAccess" in by_name[name]["managed_policies"]


def test_one_role_in_two_states_is_a_conflict_naming_both() -> None:
    found = instances("iam.tfstate") + parse_state("copy/iam.tfstate", state_text("iam.tfstate"))
    with pytest.raises(SpecSetError) as raised:
        build_catalog([declared_file("terraform:all", declare(found))])
    text = str(raised.value)
    assert "copy/iam.tfstate: module.app.aws_iam_role.this" in text
    assert "prod/iam.tfstate: module.app.aws_iam_role.this" in text


# ----------------------------------------------------------------- round trips (moto)


def build_account(iam: Any) -> None:
    """The account iam.tfstate describes, made with boto3 as Terraform would have."""
    state = json.loads(state_text("iam.tfstate"))
    attrs = {
        f"{r['type']}.{r['name']}": r["instances"][0]["attributes"] for r in state["resources"]
    }
    policy = attrs["aws_iam_policy.deploy_artifacts"]
    iam.create_policy(
        PolicyName="deploy-artifacts",
        Path="/ci/",
        Description=policy["description"],
        PolicyDocument=policy["policy"],
    )
    app = attrs["aws_iam_role.this"]
    iam.create_role(
        RoleName="app-server",
        AssumeRolePolicyDocument=app["assume_role_policy"],
        Tags=[{"Key": k, "Value": v} for k, v in app["tags_all"].items()],
    )
    iam.put_role_policy(
        RoleName="app-server",
        PolicyName="write-logs",
        PolicyDocument=attrs["aws_iam_role_policy.this"]["policy"],
    )
    for arn in (
        f"arn:aws:iam::{ACCOUNT}:policy/ci/deploy-artifacts",
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    ):
        iam.attach_role_policy(RoleName="app-server", PolicyArn=arn)
    ci = attrs["aws_iam_role.ci"]
    iam.create_role(
        RoleName="ci-deploy",
        Path="/ci/",
        AssumeRolePolicyDocument=ci["assume_role_policy"],
        PermissionsBoundary=ci["permissions_boundary"],
    )
    iam.put_role_policy(
        RoleName="ci-deploy",
        PolicyName="read-params",
        PolicyDocument=ci["inline_policy"][0]["policy"],
    )
    iam.attach_role_policy(RoleName="ci-deploy", PolicyArn=ci["managed_policy_arns"][0])
    iam.create_user(UserName="deployer")
    iam.attach_user_policy(UserName="deployer", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.create_group(GroupName="devs")
    iam.put_group_policy(
        GroupName="devs",
        PolicyName="describe",
        PolicyDocument=attrs["aws_iam_group_policy.devs"]["policy"],
    )
    iam.attach_group_policy(
        GroupName="devs", PolicyArn="arn:aws:iam::aws:policy/IAMUserChangePassword"
    )
    iam.add_user_to_group(GroupName="devs", UserName="deployer")


@pytest.fixture
def iam(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # AWS managed policies
    client = boto3.client("iam", region_name="us-east-1")
    build_account(client)
    return client


def sweep(iam: Any) -> dict[str, Any]:
    pipeline = IamPipeline(IamCollector(lambda: iam))
    findings = pipeline.sweep(catalog("iam.tfstate"), ACCOUNT, ["us-east-1"], KINDS).findings
    return {str(f.name): f for f in findings}


def test_round_trip_the_account_the_state_describes_is_in_sync(iam: Any) -> None:
    findings = sweep(iam)
    assert set(findings) == {"deploy-artifacts", "app-server", "ci-deploy", "deployer", "devs"}
    drifted = {name: f.changes for name, f in findings.items() if f.status is not Status.IN_SYNC}
    assert drifted == {}


def test_round_trip_a_policy_attached_by_hand_is_drift_named_by_the_state_address(
    iam: Any,
) -> None:
    iam.attach_role_policy(
        RoleName="app-server", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    finding = sweep(iam)["app-server"]
    assert finding.status is Status.DRIFTED
    assert finding.spec == "prod/iam.tfstate: module.app.aws_iam_role.this"
    (change,) = finding.changes
    assert change.path == "managed_policies"
    assert "AdministratorAccess" in change.summary and "not in spec" in change.summary


def test_round_trip_an_inline_policy_and_a_group_added_by_hand_are_drift(iam: Any) -> None:
    iam.put_user_policy(
        UserName="deployer",
        PolicyName="backdoor",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    iam.create_group(GroupName="Admins")
    iam.add_user_to_group(GroupName="Admins", UserName="deployer")
    iam.delete_role_policy(RoleName="ci-deploy", PolicyName="read-params")
    findings = sweep(iam)
    user = findings["deployer"]
    assert user.status is Status.DRIFTED and user.spec == "prod/iam.tfstate: aws_iam_user.deployer"
    assert {c.path for c in user.changes} == {"inline_policies.backdoor", "groups"}
    role = findings["ci-deploy"]
    assert role.status is Status.DRIFTED and role.spec == "prod/iam.tfstate: aws_iam_role.ci"
    (change,) = role.changes
    assert change.path == "inline_policies.read-params" and change.op == "remove"
    assert findings["Admins"].status is Status.UNMANAGED


def check_json(states: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    kinds = ",".join(sorted(kind.value for kind in KINDS))
    code = main(["check", "--specs", f"terraform:{states}", "--kinds", kinds, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_round_trip_through_check_specs_terraform_dir(
    iam: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    states = tmp_path / "states"
    (states / "prod").mkdir(parents=True)
    (states / "prod" / "iam.tfstate").write_text(state_text("iam.tfstate"))
    code, report = check_json(states, capsys)
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["checked"] == 5

    iam.attach_role_policy(
        RoleName="app-server", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    code, report = check_json(states, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["name"] == "app-server" and finding["status"] == "drifted"
    assert finding["spec"] == "prod/iam.tfstate: module.app.aws_iam_role.this"
    assert finding["spec_line"] is None
