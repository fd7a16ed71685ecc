"""What the fuzz tests found, each pinned as the input a user (or a pipeline) would send."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.aws import ClientCache
from chalicelib.errors import SpecError, SpecSetError
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import Status
from chalicelib.sources.ansible.provider import load_ansible
from chalicelib.sources.terraform.provider import terraform_provider
from chalicelib.sources.terraform.state import parse_state
from chalicelib.specs.parse import parse_file
from tests.chat_server import ChatServer
from tests.conftest import sample
from tests.fuzz.mutations import FIXTURES
from tests.state.world import make_runtime, specs


def test_a_record_with_a_made_up_region_is_unknown_without_a_read(
    aws: None, chat_server: ChatServer
) -> None:
    """A published DeleteTrail record whose awsRegion was scrambled ("megov-westwest-1r"):
    the read went to an endpoint that does not exist (moto raised KeyError, AWS a DNS
    failure after retries). Now nothing is read and the finding says why."""
    runtime = make_runtime(chat_server.url, specs())
    outcome = handle_cloudtrail_event(sample("cloudtrail/DeleteTrail__1"), runtime)
    (finding,) = outcome.findings
    assert finding.status is Status.UNKNOWN
    assert "region 'megov-westwest-1r' is not an AWS region name" in (finding.reason or "")
    assert finding.actor is not None and finding.actor.event_name == "DeleteTrail"


@pytest.mark.parametrize("kind", ["iam_role", "iam_user", "iam_group", "iam_policy"])
def test_an_iam_spec_without_a_name_is_a_validation_error(kind: str) -> None:
    """The builder read data["name"] after the schema had reported it missing: KeyError."""
    body = {
        "iam_role": "trust_policy: {Version: '2012-10-17', Statement: []}\n",
        "iam_policy": "document: {Version: '2012-10-17', Statement: []}\n",
    }.get(kind, "")
    parsed = parse_file("policies/iam/x.yaml", f"kind: {kind}\n{body}")
    assert [(e.line, e.field, e.message) for e in parsed.errors] == [
        (1, "name", "missing required field 'name'")
    ]


def test_a_control_character_is_an_error_with_its_line() -> None:
    (error,) = parse_file("policies/web.yaml", "kind: security_group\nname: web\x1f\n").errors
    assert (error.line, error.message) == (
        2,
        "invalid YAML: character U+001F: control characters are not allowed",
    )


def test_a_lone_surrogate_in_spec_text_is_an_error_with_its_line() -> None:
    """A bundle is JSON: `"\\ud800"` in it reached libyaml as a str it cannot encode."""
    (error,) = parse_file("policies/web.yaml", "kind: security_group\nname: w\ud800b\n").errors
    assert error.line == 2 and "lone surrogate U+D800" in error.message


@pytest.mark.parametrize(
    ("text", "says", "field"),
    [
        ('{"version": 4, "resources": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper", None),
        ('{"version": 4, "resources": ' + "[" * 70 + "]" * 70 + "}", "nested deeper", "resources"),
        ('{"version": 4, "serial": ' + "7" * 5000 + "}", "4,300 digits", None),
        ('{"version": 4, "resources": [{"type": "aws_s3_bucket\\ud800"}]}', "lone surrogate", None),
    ],
)
def test_a_state_json_cannot_hold_is_a_spec_error_naming_it(
    text: str, says: str, field: str | None
) -> None:
    """RecursionError and ValueError escaped from json.loads; deep or unencodable values
    went on to the mappings and the reports."""
    with pytest.raises(SpecError, match=says) as caught:
        parse_state("states/prod.tfstate", text)
    assert caught.value.file == "states/prod.tfstate"
    if field is not None:
        assert (caught.value.field or "").startswith(field)


def test_a_playbook_rule_whose_proto_is_a_list_is_an_error_naming_the_playbook(
    tmp_path: Path,
) -> None:
    """`proto: [tcp]` reached a set lookup: TypeError (unhashable type: 'list')."""
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- hosts: localhost\n"
        "  tasks:\n"
        "    - amazon.aws.ec2_security_group:\n"
        "        name: web\n"
        "        description: web\n"
        "        region: eu-west-1\n"
        "        rules:\n"
        "          - proto: [tcp]\n"
        "            ports: 443\n"
        "            cidr_ip: 0.0.0.0/0\n"
    )
    with pytest.raises(SpecSetError) as caught:
        load_ansible(str(playbook))
    (error,) = caught.value.errors
    assert error.file.endswith("site.yml") and error.line == 8
    assert "proto" in (error.field or "") + error.message


def test_a_listener_action_order_that_is_not_a_number_names_the_listener(tmp_path: Path) -> None:
    """`"order": [1]` reached int(): TypeError out of the Terraform source."""
    state = json.loads((FIXTURES / "terraform" / "lb.tfstate").read_text())
    listener = next(r for r in state["resources"] if r["type"] == "aws_lb_listener")
    listener["instances"][0]["attributes"]["default_action"][0]["order"] = [1]
    path = tmp_path / "lb.tfstate"
    path.write_text(json.dumps(state))
    with pytest.raises(SpecSetError) as caught:
        terraform_provider(str(path), ClientCache())()
    (error,) = caught.value.errors
    assert error.file.startswith(f"{path}: ") and "aws_lb_listener." in error.file
    assert error.field == "default_action"
    assert "default_action order [1] is not a number" in error.message


def test_a_playbook_date_yaml_cannot_read_is_an_error_naming_the_file(tmp_path: Path) -> None:
    """`2026-13-45` is a timestamp to YAML: ValueError (month must be in 1..12)."""
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: localhost\n  vars:\n    until: 2026-13-45\n  tasks: []\n")
    with pytest.raises(SpecSetError) as caught:
        load_ansible(str(playbook))
    (error,) = caught.value.errors
    assert error.file.endswith("site.yml") and "month must be in 1..12" in error.message


def _play(args: str) -> str:
    return (
        "- hosts: localhost\n  tasks:\n    - amazon.aws.ec2_security_group:\n"
        "        name: web\n        description: web\n        region: eu-west-1\n" + args
    )


def test_a_playbook_nested_past_the_budget_is_an_error_not_a_recursion_error(
    tmp_path: Path,
) -> None:
    """950 levels in a task's arguments: RecursionError in the line walk."""
    playbook = tmp_path / "site.yml"
    playbook.write_text(_play("        tags: " + "[" * 950 + "]" * 950 + "\n"))
    with pytest.raises(SpecSetError) as caught:
        load_ansible(str(playbook))
    (error,) = caught.value.errors
    assert error.file.endswith("site.yml") and "over the budget of 64 levels" in error.message


def test_an_alias_bomb_in_a_task_is_an_error_naming_the_task(tmp_path: Path) -> None:
    """Nine aliases of nine, eight deep, in a task's arguments: the line walk visited
    every expansion (43 million values) and no error said why."""
    bomb = "".join(f"        x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
    playbook = tmp_path / "site.yml"
    playbook.write_text(_play("        tags:\n        x0: &a0 [lol]\n" + bomb))
    with pytest.raises(SpecSetError) as caught:
        load_ansible(str(playbook))
    (error,) = caught.value.errors
    assert (error.file, error.line) == (str(playbook), 3)
    assert "expand past 100,000 values (aliases)" in error.message


@pytest.mark.parametrize("hosts", ["A" * 300, "../../outside"])
def test_a_hosts_name_that_is_no_file_name_reads_no_vars_file(tmp_path: Path, hosts: str) -> None:
    """`hosts:` of 300 characters: OSError (file name too long) looking for group_vars;
    `../../outside` read a file outside the playbook's folder."""
    (tmp_path / "outside.yml").write_text("desc: from outside\n")
    root = tmp_path / "play"
    (root / "group_vars").mkdir(parents=True)
    (root / "site.yml").write_text(
        _play("")
        .replace("localhost", hosts)
        .replace("description: web", "description: '{{ desc | default(\"web\") }}'")
    )
    catalog = load_ansible(str(root / "site.yml"))
    (spec,) = catalog.specs_of("security_group")
    assert spec.description == "web"


@pytest.mark.parametrize(
    ("vars_files", "says"),
    [("[" + "A" * 300 + "]", "not found"), ("[[]]", "a vars_files entry is an empty list")],
)
def test_a_vars_files_entry_no_file_can_match_is_an_error_naming_the_play(
    tmp_path: Path, vars_files: str, says: str
) -> None:
    """A 300-character name raised OSError (file name too long); `[]` raised IndexError."""
    playbook = tmp_path / "site.yml"
    playbook.write_text(f"- hosts: localhost\n  vars_files: {vars_files}\n  tasks: []\n")
    with pytest.raises(SpecSetError) as caught:
        load_ansible(str(playbook))
    (error,) = caught.value.errors
    assert (error.file, error.line, error.field) == (str(playbook), 2, "vars_files")
    assert says in error.message
