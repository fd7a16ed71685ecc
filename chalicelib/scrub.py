"""The one scrubber: secrets out of error text before it is stored, logged or posted.

A webhook URL is a credential twice over: Slack's lives in its path, a Teams/Logic Apps
trigger's in its query (`sig=`). A bot token is one too. Error text travels far (logs,
the outbox body, the dead-letter queue, the sweep digest in chat), and exceptions quote
whatever they like: a URL percent-decoded, a header as `b'Bearer xoxb-…\\n…'`. So every
piece of error text goes through `scrub` once, here, before any of those:

- every URL keeps its scheme and host; path, query and fragment become `/[redacted]`
  (percent-encoded URLs are decoded first, so `https%3A%2F%2F…` is caught too);
- `sig=`, `signature=`, `token=`, `code=`, `key=`… keep the name, lose the value, also
  outside a URL and in `"sig": "…"` form;
- Slack tokens (`xoxb-…`, `xapp-…`) and `Bearer`/`Basic` credentials;
- the secrets this process has loaded (`remember_secret`: configured URLs and tokens),
  in every form an error may quote them (raw, percent-encoded or decoded, JSON- or
  repr-escaped, and their long path segments and query values): an echo of the bare
  path `/services/T0/B0/XXXX` has no scheme to recognise it by.

`ScrubbingFilter` is the second lock: installed on the "setpoint" logger, it scrubs
every message, every string extra and every traceback logged there.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import traceback
import urllib.parse
from collections.abc import Iterable

REDACTED = "[redacted]"
# below this, a path segment or query value is a word ("hook", "invoke"), not a secret
_MIN_PART = 8

_SECRET_NAMES = (
    r"sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|code|key|apikey|"
    r"api[_-]key|token|access[_-]token|refresh[_-]token|id[_-]token|secret|client[_-]secret|"
    r"password|passwd|pwd"
)
# `sig=VALUE`, `sig%3DVALUE`, `"sig": "VALUE"`, `'sig': 'VALUE'`
_PARAM = re.compile(
    rf"""(?<![A-Za-z0-9_-])(?P<q>["']?)(?P<name>{_SECRET_NAMES})(?P=q)"""
    rf"""(?P<sep>\s*[:=]\s*["']?|%3D|%253D)(?P<value>[^\s&;"'<>#,}}\]\\]+)""",
    re.IGNORECASE,
)
# a URL: scheme://[userinfo@]host[:port] and whatever follows it up to a quote or a space
_URL = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?:[^\s/?#@\"'<>\\]*@)?"
    r"(?P<host>[^\s/?#\"'<>\\]+)(?P<rest>[/?#\\][^\s\"'<>]*)?",
    re.IGNORECASE,
)
# what the URL rule keeps: scheme://host[:port]
_BASE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/?#\"'<>\\]+)", re.IGNORECASE)
# a percent-encoded URL (once or twice): https%3A%2F%2F…
_ENCODED_URL = re.compile(
    r"\b[a-z][a-z0-9+.-]*(?:%3A|%253A)(?:%2F|%252F){2}[^\s\"'<>]*", re.IGNORECASE
)
_SLACK_TOKEN = re.compile(r"\b(?P<kind>xox[a-z]|xapp|xoxe\.xox[a-z])-[A-Za-z0-9-]+")
_AUTH = re.compile(r"\b(?P<scheme>Bearer|Basic)\s+[^\s'\"<>,;]+", re.IGNORECASE)

_known: set[str] = set()
_known_lock = threading.Lock()
_by_length: tuple[str, ...] = ()


def remember_secret(value: str) -> None:
    """Scrub `value` (a webhook URL, a token) and its parts from every text from now on.

    Called where a secret enters the process (configuration, SSM); cheap to repeat.
    """
    global _by_length
    forms = {form for part in _parts(value) for form in _forms(part) if len(form) >= 4}
    with _known_lock:
        if forms <= _known:
            return
        _known.update(forms)
        _by_length = tuple(sorted(_known, key=len, reverse=True))


def _parts(value: str) -> set[str]:
    """The secret and the pieces of it an error may quote on their own."""
    value = value.strip()
    split = urllib.parse.urlsplit(value) if "://" in value else None
    if split is None or not split.netloc:
        return {value} | {word for word in value.split() if len(word) >= _MIN_PART}
    # a URL: its scheme and host stay readable (the URL rule keeps them), the rest goes
    parts: set[str] = set()
    tail = value[value.index(split.netloc) + len(split.netloc) :]
    if len(tail) > 1:
        parts.add(tail)  # path, query and fragment together
    if len(split.path) > 1:
        parts.add(split.path)
        parts.update(s for s in split.path.split("/") if len(s) >= _MIN_PART)
    if split.query:
        parts.add(split.query)
        for _, item in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
            if len(item) >= _MIN_PART:
                parts.add(item)
    if split.fragment:
        parts.add(split.fragment)
    return parts


def _forms(part: str) -> set[str]:
    """`part` as exceptions quote it: raw, decoded, encoded, JSON- and repr-escaped."""
    forms = {part, urllib.parse.unquote(part), urllib.parse.unquote_plus(part)}
    forms |= {urllib.parse.quote(part, safe=""), urllib.parse.quote(part, safe="/")}
    forms |= {urllib.parse.quote_plus(part, safe="")}
    forms |= {urllib.parse.quote(form, safe="") for form in list(forms)}  # encoded twice
    for form in list(forms):
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
        forms.add(repr(form)[1:-1])
        forms.add(repr(form.encode("utf-8", "backslashreplace"))[2:-1])
    return forms


def forget_secrets() -> None:
    """Drop every remembered secret (tests that check the generic rules alone)."""
    global _by_length
    with _known_lock:
        _known.clear()
        _by_length = ()


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without URL paths, queries and fragments, secret parameters, tokens, the
    remembered secrets, or `secrets` (given for this call only)."""
    if not text:
        return text
    # whole URLs first (their hosts stay), then what is left of the known secrets
    text = _ENCODED_URL.sub(_decoded_url, text)
    text = _URL.sub(_url, text)
    extra = [form for part in secrets if part for p in _parts(part) for form in _forms(p)]
    known = [s for s in sorted(extra, key=len, reverse=True) + list(_by_length) if len(s) >= 4]
    # a short secret ("/hook") must not eat into a host ("https://hooks…"): skip the bases
    pieces = _BASE.split(text)
    for index in range(0, len(pieces), 2):
        for secret in known:
            if secret in pieces[index]:
                pieces[index] = pieces[index].replace(secret, REDACTED)
    text = "".join(pieces)
    text = _PARAM.sub(lambda m: f"{m['q']}{m['name']}{m['q']}{m['sep']}{REDACTED}", text)
    text = _SLACK_TOKEN.sub(lambda m: f"{m['kind']}-{REDACTED}", text)
    return _AUTH.sub(lambda m: f"{m['scheme']} {REDACTED}", text)


def _decoded_url(match: re.Match[str]) -> str:
    url = match.group(0)
    for _ in range(2):  # encoded once, or twice (%253A); no further, or %20 becomes a space
        if _URL.match(url):
            break
        url = urllib.parse.unquote(url)
    return _URL.sub(_url, url)


def _url(match: re.Match[str]) -> str:
    base = f"{match['scheme']}{match['host']}"
    return f"{base}/{REDACTED}" if match["rest"] and match["rest"] != "/" else base


def error_text(error: BaseException) -> str:
    """What an exception says, scrubbed: `ValueError: …` for anything not ours, since a
    bare message ("Invalid header value") hides what kind of failure it was."""
    from chalicelib.errors import SetpointError

    message = str(error)
    if not isinstance(error, SetpointError):
        message = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return scrub(message)


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class ScrubbingFilter(logging.Filter):
    """Scrubs a record's message, string extras and traceback before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in args)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                record.__dict__[key] = _scrubbed(value)
        if record.exc_info and record.exc_info[1] is not None:
            _, error, trace = record.exc_info
            if not isinstance(error, ScrubbedError):
                stand_in = _stand_in(type(error).__name__)
                record.exc_info = (stand_in, stand_in(_chain_text(error)), trace)
                record.exc_text = None  # formatted from the scrubbed one
        return True


class ScrubbedError(Exception):
    """Stands in for a logged exception: same frames (code, not values), its message
    and those of its causes scrubbed. Formatters (Powertools' too) print this instead."""


@functools.cache
def _stand_in(name: str) -> type[ScrubbedError]:
    """A ScrubbedError named like the original, so `exception_name` in the logs stays
    `UnicodeEncodeError`, `ValueError`…"""
    return type(name, (ScrubbedError,), {"__module__": __name__})


def _chain_text(error: BaseException) -> str:
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append("".join(traceback.format_exception_only(current)).strip())
        current = current.__cause__ or current.__context__
    return scrub(" <- ".join(lines))


def _scrubbed(value: object) -> object:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return type(value)(_scrubbed(v) for v in value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    return value


def scrub_logs(logger: logging.Logger) -> None:
    """Install the filter on `logger` once."""
    if not any(isinstance(f, ScrubbingFilter) for f in logger.filters):
        logger.addFilter(ScrubbingFilter())


scrub_logs(logging.getLogger("setpoint"))
