"""The one fake chat for every test: a real HTTP server on 127.0.0.1 (port 0).

It stands in for a Slack incoming webhook, Slack's Web API, Teams and plain JSON webhooks:
it records every request, answers from a script of `Reply`s and then with its default
(200 while `up`, 503 once it is not). `received` holds the bodies it accepted (2xx):
what people would see in the channel. `closed_port()` gives an endpoint that refuses
connections for sure, instead of hoping nothing listens on some well-known port.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypedDict

# The proxy variables urllib honours; a proxy must not swallow calls to 127.0.0.1.
PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
)


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    `body`: bytes are sent as they are, anything else as JSON, None means the server's
    default. `delay` holds the answer back that many seconds (a client with a shorter
    timeout gives up first); `hang` never answers until the server stops.
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False


class Request(TypedDict):
    """What arrived: the path, the headers, the body (parsed JSON, else the raw bytes)
    and the status the server answered with."""

    path: str
    headers: dict[str, str]
    body: Any
    status: int


Default = bytes | Callable[[int], Any] | Any


@dataclass
class ChatServer:
    """The server's state, which a test scripts and inspects.

    `default` is the body of an unscripted 2xx answer: bytes, a JSON-ready value, or a
    function of the request number (1, 2, ...) returning one. Slack webhooks answer `ok`.
    """

    base: str = ""
    script: list[Reply] = field(default_factory=list)
    up: bool = True
    default: Default = b"ok"
    requests: list[Request] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def url(self) -> str:
        """A webhook URL on this server."""
        return f"{self.base}/hook"

    @property
    def attempts(self) -> int:
        return len(self.requests)

    @property
    def refused(self) -> int:
        """Requests not accepted: answered with an error, or left hanging."""
        return sum(1 for r in self.requests if not 200 <= r["status"] < 300)

    def bodies(self) -> list[Any]:
        """Every body sent, accepted or not."""
        return [r["body"] for r in self.requests]

    def alerts(self) -> list[str]:
        """`kind:status` per accepted alert (JSON webhook bodies), e.g. `new:drifted`."""
        return [f"{m['alert']['kind']}:{m['status']}" for m in self.received]

    def fail_first(self, count: int, status: int = 500) -> None:
        """Refuse the next `count` requests with `status`, then answer as before."""
        self.script = [Reply(status, b"no")] * count + self.script

    def _next(self, path: str, headers: dict[str, str], body: Any) -> tuple[Reply, bytes]:
        with self._lock:
            if self.script:
                reply = self.script.pop(0)
            else:
                reply = Reply() if self.up else Reply(503, b"busy")
            status = 0 if reply.hang else reply.status  # 0: never answered
            self.requests.append(Request(path=path, headers=headers, body=body, status=status))
            if 200 <= status < 300:
                self.received.append(body)
            count = len(self.requests)
        payload = reply.body
        if payload is None:
            payload = self.default(count) if callable(self.default) else self.default
        return reply, payload if isinstance(payload, bytes) else json.dumps(payload).encode()

    def _wait(self, seconds: float | None) -> None:
        self._stopping.wait(seconds)


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _handler(chat: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply, data = chat._next(self.path, dict(self.headers), _parse(raw))
            if reply.hang:
                chat._wait(None)
                return
            if reply.delay:
                chat._wait(reply.delay)
            try:
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up, as a timeout test intends

        do_POST = do_PUT = do_GET = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_chat() -> Iterator[ChatServer]:
    """A started ChatServer, stopped (hanging requests released) on exit."""
    chat = ChatServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(chat))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    chat.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield chat
    finally:
        chat._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses every connection: bound by us and never listened on,
    so nothing else can take it while the test runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
