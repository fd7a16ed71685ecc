"""The CI examples run commands Setpoint accepts, and the watchdog reads what push writes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from chalicelib.cli.main import build_parser
from chalicelib.cli.push import bundle_key
from chalicelib.specs.s3_source import parse_s3_uri

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def github_commands() -> list[list[str]]:
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "setpoint.yml").read_text())
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            run = re.sub(
                r"\$\{\{\s*vars\.(\w+)\s*\}\}",
                lambda m: m.group(1).lower().replace("_", "-"),
                step.get("run", ""),
            )
            words = shlex.split(run)
            if words and words[0] == "setpoint":
                commands.append(words[1:])
    return commands


def jenkins_commands() -> list[list[str]]:
    text = (EXAMPLES / "jenkins" / "Jenkinsfile").read_text().replace("\\\n", " ")
    commands = []
    for match in re.finditer(r"\.setpoint-venv/bin/setpoint ([^'\n]+)", text):
        line = re.sub(r"\$(\w+)", lambda m: m.group(1).lower().replace("_", "-"), match.group(1))
        commands.append(shlex.split(line))
    return commands


def check_examples(commands: list[list[str]]) -> None:
    parser = build_parser()
    parsed = {args.command: args for args in map(parser.parse_args, commands)}
    assert set(parsed) == {"validate", "push", "check"}
    assert parsed["check"].format == "junit" and parsed["check"].output == "report.xml"
    bucket, prefix = parse_s3_uri(parsed["push"].to)
    # --specs is repeatable for check and validate (a list); push takes one directory
    assert parsed["check"].specs == [f"s3://{bucket}/{bundle_key(prefix)}"]
    assert [parsed["push"].specs] == parsed["validate"].specs


def test_github_workflow_commands_parse_and_the_watchdog_reads_the_pushed_bundle() -> None:
    check_examples(github_commands())


def test_jenkinsfile_commands_parse_and_the_watchdog_reads_the_pushed_bundle() -> None:
    check_examples(jenkins_commands())


def test_the_workflow_triggers_each_job_on_its_own_event() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "setpoint.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert {"pull_request", "push", "schedule"} <= set(triggers)
    assert triggers["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert "pull_request" in jobs["validate"]["if"]
    assert "refs/heads/main" in jobs["push"]["if"]
    assert "schedule" in jobs["watchdog"]["if"]
