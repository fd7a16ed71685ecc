"""Alert state: remember each off-spec resource so chat hears each drift once, to its end.

`decide` (pure) turns the last record and a fresh finding into an `Alert` and the next
record; `apply_finding` does it against a `StateStore` with conditional writes.
"""

from __future__ import annotations

# made where findings are made (model.py); re-exported for callers not moved yet (cli/)
from chalicelib.model import gone_finding, is_gone
from chalicelib.state.errors import StateConflictError, StateStoreError
from chalicelib.state.fingerprint import canonical_json, change_key, fingerprint
from chalicelib.state.record import StateRecord, alias_key, record_key, with_messages
from chalicelib.state.store import (
    ATTRIBUTE_DEFINITIONS,
    KEY_SCHEMA,
    TTL_ATTRIBUTE,
    DynamoStateStore,
    MemoryStateStore,
    StateLocation,
    StateStore,
    parse_state_uri,
)
from chalicelib.state.transitions import (
    Cause,
    Decision,
    apply_finding,
    decide,
    release,
    remember_messages,
)

__all__ = [
    "ATTRIBUTE_DEFINITIONS",
    "KEY_SCHEMA",
    "TTL_ATTRIBUTE",
    "Cause",
    "Decision",
    "DynamoStateStore",
    "MemoryStateStore",
    "StateConflictError",
    "StateLocation",
    "StateRecord",
    "StateStore",
    "StateStoreError",
    "alias_key",
    "apply_finding",
    "canonical_json",
    "change_key",
    "decide",
    "fingerprint",
    "gone_finding",
    "is_gone",
    "parse_state_uri",
    "record_key",
    "release",
    "remember_messages",
    "with_messages",
]
