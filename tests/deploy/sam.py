"""What CloudFormation's SAM transform makes of a template, offline (aws-sam-translator).

cfn-lint does not run the transform, so a reference to a resource SAM generates (a rule
named `<Function><Event>`) is only checked here: by transforming and looking.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator


def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The plain CloudFormation template SAM would deploy (code URIs stubbed)."""
    sam = copy.deepcopy(template)
    for resource in sam.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/deployment.zip"
    session = boto3.Session(region_name="us-east-1")
    translator = Translator(None, Parser(), boto_session=session)
    result: dict[str, Any] = translator.translate(
        sam, parameter_values={}, get_managed_policy_map=lambda: {}
    )
    return result


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}
