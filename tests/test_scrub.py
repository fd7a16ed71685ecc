"""Secrets stay out of error text, wherever it goes (issue 13 item 4).

A Teams/Logic Apps trigger URL carries its credential in the query (`sig=`); endpoints
echo the path and query back, decoded, in their error bodies. That text used to reach
the logs, the outbox body, the invocation's errors, the dead-letter queue and the sweep
digest posted to chat. `chalicelib.scrub` is the one scrubber; these tests follow a
failing Logic Apps URL through every one of those places, and a property test draws URL
shapes and the forms an error may quote them in.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.alerting import Delivery, EventOutcome, deliver
from chalicelib.errors import DeliveryError
from chalicelib.notify import outbox as outbox_module
from chalicelib.notify.delivery import JsonWebhookNotifier, TeamsWebhookNotifier
from chalicelib.notify.outbox import SqsOutbox
from chalicelib.notify.slack_bot import SlackBotNotifier
from chalicelib.scrub import REDACTED, ScrubbingFilter, remember_secret, scrub
from chalicelib.state import MemoryStateStore
from chalicelib.sweep.digest import merge_digest, render_digest_slack, render_digest_text
from chalicelib.sweep.post import failed_delivery_lines, post_digest
from tests.chat_server import ChatServer, Reply, closed_port
from tests.conftest import REGION
from tests.notify.test_outbox import bodies, lambda_poll, make_queues
from tests.sleeps import Sleeps
from tests.state.helpers import OPEN_22, drifted

WORKFLOW = "0c8f3e0a5b9d4f2e8a1b7c6d5e4f3a2b"
SIG = "Zk3QpW9vXcR7tYbN2mL5sD8fG1hJ4kA6"
LOGIC_PATH = f"/workflows/{WORKFLOW}/triggers/manual/paths/invoke"
LOGIC_QUERY = f"api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


def assert_clean(text: str) -> None:
    assert SIG not in text and WORKFLOW not in text, text
    assert "paths/invoke" not in text and "triggers/manual" not in text, text


def echo_of_the_request() -> bytes:
    """What a Logic Apps front door says on a 500: the request, decoded, sig and all."""
    decoded = urllib.parse.unquote(f"{LOGIC_PATH}?{LOGIC_QUERY}")
    return json.dumps({"error": {"code": "Failed", "message": decoded}}).encode()


def teams(url: str) -> TeamsWebhookNotifier:
    return TeamsWebhookNotifier(url, sleep=Sleeps(), jitter=lambda: 0.0, max_attempts=2)


@pytest.mark.parametrize("failure", ["500 echoing the request", "connection refused"])
def test_a_failing_logic_apps_url_never_shows_its_sig_or_path(
    failure: str, chat_server: ChatServer, sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="setpoint")
    queue, dlq = make_queues(sqs, max_receives=2)
    if failure == "connection refused":
        with closed_port() as port:
            notifier = teams(f"http://127.0.0.1:{port}{LOGIC_PATH}?{LOGIC_QUERY}")
    else:
        chat_server.script = [Reply(500, echo_of_the_request())] * 6
        notifier = teams(f"{chat_server.base}{LOGIC_PATH}?{LOGIC_QUERY}")
    delivery = Delivery(MemoryStateStore(), (notifier,), outbox=SqsOutbox(sqs, queue))

    outcome = EventOutcome()
    deliver(delivery, [drifted(OPEN_22)], outcome)
    assert outcome.outboxed == 1
    [parked] = bodies(sqs, queue)  # receive 1 of 2
    # the outbox retry fails too (receive 2), then SQS moves the alert to the DLQ
    assert len(lambda_poll(sqs, queue, delivery)["batchItemFailures"]) == 1
    assert lambda_poll(sqs, queue, delivery) == {"batchItemFailures": []}
    lines = failed_delivery_lines(outbox_module, lambda: sqs, dlq)
    assert lines and "127.0.0.1" in lines[0]
    digest = merge_digest("run-1", [], failed_deliveries=lines)
    hook = JsonWebhookNotifier(chat_server.url, max_attempts=1)
    chat_server.script = []
    assert post_digest([hook], digest).errors == []

    if failure != "connection refused":
        assert "HTTP 500" in parked["error"] and f"sig={REDACTED}" in parked["error"]
    for text in (
        logged(caplog),
        json.dumps(parked),
        *outcome.errors,
        *lines,
        render_digest_text(digest),
        json.dumps(render_digest_slack(digest)),
        json.dumps(chat_server.received[-1]),
    ):
        assert_clean(text)


def test_a_bot_token_with_a_newline_reaches_no_traceback(
    chat_server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    """http.client's ValueError quotes the header: `b'Bearer xoxb-…\\nxoxb-…'`. Given
    inline, the token is a config error naming where the newline is, not the token."""
    token = "xoxb-9999-8888-inline-secret\nxoxb-7777-second-half"
    with pytest.raises(Exception, match="line break at position 28") as caught:
        SlackBotNotifier(token, "C0OPS", api_base=chat_server.base)
    assert "inline-secret" not in str(caught.value) and "second-half" not in str(caught.value)

    # raised past the notifier anyway (any ValueError quoting it), it is scrubbed
    logger = logging.getLogger("setpoint")
    try:
        raise ValueError(f"Invalid header value {('Bearer ' + token).encode()!r}")
    except ValueError:
        logger.error("boom", exc_info=True)
    record = caplog.records[-1]
    formatted = logging.Formatter().format(record)
    assert "Traceback" in formatted and "ValueError" in formatted
    assert record.exc_info is not None and record.exc_info[0] is not None
    assert record.exc_info[0].__name__ == "ValueError"  # what Powertools logs as its name
    assert "inline-secret" not in formatted and "second-half" not in formatted


def test_the_log_filter_scrubs_messages_and_extras() -> None:
    record = logging.LogRecord(
        "setpoint",
        logging.ERROR,
        __file__,
        1,
        "posting to %s",
        ("https://h.x/p?sig=ABCDEFGH",),
        None,
    )
    record.__dict__["error"] = {"detail": ["Bearer abcdefgh.ijk"]}
    ScrubbingFilter().filter(record)
    assert record.getMessage() == f"posting to https://h.x/{REDACTED}"
    assert record.__dict__["error"] == {"detail": [f"Bearer {REDACTED}"]}


def test_the_delivery_error_itself_is_scrubbed(chat_server: ChatServer) -> None:
    chat_server.script = [Reply(400, echo_of_the_request())]
    with pytest.raises(DeliveryError) as caught:
        teams(f"{chat_server.base}{LOGIC_PATH}?{LOGIC_QUERY}").deliver({"x": 1})
    assert_clean(str(caught.value))
    assert "127.0.0.1" in str(caught.value)


def test_short_and_plain_words_survive() -> None:
    text = "HTTP 500 from hooks.slack.com: the key was fine, status code 500, sig missing"
    assert scrub(text) == text


# -- URL shapes -------------------------------------------------------------------------

# secret parts are upper case and digits; everything around them is lower case, so a
# secret found in the output cannot be a coincidence of the host or the wording
SECRET = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=8, max_size=24)
SEGMENT = st.builds(
    lambda s, u: s + u, SECRET, st.sampled_from(["", "é", "ü日", "+", "~", " ", "%"])
)
HOST = st.from_regex(r"[a-z]{3,10}(\.[a-z]{2,6}){1,2}", fullmatch=True)


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """(url, scheme://host[:port], the secret parts: path segments and query values)."""
    scheme = draw(st.sampled_from(["https", "http", "HTTPS"]))
    host = draw(HOST)
    port = draw(st.none() | st.integers(1, 65535))
    netloc = host if port is None else f"{host}:{port}"
    segments = draw(st.lists(SEGMENT, min_size=1, max_size=4))
    params = draw(
        st.lists(
            st.tuples(st.sampled_from(["sig", "code", "token", "sp", "api-version"]), SECRET),
            max_size=4,
        )
    )
    sig = draw(SECRET)
    params.insert(draw(st.integers(0, len(params))), ("sig", sig))
    fragment = draw(st.none() | SECRET)
    path = "/" + "/".join(urllib.parse.quote(s) for s in segments)
    url = f"{scheme}://{netloc}{path}?{urllib.parse.urlencode(params)}"
    if fragment is not None:
        url += f"#{fragment}"
    secrets = [s.strip() for s in segments] + [v for _, v in params]
    return url, f"{scheme}://{netloc}", secrets + ([fragment] if fragment else [])


def quoted_forms(text: str) -> list[str]:
    """How an error may quote `text`."""
    return [
        text,
        urllib.parse.unquote(text),
        urllib.parse.quote(text, safe=""),
        urllib.parse.quote(urllib.parse.quote(text, safe=""), safe=""),
        json.dumps(text),
        repr(text.encode()),
    ]


def leaked(output: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in output or urllib.parse.quote(s, safe="") in output]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=urls(), before=st.sampled_from(["", "posting to ", "URLError(", '{"url": ']))
def test_every_url_shape_loses_path_query_and_fragment_and_keeps_its_host(
    shape: tuple[str, str, list[str]], before: str
) -> None:
    """Without knowing the URL: every form a full URL may be quoted in. (A decoded URL
    with a space in it has no visible end; only a remembered one is sure to go.)"""
    url, base, secrets = shape
    for form in quoted_forms(url):
        if any(ch.isspace() for ch in form):
            continue
        output = scrub(f"{before}{form} failed")
        assert leaked(output, secrets) == [], (form, output)
    assert base.lower() in scrub(f"{before}{url} failed").lower()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=urls())
def test_a_remembered_url_is_scrubbed_even_from_a_bare_echo_of_its_path(
    shape: tuple[str, str, list[str]],
) -> None:
    url, base, secrets = shape
    remember_secret(url)
    tail = url[len(base) :]
    for form in quoted_forms(tail) + quoted_forms(tail.split("?")[0]):
        output = scrub(f"the endpoint said: no such route {form}")
        assert leaked(output, secrets) == [], (form, output)
