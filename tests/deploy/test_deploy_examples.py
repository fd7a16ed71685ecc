"""The deploy examples (examples/deploy/) configure the packaged stack as it really is.

Each key is a parameter of the template `make package` builds, each value passes that
parameter's pattern, and the values Setpoint parses itself (accounts, notifiers) parse.
The `packaged` fixture (conftest.py) runs `chalice package` once per test run.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

from chalicelib.deploy.policy import sns_topics
from chalicelib.notify.config import notifier_from_json
from chalicelib.sweep.accounts import parse_accounts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "deploy"


def parameters_file() -> dict[str, str]:
    items = json.loads((EXAMPLES / "parameters.json").read_text(encoding="utf-8"))
    assert len({i["ParameterKey"] for i in items}) == len(items), "a key given twice"
    return {i["ParameterKey"]: i["ParameterValue"] for i in items}


def samconfig() -> dict[str, Any]:
    with (EXAMPLES / "samconfig.toml").open("rb") as handle:
        config: dict[str, Any] = tomllib.load(handle)
    return config


def sam_overrides() -> dict[str, str]:
    text = samconfig()["prod"]["deploy"]["parameters"]["parameter_overrides"]
    return dict(word.split("=", 1) for word in shlex.split(text))


def accepted(parameter: dict[str, Any], value: str) -> bool:
    pattern = parameter.get("AllowedPattern")
    allowed = parameter.get("AllowedValues")
    return (pattern is None or re.fullmatch(pattern, value) is not None) and (
        allowed is None or value in allowed
    )


def test_every_example_key_is_a_parameter_and_every_value_passes_it(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    declared = packaged[1]["Parameters"]
    for source, values in (("parameters.json", parameters_file()), ("samconfig", sam_overrides())):
        unknown = set(values) - set(declared)
        assert not unknown, (source, unknown)
        for key, value in values.items():
            assert accepted(declared[key], value), (source, key, value)


def test_the_samconfig_deploys_the_stack_name_the_log_permissions_expect() -> None:
    deploy = samconfig()["prod"]["deploy"]["parameters"]
    assert deploy["stack_name"] == f"setpoint-{sam_overrides()['Stage']}"
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["s3_bucket"]  # the artifact bucket the functions' zip goes to


def test_the_example_settings_parse_as_the_functions_will_parse_them() -> None:
    values = parameters_file()
    assert parse_accounts(values["Accounts"]) == "organization"
    notifier = notifier_from_json(values["Notifiers"])
    assert notifier is not None
    config = json.loads(values["Notifiers"])
    # SSM parameters the functions may read are under /setpoint/<stage>/ only
    stage = values["Stage"]
    for spec in config["notifiers"].values():
        for key in ("token_param", "url_param"):
            if key in spec:
                assert spec[key].startswith(f"/setpoint/{stage}/"), (key, spec[key])
    # and every SNS topic it names is one the policy lets the functions publish to
    topics = sns_topics({"SETPOINT_NOTIFIERS": values["Notifiers"]})
    assert topics and set(topics) <= set(values["NotifierTopicArns"].split(","))


def test_the_functions_the_smoke_test_looks_up_are_resources_of_the_package(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    doc = (EXAMPLES.parents[1] / "docs" / "deploy.md").read_text(encoding="utf-8")
    logical = set(re.findall(r"--logical-resource-id (\w+)", doc))
    assert logical == {"Sweep", "OnSweepShard"}
    resources = packaged[1]["Resources"]
    for name in logical:
        assert resources[name]["Type"] == "AWS::Serverless::Function", name
