"""Settings as stack parameters: every value the config gives the functions, none by hand.

Without packaging (tests/deploy/test_package.py checks the real packaged template): a
template shaped as Chalice writes it, finished the way `make package` finishes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.deploy.finish import finish, shard_concurrency_follows_its_setting
from chalicelib.deploy.parameters import parameter_name, settings_as_parameters


def function(handler: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {"Handler": f"app.{handler}", "Environment": {"Variables": variables}},
    }


def test_parameter_names_follow_the_variable_without_the_project_prefix() -> None:
    assert parameter_name("SETPOINT_CHAT_FORMAT") == "ChatFormat"
    assert parameter_name("SETPOINT_REGIONS") == "Regions"
    assert parameter_name("POWERTOOLS_LOG_LEVEL") == "PowertoolsLogLevel"
    with pytest.raises(ValueError, match="'SETPOINT_'"):
        parameter_name("SETPOINT_")


def test_a_setting_nobody_listed_becomes_a_parameter_with_the_config_value_as_default() -> None:
    """A helper adding SETPOINT_SOMETHING_NEW to the config needs no change here."""
    template = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {
            "Sweep": function("sweep", {"SETPOINT_SOMETHING_NEW": "7", "X": {"Ref": "Q"}}),
            "OnEc2Change": function("on_ec2_change", {"SETPOINT_SOMETHING_NEW": "7"}),
        },
    }
    assert settings_as_parameters(template) == ["SomethingNew"]
    assert template["Parameters"]["SomethingNew"]["Default"] == "7"
    assert template["Parameters"]["SomethingNew"]["Type"] == "String"
    assert "SETPOINT_SOMETHING_NEW" in template["Parameters"]["SomethingNew"]["Description"]
    for resource in template["Resources"].values():
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables["SETPOINT_SOMETHING_NEW"] == {"Ref": "SomethingNew"}
    # an intrinsic the template already set is the stack's own, left as it was
    assert template["Resources"]["Sweep"]["Properties"]["Environment"]["Variables"]["X"] == {
        "Ref": "Q"
    }


def test_a_per_function_value_gets_a_parameter_per_function() -> None:
    template = {
        "Resources": {
            "Sweep": function("sweep", {"SETPOINT_SWEEP_CONCURRENCY": "10"}),
            "Shard": function("on_sweep_shard", {"SETPOINT_SWEEP_CONCURRENCY": "4"}),
        },
    }
    assert settings_as_parameters(template) == [
        "SweepConcurrencyOnSweepShard",
        "SweepConcurrencySweep",
    ]
    parameters = template["Parameters"]
    assert parameters["SweepConcurrencySweep"]["Default"] == "10"
    assert parameters["SweepConcurrencyOnSweepShard"]["Default"] == "4"
    shard = template["Resources"]["Shard"]["Properties"]["Environment"]["Variables"]
    assert shard == {"SETPOINT_SWEEP_CONCURRENCY": {"Ref": "SweepConcurrencyOnSweepShard"}}


def test_a_setting_named_like_a_template_parameter_is_an_error_naming_both() -> None:
    template = {
        "Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
        "Resources": {"Sweep": function("sweep", {"SETPOINT_STAGE": "prod"})},
    }
    with pytest.raises(ValueError, match="SETPOINT_STAGE would be stack parameter Stage"):
        settings_as_parameters(template)


def test_finishing_twice_adds_nothing_more(tmp_path: Path) -> None:
    template = {
        "Globals": {
            "Function": {"Environment": {"Variables": {"SETPOINT_STATE": {"Ref": "StateTable"}}}}
        },
        "Resources": {
            "Sweep": function(
                "sweep", {"SETPOINT_STATE": "dynamodb://local", "SETPOINT_REGIONS": "eu-west-1"}
            )
        },
    }
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(template))
    finish(path)
    once = json.loads(path.read_text())
    finish(path)
    assert json.loads(path.read_text()) == once
    assert once["Parameters"]["Regions"]["Default"] == "eu-west-1"
    # the stack's resource names win over the config's, and are no parameter
    variables = once["Resources"]["Sweep"]["Properties"]["Environment"]["Variables"]
    assert variables == {"SETPOINT_REGIONS": {"Ref": "Regions"}}


def test_a_parameter_the_template_declares_without_default_gets_the_configs() -> None:
    template = {
        "Parameters": {"Accounts": {"Type": "String", "AllowedPattern": "^[0-9,]*$"}},
        "Resources": {"Sweep": function("sweep", {"SETPOINT_ACCOUNTS": "210987654321"})},
    }
    assert settings_as_parameters(template) == ["Accounts"]
    assert template["Parameters"]["Accounts"] == {
        "Type": "String",
        "AllowedPattern": "^[0-9,]*$",
        "Default": "210987654321",
    }
    bad = {
        "Parameters": {"Accounts": {"Type": "String", "AllowedPattern": "^[0-9,]*$"}},
        "Resources": {"Sweep": function("sweep", {"SETPOINT_ACCOUNTS": "prod-account"})},
    }
    with pytest.raises(ValueError, match="SETPOINT_ACCOUNTS='prod-account' in "):
        settings_as_parameters(bad)


def test_the_shard_triggers_concurrency_follows_the_sweep_concurrency_parameter() -> None:
    shard = function("on_sweep_shard", {"SETPOINT_SWEEP_CONCURRENCY": "10"})
    shard["Properties"]["Events"] = {
        "Queue": {"Type": "SQS", "Properties": {"ScalingConfig": {"MaximumConcurrency": 10}}}
    }
    template = {
        "Parameters": {"SweepConcurrency": {"Type": "Number", "MinValue": 2}},
        "Resources": {"Shard": shard, "Sweep": function("sweep", {})},
    }
    settings_as_parameters(template)
    assert template["Parameters"]["SweepConcurrency"]["Default"] == "10"
    assert shard_concurrency_follows_its_setting(template)
    (event,) = shard["Properties"]["Events"].values()
    assert event["Properties"]["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "SweepConcurrency"}
    }
    del template["Parameters"]["SweepConcurrency"]
    assert not shard_concurrency_follows_its_setting(template)  # no such setting: left alone
