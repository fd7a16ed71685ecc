"""The seams the core depends on, so it can be wired to AWS, to a terminal, or to a test.

Delivery, re-checks, the outbox, spec changes and the sweep take these (state, clock,
notifiers, queues) rather than the whole `Runtime`; `runtime.py` is the composition root
that builds the real ones from the environment. This module imports nothing at run time,
so anything may import it without joining an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.model import Actor, Finding, ResourceRef
    from chalicelib.notify.alert import Alert, MessageRef
    from chalicelib.notify.outbox import OutboxMessage
    from chalicelib.specs.catalog import SpecCatalog
    from chalicelib.state.record import StateRecord
    from chalicelib.sweep.digest import Digest
    from chalicelib.sweep.shards import ShardMessage

Clock = Callable[[], datetime]  # "now", timezone-aware
Sleep = Callable[[float], None]  # wait this many seconds (retries, backoff)
SpecProvider = Callable[[], "SpecCatalog"]  # the current specs (cached by the provider)


class StateStore(Protocol):
    """Records by key, written only if nobody else wrote since they were read."""

    def get(self, key: str) -> StateRecord | None: ...

    def put(self, record: StateRecord, expected_version: int | None) -> None:
        """Write `record`; `expected_version` None means "only if there is no row yet".

        Raises StateConflictError when the stored version is not the expected one.
        """

    def delete(self, key: str, expected_version: int | None) -> None:
        """Delete the row if its version is `expected_version` (None: unconditionally)."""


class Notifier(Protocol):
    """Tells people: one alert (saying where it went, so follow-ups thread under it), or
    one sweep digest. Both raise DeliveryError (or ConfigError) when nobody heard it.

    `name` is what its `MessageRef.notifier` holds. A routed set returns the refs of
    every message it posted; the console returns None (nothing to point back at).
    """

    @property
    def name(self) -> str: ...

    def post_alert(self, alert: Alert) -> MessageRef | tuple[MessageRef, ...] | None: ...

    def post_digest(self, digest: Digest) -> None: ...


class Outbox(Protocol):
    """Where an alert goes when no notifier could deliver it, to be retried later.

    `targets` names the notifiers that failed (empty: all of them), so a retry does
    not post twice to the ones that already have it. `requeue` parks a retried message
    again as it is (narrowed to the targets still failing, its first error and time kept).
    """

    def put(self, alert: Alert, error: str, targets: Sequence[str] = ()) -> None: ...

    def requeue(self, message: OutboxMessage) -> None: ...


class RecheckQueue(Protocol):
    """Reads to repeat after a delay, when the first read may predate the change."""

    def schedule(
        self, refs: Sequence[ResourceRef], actor: Actor | None, delay_seconds: int
    ) -> None: ...


class SweepQueue(Protocol):
    """Where sweep shards wait for their worker (SQS in the Lambda)."""

    def send_batch(self, messages: Sequence[ShardMessage], start: int) -> dict[int, str]:
        """Send up to ten; return index -> error for the messages not taken."""
        ...

    def defer(self, body: str, delay_seconds: int) -> None:
        """Send a shard's message again, to arrive `delay_seconds` from now."""


class Evaluator(Protocol):
    """Reads resources (each in its own account) and compares them with the specs."""

    def evaluate(self, refs: Sequence[ResourceRef], actor: Actor | None) -> list[Finding]: ...
