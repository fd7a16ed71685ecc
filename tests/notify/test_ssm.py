from __future__ import annotations

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Finding, Status
from chalicelib.notify import delivery
from chalicelib.notify.delivery import chat_url_from_ssm
from tests.chat_server import Reply

URL = "https://hooks.slack.com/services/T0000/B0000/s3cr3t"
FINDING = Finding(SECURITY_GROUP, "sg-0abc", "web", "123456789012", "eu-west-1", Status.DRIFTED)


@pytest.fixture
def ssm(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    parameters.clear_caches()  # Powertools keeps a provider (and its client) per process
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")
    parameters.clear_caches()


def test_reads_and_decrypts_the_secure_string(ssm):
    ssm.put_parameter(Name="/setpoint/chat-url", Value=f"{URL}\n", Type="SecureString")
    assert chat_url_from_ssm("/setpoint/chat-url") == URL


def test_value_is_cached_for_later_calls(ssm):
    ssm.put_parameter(Name="/setpoint/chat-url", Value=URL, Type="SecureString")
    assert chat_url_from_ssm("/setpoint/chat-url") == URL
    ssm.put_parameter(
        Name="/setpoint/chat-url", Value=URL + "2", Type="SecureString", Overwrite=True
    )
    assert chat_url_from_ssm("/setpoint/chat-url") == URL


def test_missing_parameter_is_a_config_error_naming_it(ssm):
    with pytest.raises(ConfigError, match="/setpoint/nope"):
        chat_url_from_ssm("/setpoint/nope")


def test_blank_parameter_is_a_config_error(ssm):
    ssm.put_parameter(Name="/setpoint/blank", Value=" ", Type="String")
    with pytest.raises(ConfigError, match="holds no chat URL"):
        chat_url_from_ssm("/setpoint/blank")


def test_importing_delivery_does_not_load_powertools_or_boto3():
    import subprocess
    import sys

    code = (
        "import sys, chalicelib.notify.delivery\n"
        "loaded = [m for m in ('aws_lambda_powertools', 'boto3') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_ssm_notifier_reads_once_then_rereads_when_the_hook_is_revoked(
    ssm, chat_server, monkeypatch
):
    """The old hook was revoked: Slack answers 404 for it, the rotated one works."""
    old_url, new_url = chat_server.base + "/services/old", chat_server.base + "/services/new"
    chat_server.script = [Reply(404, b"")] * 3  # every post to the old hook
    reads: list[bool] = []
    real = delivery.chat_url_from_ssm

    def counting(name: str, *, force: bool = False) -> str:
        reads.append(force)
        return real(name, force=force)

    monkeypatch.setattr(delivery, "chat_url_from_ssm", counting)
    ssm.put_parameter(Name="/setpoint/chat-url", Value=old_url, Type="SecureString")
    notifier = delivery.SsmWebhookNotifier("/setpoint/chat-url", "slack", max_attempts=1)
    with pytest.raises(DeliveryError):
        notifier.send(FINDING)  # revoked, and SSM still holds the old URL
    ssm.put_parameter(Name="/setpoint/chat-url", Value=new_url, Type="SecureString", Overwrite=True)
    notifier.send(FINDING)  # 404 again → forced re-read → the rotated URL
    notifier.send(FINDING)  # kept: no further read
    assert reads == [False, True, True]
    assert [r["path"] for r in chat_server.requests] == ["/services/old"] * 3 + [
        "/services/new"
    ] * 2
    assert len(chat_server.received) == 2
