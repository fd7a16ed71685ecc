"""docs/deploy.md names only what the templates and the code really have.

A guide that says `ParameterKey=ExternalID` or an output nobody declares fails a deploy
at the worst moment. Parameters are the merge templates' plus one per setting of
`.chalice/config.json` (test_package.py checks that the packaged template has exactly
those); logical ids are checked on the packaged template in test_deploy_examples.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from chalicelib.cli.main import build_parser
from chalicelib.deploy.parameters import parameter_name
from chalicelib.deploy.policy import stage_environment
from tests.deploy.test_policy import _CfnLoader

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploy.md"


def template(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "infra" / name).read_text(), Loader=_CfnLoader)
    return loaded


CENTRAL = template("setpoint.yaml")
MEMBER = template("member-account.yaml")
GLOBALS = CENTRAL["Globals"]["Function"]["Environment"]["Variables"]
SETTINGS = {var for var in stage_environment("prod") if var not in GLOBALS}
CENTRAL_PARAMETERS = set(CENTRAL["Parameters"]) | {parameter_name(v) for v in SETTINGS}
MEMBER_PARAMETERS = set(MEMBER["Parameters"])


def text() -> str:
    return DOC.read_text(encoding="utf-8")


def code_blocks() -> list[str]:
    return re.findall(r"```(?:sh|json)?\n(.*?)```", text(), flags=re.DOTALL)


def commands(block: str) -> list[str]:
    """Shell commands of a block, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", block)
    lines = [re.sub(r"\s#\s.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_every_parameter_a_command_gives_belongs_to_its_template() -> None:
    given = 0
    for block in code_blocks():
        for command in commands(block):
            if not command.startswith(("aws cloudformation", "sam ")):
                continue
            member = "member-account.yaml" in command or "setpoint-member" in command
            declared = MEMBER_PARAMETERS if member else CENTRAL_PARAMETERS
            names = re.findall(r"ParameterKey=(\w+)", command)
            overrides = command.partition("--parameter-overrides")[2]
            names += [w.split("=", 1)[0] for w in overrides.split() if re.match(r"\w+=", w)]
            unknown = set(names) - declared
            assert not unknown, (command[:60], unknown)
            given += len(names)
    assert given >= 8  # the StackSet's and the member stacks' parameters at least


def test_the_parameter_table_names_parameters_and_their_settings() -> None:
    table = re.search(r"\| parameter \| setting \|.*?\n\n", text(), flags=re.DOTALL)
    assert table, "the parameters table of step 4"
    rows = [r for r in table.group(0).splitlines()[2:] if r.startswith("|")]
    assert len(rows) >= 10
    for row in rows:
        names_cell, setting_cell = row.split("|")[1:3]
        names = re.findall(r"`(\w+)`", names_cell)
        assert names and set(names) <= CENTRAL_PARAMETERS, row
        settings = re.findall(r"`(SETPOINT_\w+|POWERTOOLS_\w+)`", setting_cell)
        for setting in settings:
            (name,) = names
            if setting in GLOBALS:  # set from the template: through the parameter
                assert f"${{{name}}}" in str(GLOBALS[setting]), row
            else:
                assert setting in SETTINGS and parameter_name(setting) == name, row


def test_every_parameter_the_prose_names_exists() -> None:
    prose = re.sub(r"```.*?```", "", text(), flags=re.DOTALL)
    named = set(re.findall(r"`(\w+)` parameter", prose))
    named |= set(re.findall(r"the StackSet's `(\w+)`", prose))
    named |= set(re.findall(r"`(\w+)=<", prose))  # SpecVerifyKey=<key ARN>
    assert {"Accounts", "Regions", "RoleName", "ExternalId", "Notifiers"} <= named
    assert named <= CENTRAL_PARAMETERS | MEMBER_PARAMETERS, named - CENTRAL_PARAMETERS


def test_every_output_the_doc_names_is_an_output_of_the_stack() -> None:
    outputs = set(CENTRAL["Outputs"])
    sentence = re.search(
        r"The stack's outputs name everything you need next \((.*?)\)", text(), re.S
    )
    assert sentence
    listed = set(re.findall(r"`(\w+)`", sentence.group(1)))
    assert listed == outputs
    placeholders = set(re.findall(r"--queue-url <(\w+)>", text()))
    assert placeholders and placeholders <= outputs


def test_queue_table_and_ssm_names_are_the_stacks() -> None:
    doc = text()
    queues = {
        r["Properties"]["QueueName"]
        for r in CENTRAL["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue"
    }
    assert set(re.findall(r"`(setpoint-(?:sweep|recheck|outbox)[\w-]*)`", doc)) <= queues
    assert "setpoint-state-prod" in doc and "setpoint-state-${Stage}" in str(CENTRAL["Resources"])
    # the functions may read SSM parameters under /setpoint/<stage>/ only
    for name in re.findall(r"--name (/\S+)", doc):
        assert name.startswith("/setpoint/prod/"), name
    default = CENTRAL["Parameters"]["ChatWebhookParameterName"]["Default"]
    assert f"/setpoint/prod/{default}" in doc


def test_every_log_message_the_doc_tells_to_look_for_is_one_the_code_writes() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "chalicelib").rglob("*.py"))
    source += (ROOT / "app.py").read_text()
    words = set(re.findall(r"--filter-pattern (\w+)", text()))
    words |= set(re.findall(r"`(sweep_\w+|account_refused|spec_error)`", text()))
    assert {"sweep_enqueued", "sweep_shard_done", "sweep_failed"} <= words
    for word in words:
        assert f'"{word}"' in source, word


def test_the_setpoint_commands_of_the_doc_parse() -> None:
    parser = build_parser()
    found = 0
    for block in code_blocks():
        for command in commands(block):
            if not command.startswith((".venv/bin/setpoint ", "setpoint ")):
                continue
            words = shlex.split(re.sub(r"<[^<>]+>", "PLACEHOLDER", command))
            parser.parse_args(words[1:])  # exits 2 on an unknown flag or a bad value
            found += 1
    assert found >= 4
