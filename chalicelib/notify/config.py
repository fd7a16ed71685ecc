"""Notifiers from a small dict (the stage's JSON setting), so routing needs no code.

One notifier:

    {"type": "slack_webhook", "url_param": "/setpoint/chat-url"}

Several, routed:

    {"notifiers": {
        "ops": {"type": "slack_bot", "token_param": "/setpoint/slack-token", "channel": "C0OPS"},
        "web": {"type": "teams", "url_param": "/setpoint/web-teams-url"},
        "mail": {"type": "sns", "topic_arn": "arn:aws:sns:eu-west-1:123456789012:drift"}},
     "routes": [{"tags": {"team": "web"}, "notify": ["web"]},
                {"statuses": ["unmanaged"], "alert_kinds": ["new"], "notify": ["mail"]}],
     "default": ["ops"]}

Types: slack_webhook, slack_bot, teams, json, sns, console. Webhooks take `url` or (the
deployed way) `url_param`, an SSM SecureString read on first post; a bot takes `token` or
`token_param`, and `channel`. Optional on every http notifier: `name` (its MessageRef
name), `max_attempts`, `timeout`. A route's conditions are `kinds`, `statuses`,
`alert_kinds` (each a name or a list) and `tags` (tag key to a value or a list of
values; every key must hold). Tags are the resource's own, as read live. Without
`default`, alerts that match no route go to every notifier: nothing is dropped for want
of a route.

A bot may let a tag pick the channel, so one notifier serves every team:

    {"type": "slack_bot", "token_param": "/setpoint/slack-token", "channel": "C0OPS",
     "channel_tag": "team", "channels": {"payments": "C0PAY", "web": "C0WEB"}}

A resource tagged team=payments is posted to C0PAY; untagged ones, or values not in
`channels`, to `channel`. Without `channels` the tag's value is the channel itself
(a tag like `slack-channel=#payments`). `api_base` (default https://slack.com/api) is
the Web API's base URL, for Slack-compatible servers and the local demo.

Unknown keys are errors, not ignored: a misspelt `status` would otherwise turn a narrow
route into a catch-all. Errors never quote a URL or a token.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

from chalicelib.errors import ConfigError
from chalicelib.kinds.registry import ALL_KINDS
from chalicelib.model import Status
from chalicelib.notify.alert import AlertKind
from chalicelib.notify.delivery import (
    AlertNotifier,
    ConsoleNotifier,
    SsmWebhookNotifier,
    notifier_for,
    secret_from_ssm,
)
from chalicelib.notify.routing import Route, RoutedNotifier
from chalicelib.ports import Sleep

_WEBHOOK_FORMATS = {"slack_webhook": "slack", "json": "json", "teams": "teams"}
_TYPES = (*_WEBHOOK_FORMATS, "slack_bot", "sns", "console")
_HTTP_OPTIONS = {"name", "max_attempts", "timeout"}
_KEYS: Mapping[str, set[str]] = {
    **{kind: {"url", "url_param"} | _HTTP_OPTIONS for kind in _WEBHOOK_FORMATS},
    "slack_bot": {"token", "token_param", "channel", "api_base", "channel_tag", "channels"}
    | _HTTP_OPTIONS,
    "sns": {"topic_arn", "chatbot"},
    "console": set(),
}
_ROUTE_KEYS = {"kinds", "statuses", "alert_kinds", "tags", "notify"}
_TOP_KEYS = {"notifiers", "routes", "default"}


def notifier_from_json(
    text: str,
    *,
    sns_client: Any = None,
    session: Any = None,
    stream: IO[str] | None = None,
    sleep: Sleep | None = None,
) -> RoutedNotifier:
    """`notifier_from_config` for the JSON text of an environment variable."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"notifier configuration is not valid JSON: {error.msg}") from None
    return notifier_from_config(
        config, sns_client=sns_client, session=session, stream=stream, sleep=sleep
    )


def notifier_from_config(
    config: Mapping[str, Any],
    *,
    sns_client: Any = None,
    session: Any = None,
    stream: IO[str] | None = None,
    sleep: Sleep | None = None,
) -> RoutedNotifier:
    """Build the notifiers and routes `config` describes.

    Always a RoutedNotifier (one notifier is one default), so callers have one API:
    `post_alert(alert)` returns every MessageRef. `sns_client` (or a boto3 `session`)
    serves SNS notifiers; `stream` the console one (stdout by default); `sleep` is how
    HTTP notifiers wait between attempts (time.sleep by default).
    """
    if not isinstance(config, Mapping):
        raise ConfigError("notifier configuration must be an object")
    built = _Builder(sns_client, session, stream, sleep)
    if "type" in config:
        return RoutedNotifier([], [built.notifier("notifier", config)])
    _only(config, _TOP_KEYS, "notifier configuration")
    specs = config.get("notifiers")
    if not isinstance(specs, Mapping) or not specs:
        raise ConfigError("notifier configuration needs `type`, or `notifiers` by name")
    named = {str(name): built.notifier(str(name), spec) for name, spec in specs.items()}
    routes_config = config.get("routes", [])
    if not isinstance(routes_config, list):
        raise ConfigError("`routes` must be a list")
    routes = [_route(index, spec, named) for index, spec in enumerate(routes_config, 1)]
    default_names = config.get("default", list(named))
    default = _pick(named, default_names, "default")
    return RoutedNotifier(routes, default)


class _Builder:
    def __init__(
        self, sns_client: Any, session: Any, stream: IO[str] | None, sleep: Sleep | None
    ) -> None:
        self.sns_client = sns_client
        self.session = session
        self.stream = stream
        self.sleep = sleep

    def _http(self, label: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        options = _http_options(label, spec)
        if self.sleep is not None:
            options["sleep"] = self.sleep
        return options

    def notifier(self, label: str, spec: Any) -> AlertNotifier:
        if not isinstance(spec, Mapping):
            raise ConfigError(f"notifier {label} must be an object")
        kind = spec.get("type")
        if kind not in _TYPES:
            raise ConfigError(f"notifier {label}: type must be one of {', '.join(_TYPES)}")
        _only(spec, _KEYS[kind] | {"type"}, f"notifier {label}")
        if kind in _WEBHOOK_FORMATS:
            return self._webhook(label, _WEBHOOK_FORMATS[kind], spec)
        if kind == "slack_bot":
            return self._slack_bot(label, spec)
        if kind == "sns":
            return self._sns(label, spec)
        return ConsoleNotifier(self.stream or sys.stdout)

    def _webhook(self, label: str, fmt: str, spec: Mapping[str, Any]) -> AlertNotifier:
        options = self._http(label, spec)
        url, param = _one_of(label, spec, "url", "url_param")
        if param is not None:
            return SsmWebhookNotifier(param, fmt, **options)
        assert url is not None
        return notifier_for(url, fmt, **options)

    def _slack_bot(self, label: str, spec: Mapping[str, Any]) -> AlertNotifier:
        from chalicelib.notify.slack_bot import DEFAULT_API_BASE, SlackBotNotifier

        options = self._http(label, spec)
        token, param = _one_of(label, spec, "token", "token_param")
        channel = _string(label, spec, "channel", required=True)
        options["api_base"] = _string(label, spec, "api_base") or DEFAULT_API_BASE
        options["channel_tag"] = _string(label, spec, "channel_tag")
        options["channels"] = _channels(label, spec, options["channel_tag"])
        if param is not None:

            def source(force: bool, name: str = param) -> str:
                return secret_from_ssm(name, "Slack bot token", force=force)

            return SlackBotNotifier(source, str(channel), **options)
        assert token is not None
        return SlackBotNotifier(token, str(channel), **options)

    def _sns(self, label: str, spec: Mapping[str, Any]) -> AlertNotifier:
        from chalicelib.notify.sns import SnsNotifier

        topic_arn = str(_string(label, spec, "topic_arn", required=True))
        chatbot = spec.get("chatbot", False)
        if not isinstance(chatbot, bool):
            raise ConfigError(f"notifier {label}: chatbot must be true or false")
        client = self.sns_client
        if client is None:
            parts = topic_arn.split(":")
            region = parts[3] if len(parts) > 3 and parts[3] else None
            if self.session is None:
                import boto3

                self.session = boto3.session.Session()
            client = self.session.client("sns", region_name=region)
        return SnsNotifier(client, topic_arn, chatbot=chatbot)


def _only(spec: Mapping[str, Any], allowed: set[str], label: str) -> None:
    unknown = sorted(str(key) for key in spec if key not in allowed)
    if unknown:
        hints = [
            f"{key} → {close[0]}?"
            for key in unknown
            if (close := difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6))
        ]
        hint = f"; did you mean {', '.join(hints)}" if hints else ""
        raise ConfigError(
            f"{label}: unknown key(s) {', '.join(unknown)}{hint} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def _channels(label: str, spec: Mapping[str, Any], tag: str | None) -> dict[str, str]:
    """`channels`: tag value → Slack channel, for a bot whose channel a tag picks."""
    if "channels" not in spec:
        return {}
    if tag is None:
        raise ConfigError(f"notifier {label}: channels needs channel_tag, the tag key to read")
    value = spec["channels"]
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"notifier {label}: channels must map tag values to channels")
    for key, channel in value.items():
        if not isinstance(channel, str) or not channel.strip():
            raise ConfigError(
                f"notifier {label}: channels.{key} must be a non-empty channel (an id like C0123)"
            )
    return {str(key): channel.strip() for key, channel in value.items()}


def _string(label: str, spec: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = spec.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"notifier {label}: {key} must be a non-empty string")
    return value.strip()


def _one_of(
    label: str, spec: Mapping[str, Any], inline: str, param: str
) -> tuple[str | None, str | None]:
    """Exactly one of the secret itself or the SSM parameter holding it."""
    if (inline in spec) == (param in spec):
        raise ConfigError(f"notifier {label}: give exactly one of {inline} or {param}")
    return _string(label, spec, inline), _string(label, spec, param)


def _http_options(label: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "name" in spec:
        options["name"] = _string(label, spec, "name", required=True)
    if "max_attempts" in spec:
        value = spec["max_attempts"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"notifier {label}: max_attempts must be a whole number >= 1")
        options["max_attempts"] = value
    if "timeout" in spec:
        value = spec["timeout"]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"notifier {label}: timeout must be a positive number of seconds")
        options["timeout"] = float(value)
    return options


def _names(value: Any, label: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{label} must be a name or a list of names")


def _pick(named: Mapping[str, AlertNotifier], value: Any, label: str) -> list[AlertNotifier]:
    names = _names(value, label)
    missing = [name for name in names if name not in named]
    if missing:
        raise ConfigError(f"{label} names unknown notifier(s): {', '.join(missing)}")
    return [named[name] for name in names]


def _values(
    spec: Mapping[str, Any], key: str, allowed: Sequence[str], label: str
) -> frozenset[str]:
    if key not in spec:
        return frozenset()
    values = _names(spec[key], f"{label} {key}")
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise ConfigError(f"{label}: unknown {key} {', '.join(wrong)} (use {', '.join(allowed)})")
    return frozenset(values)


def _route(index: int, spec: Any, named: Mapping[str, AlertNotifier]) -> Route:
    label = f"route {index}"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{label} must be an object")
    _only(spec, _ROUTE_KEYS, label)
    if "notify" not in spec:
        raise ConfigError(f"{label} needs `notify`: the notifier names it sends to")
    tags = _route_tags(label, spec)
    return Route(
        notifiers=_pick(named, spec["notify"], f"{label} notify"),
        kinds=_values(spec, "kinds", [k.value for k in ALL_KINDS], label),
        statuses=_values(spec, "statuses", [s.value for s in Status], label),
        alert_kinds=_values(spec, "alert_kinds", [a.value for a in AlertKind], label),
        tags=tags,
    )


def _route_tags(label: str, spec: Mapping[str, Any]) -> dict[str, str | frozenset[str]]:
    """A route's `tags`: each key to a value, or to a list of values any of which holds."""
    if "tags" not in spec:
        return {}
    tags = spec["tags"]
    if not isinstance(tags, Mapping) or not tags:
        raise ConfigError(f'{label}: tags must map tag keys to values, like {{"team": "payments"}}')
    out: dict[str, str | frozenset[str]] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{label}: tags has an empty tag key")
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out[key] = frozenset(value)
        else:
            raise ConfigError(
                f"{label}: tags.{key} must be a tag value or a non-empty list of values"
            )
    return out
