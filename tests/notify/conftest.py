"""The notify tests talk to the shared fake chat (tests/chat_server.py) as `server`."""

from __future__ import annotations

import pytest

from tests.chat_server import ChatServer


@pytest.fixture
def server(chat_server: ChatServer) -> ChatServer:
    """Slack's Web API, Teams or a webhook: answers JSON `"ok"` unless told otherwise."""
    chat_server.default = "ok"
    return chat_server
