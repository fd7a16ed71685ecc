from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from chalicelib.report.sarif_report import render_sarif
from tests.report.samples import ALL, DRIFTED, IN_SYNC, LOST_HTTPS, MISSING, UNMANAGED

GOLDEN = Path(__file__).parent / "golden" / "check.sarif"


def _results(findings) -> list[dict]:
    return json.loads(render_sarif(findings))["runs"][0]["results"]


def test_golden_sarif_for_every_status():
    assert render_sarif(ALL) == GOLDEN.read_text(encoding="utf-8")


def test_the_fields_sarif_2_1_0_requires():
    log = json.loads(render_sarif(ALL))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "setpoint"
    rules = run["tool"]["driver"]["rules"]
    assert all("id" in rule for rule in rules)
    for result in run["results"]:
        assert result["message"]["text"]
        assert result["level"] in ("error", "warning", "note")
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_one_result_per_problem_with_rule_and_level():
    results = _results(ALL)
    assert len(results) == 4  # the in-sync group is not a result
    by_status = {r["properties"]["status"]: r for r in results}
    # a change open to the world outranks the status
    assert (by_status["drifted"]["ruleId"], by_status["drifted"]["level"]) == (
        "world-open",
        "error",
    )
    assert (by_status["missing"]["ruleId"], by_status["missing"]["level"]) == ("missing", "error")
    assert by_status["unknown"]["level"] == "note"
    quiet = replace(UNMANAGED, changes=())
    assert [(r["ruleId"], r["level"]) for r in _results([quiet])] == [("unmanaged", "warning")]
    tame = replace(DRIFTED, changes=(LOST_HTTPS,))
    assert [(r["ruleId"], r["level"]) for r in _results([tame])] == [("drifted", "error")]


def test_spec_file_and_line_are_the_location_else_the_resource_is():
    drifted = _results([DRIFTED])[0]["locations"][0]
    missing = _results([MISSING])[0]["locations"][0]
    assert (
        missing["physicalLocation"]["artifactLocation"]["uri"] == "policies/s3_buckets/audit.yaml"
    )
    physical = drifted["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "policies/security_groups/jenkins.yaml"
    assert physical["region"]["startLine"] == 3
    unmanaged = _results([UNMANAGED])[0]["locations"][0]
    assert "physicalLocation" not in unmanaged
    assert unmanaged["logicalLocations"][0]["fullyQualifiedName"] == (
        "security_group/123456789012/eu-west-1/sg-0def"
    )


def test_nothing_off_spec_is_an_empty_run():
    assert _results([IN_SYNC]) == []
