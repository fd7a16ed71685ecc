"""Headless Chromium for tests that look at a page as a person would.

A small W3C WebDriver client over urllib (no selenium): `chromedriver` runs on a loopback
port, Chromium starts headless with a fresh profile and nothing of its own reaching the
network, and the DevTools performance log records every request a page makes. Debian
packages `chromium` and `chromium-driver` provide both binaries; `.ci/run` installs them.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# .ci/run sets it once it has installed Chromium: a missing browser then fails, never skips
REQUIRE_VARIABLE = "SETPOINT_REQUIRE_BROWSER"
# the W3C id of a returned element
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
# the flags the issue names: headless, no sandbox (root in CI), and none of Chromium's
# own traffic (updates, sync, field trials), so every request left is the page's
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
STARTUP_SECONDS = 30.0


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_reason() -> str | None:
    """Why a browser test cannot run here, or None when Chromium and chromedriver exist."""
    if chromium_binary() is None:
        return "Chromium is not installed (apt-get install chromium chromium-driver)"
    if shutil.which("chromedriver") is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WebDriverError(RuntimeError):
    """chromedriver answered with an error (its W3C `error` and `message`)."""


@dataclass
class Browser:
    """One WebDriver session: navigate, find, click, read, and the page's requests."""

    base: str
    session: str
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(urllib.request.ProxyHandler({}))
    )

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}/session/{self.session}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        return _answer(self._opener, request)

    def open(self, url: str) -> None:
        """Navigate; `requests_made` afterwards holds this page's requests only."""
        self.requests_made()
        self._call("POST", "/url", {"url": url})

    def find_all(self, css: str) -> list[str]:
        found = self._call("POST", "/elements", {"using": "css selector", "value": css})
        return [item[ELEMENT] for item in found]

    def find(self, css: str) -> str:
        found = self.find_all(css)
        if len(found) != 1:
            raise WebDriverError(f"{len(found)} elements match {css!r}, expected one")
        return found[0]

    def click(self, element: str) -> None:
        self._call("POST", f"/element/{element}/click", {})

    def displayed(self, element: str) -> bool:
        return bool(self._call("GET", f"/element/{element}/displayed"))

    def text(self, element: str) -> str:
        return str(self._call("GET", f"/element/{element}/text"))

    def selected(self, element: str) -> bool:
        return bool(self._call("GET", f"/element/{element}/selected"))

    def run(self, script: str) -> Any:
        return self._call("POST", "/execute/sync", {"script": script, "args": []})

    def requests_made(self) -> list[dict[str, Any]]:
        """DevTools' `Network.requestWillBeSent` params since the last call (the log drains)."""
        entries = self._call("POST", "/se/log", {"type": "performance"})
        out = []
        for entry in entries:
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                out.append(message["params"])
        return out

    def requests_from(self, document_url: str) -> list[str]:
        """The URLs requested on behalf of `document_url` (the page itself included)."""
        return [
            params["request"]["url"]
            for params in self.requests_made()
            if params.get("documentURL") == document_url
        ]


def _answer(opener: urllib.request.OpenerDirector, request: urllib.request.Request) -> Any:
    try:
        with opener.open(request, timeout=60) as reply:
            body = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        value = body.get("value") or {}
        raise WebDriverError(f"{value.get('error')}: {value.get('message')}") from exc
    return body.get("value")


def _wait_started(process: subprocess.Popen[bytes]) -> None:
    """Read chromedriver's output until it says it listens (no polling sleep)."""
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
        if b"started successfully" in seen:
            return
    raise WebDriverError(f"chromedriver did not start: {seen.decode(errors='replace')[-500:]}")


@contextmanager
def chromium(width: int = 1200, height: int = 900) -> Iterator[Browser]:
    """A headless Chromium session with a fresh profile, closed (and deleted) afterwards."""
    binary = chromium_binary()
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        raise WebDriverError(missing_reason() or "no browser")
    port = _free_port()
    profile = Path(tempfile.mkdtemp(prefix="setpoint-chromium-"))
    process = subprocess.Popen(
        [driver, f"--port={port}", "--allowed-ips=127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        _wait_started(process)
        options = {
            "binary": binary,
            "args": [
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
            ],
        }
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": {"performance": "ALL"},
        }
        request = urllib.request.Request(
            f"{base}/session",
            data=json.dumps({"capabilities": {"alwaysMatch": capabilities}}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        session = _answer(opener, request)["sessionId"]
        browser = Browser(base, session, opener)
        try:
            browser.requests_made()  # the start page's own requests, before ours
            yield browser
        finally:
            delete = urllib.request.Request(f"{base}/session/{session}", method="DELETE")
            _answer(opener, delete)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page: Path, out: Path, width: int, height: int) -> None:
    """Chromium's own `--screenshot` of `page` at `width`×`height` (no driver needed)."""
    binary = chromium_binary()
    if binary is None:
        raise WebDriverError(missing_reason() or "no browser")
    with tempfile.TemporaryDirectory(prefix="setpoint-chromium-") as profile:
        subprocess.run(
            [
                binary,
                *CHROMIUM_FLAGS,
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
