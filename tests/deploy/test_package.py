"""The packaged prod template: what CloudFormation would deploy, checked before anyone does.

`chalice package --merge-template infra/setpoint.yaml` runs once on an unchanged copy of the
project: a contract function app.py lacks is missing from the template and fails it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from chalice.app import SQSEventConfig

from chalicelib.cli.push import bundle_key
from chalicelib.deploy.finish import finish
from chalicelib.deploy.parameters import parameter_name
from chalicelib.deploy.policy import stage_environment
from chalicelib.kinds.registry import FAMILIES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# The Lambda functions the shared contract names, with the queue each SQS one consumes.
CONTRACT_QUEUES = {
    "on_sweep_shard": "setpoint-sweep",
    "on_recheck": "setpoint-recheck",
    "on_outbox": "setpoint-outbox",
}
# One CloudTrail handler per registered family; the contract's three must stay among them.
CHANGE_HANDLERS = {family.handler for family in FAMILIES}
assert {"on_ec2_change", "on_s3_change", "on_iam_change"} <= CHANGE_HANDLERS
# invoked by the event functions, not by an event source: the one role that may write
REVERT_FUNCTION = "on_revert"
FUNCTIONS = {
    *CHANGE_HANDLERS,
    "on_spec_change",
    "on_state_write",
    "sweep",
    *CONTRACT_QUEUES,
    REVERT_FUNCTION,
}
PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix"}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        props["Handler"].removeprefix("app."): props
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for props in [resource["Properties"]]
    }


def names_in(value: Any) -> set[str]:
    """Logical ids and parameters an intrinsic refers to (Ref, GetAtt, ${...} in Sub)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return {target[0] if isinstance(target, list) else target.split(".")[0]}
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
        return {n for v in value.values() for n in names_in(v)}
    if isinstance(value, list):
        return {n for v in value for n in names_in(v)}
    return set()


def test_cfn_lint_finds_nothing(packaged: tuple[Path, dict[str, Any]]) -> None:
    path, _ = packaged
    done = subprocess.run(
        [str(BIN / "cfn-lint"), str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_contract_function_is_packaged(packaged: tuple[Path, dict[str, Any]]) -> None:
    assert set(functions(packaged[1])) == FUNCTIONS


def test_app_defines_every_contract_function_itself() -> None:
    """Without packaging: the functions Chalice would deploy from app.py, and their queues."""
    import app

    sources = {source.name: source for source in app.app.event_sources}
    assert set(sources) == FUNCTIONS - {REVERT_FUNCTION}
    assert [f.name for f in app.app.pure_lambda_functions] == [REVERT_FUNCTION]
    queues = {name: s.queue for name, s in sources.items() if isinstance(s, SQSEventConfig)}
    assert queues == CONTRACT_QUEUES
    for name in FUNCTIONS:
        assert callable(getattr(app, name)), name


def test_every_environment_reference_names_a_resource_of_the_template(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    template = packaged[1]
    known = set(template["Resources"]) | set(template["Parameters"]) | PSEUDO
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    for name, props in functions(template).items():
        variables = {**shared, **props["Environment"]["Variables"]}
        unknown = {var: names_in(v) - known for var, v in variables.items() if names_in(v) - known}
        assert not unknown, (name, unknown)
        # a value Chalice set must not shadow one the template sets (SAM: function wins)
        assert not set(shared) & set(props["Environment"]["Variables"]), name


def test_every_setting_is_one_the_code_reads(packaged: tuple[Path, dict[str, Any]]) -> None:
    template = packaged[1]
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "chalicelib").rglob("*.py"))
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    for props in functions(template).values():
        for var in {**shared, **props["Environment"]["Variables"]}:
            if var.startswith("SETPOINT_"):
                assert f'"{var}"' in source, f"{var} is set but nothing reads it"


def test_every_config_setting_is_a_stack_parameter_with_the_config_as_default(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    """Configuring a deployment needs --parameter-overrides, never an edit of the project."""
    template = packaged[1]
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    config = stage_environment("prod")
    settings = {var: value for var, value in config.items() if var not in shared}
    assert {"SETPOINT_REGIONS", "SETPOINT_ACCOUNTS", "SETPOINT_CHAT_FORMAT"} <= set(settings)
    for var, value in settings.items():
        parameter = template["Parameters"][parameter_name(var)]
        assert parameter["Type"] in ("String", "Number"), var
        assert parameter["Default"] == value, var
    for name, props in functions(template).items():
        variables = props["Environment"]["Variables"]
        assert variables == {var: {"Ref": parameter_name(var)} for var in settings}, name


def test_the_webhook_parameter_is_named_by_a_parameter_under_the_stage_path(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    """The policy reads /setpoint/<stage>/* only: the name may change, the path may not."""
    template = packaged[1]
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    wanted = {"Fn::Sub": "/setpoint/${Stage}/${ChatWebhookParameterName}"}
    assert shared["SETPOINT_CHAT_URL_PARAM"] == wanted
    assert template["Outputs"]["ChatWebhookParameter"]["Value"] == wanted
    name = template["Parameters"]["ChatWebhookParameterName"]
    assert name["Default"] == "chat-webhook-url"
    pattern = re.compile(name["AllowedPattern"])
    assert pattern.match("slack/bot-token") and pattern.match("chat-webhook-url")
    assert not pattern.match("../other") and not pattern.match("/absolute")


def test_every_parameter_has_a_default_so_a_deploy_without_overrides_works(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    parameters = packaged[1]["Parameters"]
    assert not [name for name, p in parameters.items() if "Default" not in p]
    # the ones the merge template declares for their pattern got the config's value
    config = stage_environment("prod")
    assert parameters["Accounts"]["Default"] == config["SETPOINT_ACCOUNTS"]
    assert parameters["RoleName"]["Default"] == config["SETPOINT_ROLE_NAME"] == "setpoint-readonly"
    for parameter in parameters.values():
        if "AllowedPattern" in parameter:
            assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"]), parameter


def test_no_function_keeps_a_literal_setting(packaged: tuple[Path, dict[str, Any]]) -> None:
    template = packaged[1]
    for name, props in functions(template).items():
        literal = {
            var: value
            for var, value in props["Environment"]["Variables"].items()
            if not isinstance(value, dict)
        }
        assert not literal, (name, literal)


def test_specs_point_at_the_object_push_writes(packaged: tuple[Path, dict[str, Any]]) -> None:
    specs = packaged[1]["Globals"]["Function"]["Environment"]["Variables"]["SETPOINT_SPECS"]
    push_target = packaged[1]["Outputs"]["PushTarget"]["Value"]["Fn::Sub"]
    prefix = push_target.removeprefix("s3://${SpecBucket}/")
    assert specs == {"Fn::Sub": f"s3://${{SpecBucket}}/{bundle_key(prefix)}"}


def queues(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["QueueName"]: {"id": logical, **resource["Properties"]}
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
    }


def test_sqs_triggers_consume_queues_the_template_creates(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    template = packaged[1]
    by_name = queues(template)
    consumed = {}
    for name, props in functions(template).items():
        for event in props.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            queue = event["Properties"]["Queue"]["Fn::Sub"].rsplit(":", 1)[1]
            assert queue in by_name, (name, queue)
            # Lambda refuses an SQS source whose visibility timeout is below the function's
            assert by_name[queue]["VisibilityTimeout"] >= props["Timeout"], (name, queue)
            consumed[name] = queue
    assert consumed == CONTRACT_QUEUES
    assert all(q["SqsManagedSseEnabled"] for q in by_name.values())
    # partial batch responses are honoured only where the handlers send them
    fns = functions(template)
    for name in ("on_sweep_shard", "on_recheck", "on_outbox"):
        (event,) = fns[name]["Events"].values()
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (shard,) = fns["on_sweep_shard"]["Events"].values()
    # the fan-out cannot take the whole account's Lambda concurrency: the sweep's own
    # concurrency setting caps it, 10 unless the stack is given another number
    assert shard["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SweepConcurrency"}
    concurrency = template["Parameters"]["SweepConcurrency"]
    assert int(concurrency["Default"]) <= 10
    assert (concurrency["Type"], concurrency["MinValue"], concurrency["MaxValue"]) == (
        "Number",
        2,
        1000,
    )
    outbox = by_name["setpoint-outbox"]["RedrivePolicy"]
    assert outbox["maxReceiveCount"] == 5
    assert outbox["deadLetterTargetArn"] == {
        "Fn::GetAtt": [by_name["setpoint-outbox-dlq"]["id"], "Arn"]
    }
    sweep = by_name["setpoint-sweep"]["RedrivePolicy"]
    assert sweep["deadLetterTargetArn"] == {
        "Fn::GetAtt": [by_name["setpoint-sweep-dlq"]["id"], "Arn"]
    }


def test_sweep_shards_get_more_time_and_memory_than_events(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    fns = functions(packaged[1])
    assert fns["on_sweep_shard"]["Timeout"] > fns["on_ec2_change"]["Timeout"]
    assert fns["on_sweep_shard"]["MemorySize"] > fns["on_ec2_change"]["MemorySize"]
    assert all(f["Tags"]["stage"] == "prod" for f in fns.values())


def unpinned(value: Any) -> Any:
    """A pinned role policy as committed: Fn::Sub strings plain, Fn::If statements bare."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return value["Fn::Sub"]
        if set(value) == {"Fn::Split"}:
            _separator, listed = value["Fn::Split"]
            return "${" + listed["Ref"] + "}"
        if set(value) == {"Fn::If"}:
            _condition, statement, otherwise = value["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            return unpinned(statement)
        return {k: unpinned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unpinned(v) for v in value]
    return value


def test_every_role_carries_the_committed_policy_pinned_to_the_stack(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    template = packaged[1]
    read_only = json.loads((ROOT / ".chalice" / "policy-prod.json").read_text())
    reverting = json.loads((ROOT / ".chalice" / "policy-revert-prod.json").read_text())
    roles = {
        logical: r for logical, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"
    }
    assert len(roles) == len(FUNCTIONS)
    known = set(template["Parameters"]) | PSEUDO | {"AWS::NoValue"}
    revert_role = next(
        names_in(props["Role"])
        for name, props in functions(template).items()
        if name == REVERT_FUNCTION
    )
    optional = {"HasVerifyKey", "HasNotifierTopics", "HasTerraformStateBucket"}
    for logical, role in roles.items():
        (policy,) = role["Properties"]["Policies"]
        document = policy["PolicyDocument"]
        reverts = logical in revert_role  # its own policy: reads and the tables' writes
        assert unpinned(document) == (reverting if reverts else read_only), logical
        # every ${...} is a Fn::Sub of this template's names, none reaches IAM as text
        assert "${" not in json.dumps(unpinned_plain(document))
        assert names_in(document) <= known
        guarded = {s["Fn::If"][0]: s["Fn::If"] for s in document["Statement"] if "Fn::If" in s}
        if reverts:  # it assumes no role in other accounts and reads no event lake
            assert set(guarded) == optional
            continue
        assert set(guarded) == {
            *optional,
            "HasAccountIds",
            "NoAccountIds",
            "HasActorLakeEventDataStore",
        }
        assert set(guarded) <= set(template["Conditions"])
        assert guarded["HasVerifyKey"][1]["Resource"] == {"Fn::Sub": "${SpecVerifyKey}"}
        listed = guarded["HasAccountIds"][1]["Condition"]["StringEquals"]
        assert listed == {"aws:ResourceAccount": {"Fn::Split": [",", {"Ref": "Accounts"}]}}


def test_the_revert_function_has_the_name_the_event_functions_invoke(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    template = packaged[1]
    props = functions(template)[REVERT_FUNCTION]
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    assert props["FunctionName"] == shared["SETPOINT_REVERT_FUNCTION"]
    assert props["FunctionName"] == {"Fn::Sub": "setpoint-${Stage}-on_revert"}
    grant = json.loads((ROOT / ".chalice" / "policy-prod.json").read_text())
    (handoff,) = [s for s in grant["Statement"] if s["Sid"] == "HandOffReverts"]
    assert handoff["Resource"].endswith(":function:setpoint-prod-on_revert")


def test_the_sweep_may_invoke_the_revert_function_and_no_other(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    """The sweep hands drift to on_revert as the event functions do: its role (and the
    shard worker's) may invoke that one function, by name, and call no other Lambda
    action but the guard's reads of Setpoint's own functions."""
    template = packaged[1]
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    assert (
        shared["SETPOINT_REVERT_FUNCTION"] == functions(template)[REVERT_FUNCTION]["FunctionName"]
    )
    for name in ("sweep", "on_sweep_shard"):
        props = functions(template)[name]
        variables = props.get("Environment", {}).get("Variables", {})
        assert "SETPOINT_REVERT_FUNCTION" not in variables, name  # the stack's name wins
        (role,) = names_in(props["Role"])
        (policy,) = template["Resources"][role]["Properties"]["Policies"]
        granted = [
            (action, statement["Resource"])
            for statement in unpinned(policy["PolicyDocument"]["Statement"])
            for action in statement["Action"]
            if action.startswith("lambda:") and not action.startswith(("lambda:Get", "lambda:List"))
        ]
        assert granted == [
            (
                "lambda:InvokeFunction",
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                "setpoint-prod-on_revert",
            )
        ], name


def unpinned_plain(value: Any) -> Any:
    """Everything but the Fn::Sub strings (what IAM would get verbatim)."""
    if isinstance(value, dict):
        return {k: unpinned_plain(v) for k, v in value.items() if k != "Fn::Sub"}
    if isinstance(value, list):
        return [unpinned_plain(v) for v in value]
    return value


def test_spec_bucket_and_state_table(packaged: tuple[Path, dict[str, Any]]) -> None:
    resources = packaged[1]["Resources"]
    bucket = resources["SpecBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    table = resources["StateTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]


def test_member_accounts_may_only_put_events_from_the_organization(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    template = packaged[1]
    policy = template["Resources"]["MemberAccountsEventBusPolicy"]
    assert policy["Condition"] == "HasOrganization"
    statement = policy["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == {"Ref": "OrganizationId"}
    # and of the organization, only the forwarding rules' role
    assert statement["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${ForwarderRoleName}"}
    }


def test_finishing_a_template_without_those_functions_changes_nothing(tmp_path: Path) -> None:
    template = {
        "Resources": {
            "OnEc2Change": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "app.on_ec2_change", "Events": {}},
            }
        }
    }
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(template))
    assert finish(path) == []
    finished = json.loads(path.read_text())
    # only checkov's skips with their reasons (checkov_skips.py) are added to a function
    metadata = finished["Resources"]["OnEc2Change"].pop("Metadata")
    assert set(metadata) == {"checkov"}
    assert finished == template


def test_the_stack_names_resources_even_where_the_stage_config_names_others(
    tmp_path: Path,
) -> None:
    template = {
        "Globals": {
            "Function": {"Environment": {"Variables": {"SETPOINT_STATE": {"Ref": "StateTable"}}}}
        },
        "Resources": {
            "Sweep": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "app.sweep",
                    "Environment": {
                        "Variables": {
                            "SETPOINT_STATE": "dynamodb://setpoint-state-dev",
                            "SETPOINT_REGIONS": "eu-west-1",
                        }
                    },
                },
            }
        },
    }
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(template))
    finish(path)
    variables = json.loads(path.read_text())["Resources"]["Sweep"]["Properties"]["Environment"]
    assert variables == {"Variables": {"SETPOINT_REGIONS": {"Ref": "Regions"}}}


# -- nothing lost: dead letters for every function and rule, every queue encrypted --------

# SAM event types whose invocations Lambda queues itself (asynchronous); SQS is polled
POLLED = {"SQS", "Kinesis", "DynamoDB", "MSK", "MQ", "SelfManagedKafka"}


def by_logical_function(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical: resource["Properties"]
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def queue_of(template: dict[str, Any], arn: Any) -> dict[str, Any]:
    """The queue resource an Fn::GetAtt [Queue, Arn] names."""
    assert isinstance(arn, dict) and "Fn::GetAtt" in arn, arn
    logical, attribute = arn["Fn::GetAtt"]
    assert attribute == "Arn"
    resource: dict[str, Any] = template["Resources"][logical]
    assert resource["Type"] == "AWS::SQS::Queue", logical
    return resource


def test_every_asynchronously_invoked_function_has_an_on_failure_destination(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    """An event whose attempts all fail lands in a queue, not nowhere."""
    template = packaged[1]
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in template["Resources"].values()
        if c["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    asynchronous = {
        logical
        for logical, props in by_logical_function(template).items()
        if any(e["Type"] not in POLLED for e in props.get("Events", {}).values())
    }
    # the event functions invoke the revert function with InvocationType=Event: no trigger
    asynchronous.add("OnRevert")
    assert {"OnEc2Change", "OnGuardChange", "OnSpecChange", "Sweep"} <= asynchronous
    assert set(configs) == asynchronous
    for logical, config in configs.items():
        destination = config["DestinationConfig"]["OnFailure"]["Destination"]
        queue = queue_of(template, destination)
        assert queue["Properties"]["QueueName"] == "setpoint-events-dlq", logical
        assert 0 <= config["MaximumRetryAttempts"] <= 2
        assert 60 <= config["MaximumEventAgeInSeconds"] <= 21600


def test_every_rule_target_has_a_dead_letter_queue_and_a_retry_policy(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    """What CloudFormation deploys after SAM's transform: every rule's target, and the
    rules DLQ accepts EventBridge's messages from exactly those rules."""
    from tests.deploy.sam import of_type, transformed

    cloud = transformed(packaged[1])
    rules = of_type(cloud, "AWS::Events::Rule")
    assert len(rules) >= len(CHANGE_HANDLERS) + 2  # the change handlers, specs, the schedule
    for logical, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            queue = queue_of(cloud, target["DeadLetterConfig"]["Arn"])
            assert queue["Properties"]["QueueName"] == "setpoint-rules-dlq", logical
            retry = target["RetryPolicy"]
            assert retry["MaximumRetryAttempts"] >= 1, logical
            assert retry["MaximumEventAgeInSeconds"] <= 3600, logical
    (policy,) = of_type(cloud, "AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [{"Ref": "RulesDeadLetterQueue"}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sorted(s["Fn::GetAtt"][0] for s in sources) == sorted(rules)


def test_every_queue_is_encrypted_at_rest(packaged: tuple[Path, dict[str, Any]]) -> None:
    by_name = queues(packaged[1])
    assert {"setpoint-events-dlq", "setpoint-rules-dlq"} <= set(by_name)
    for name, queue in by_name.items():
        assert queue.get("SqsManagedSseEnabled") is True or queue.get("KmsMasterKeyId"), name


def test_every_dead_letter_queue_is_alarmed_and_read_by_the_digest(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    """A queue anything dead-letters into (a redrive policy, an on-failure destination, a
    rule target) has an alarm on its depth; the digest reads all but the outbox's, whose
    alerts it lists as failed deliveries."""
    template = packaged[1]
    resources = template["Resources"]
    targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in resources.values()
        if q["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in q["Properties"]
    }
    targets |= {
        c["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for c in resources.values()
        if c["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    targets |= {
        e["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        for props in by_logical_function(template).values()
        for e in props.get("Events", {}).values()
        if "DeadLetterConfig" in e.get("Properties", {})
    }
    assert targets == {
        "SweepDeadLetterQueue",
        "OutboxDeadLetterQueue",
        "EventsDeadLetterQueue",
        "RulesDeadLetterQueue",
    }
    alarmed = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a["Properties"]
        for a in resources.values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(alarmed) == targets
    for alarm in alarmed.values():
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    read = names_in(shared["SETPOINT_DEAD_LETTER_QUEUE_URLS"])
    assert read == targets - {"OutboxDeadLetterQueue"}
    assert names_in(shared["SETPOINT_OUTBOX_DLQ_URL"]) == {"OutboxDeadLetterQueue"}


def test_the_roles_may_send_dead_letters_to_the_events_queue_only(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    """Lambda sends an on-failure record with the function's role: that role needs
    sqs:SendMessage on the destination, and on no other dead-letter queue."""
    wanted = json.loads((ROOT / ".chalice" / "policy-prod.json").read_text())
    sent_to = {
        resource.rsplit(":", 1)[1]
        for statement in wanted["Statement"]
        if "sqs:SendMessage" in statement["Action"]
        for resource in (
            [statement["Resource"]]
            if isinstance(statement["Resource"], str)
            else statement["Resource"]
        )
    }
    assert "setpoint-events-dlq" in sent_to
    assert not {"setpoint-rules-dlq", "setpoint-sweep-dlq", "setpoint-outbox-dlq"} & sent_to


def test_every_checkov_skip_in_the_packaged_template_says_why(
    packaged: tuple[Path, dict[str, Any]],
) -> None:
    skipped = 0
    for logical, resource in packaged[1]["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (logical, skip)
            assert len(skip.get("comment", "").split()) >= 8, (logical, skip)
            skipped += 1
    assert skipped
