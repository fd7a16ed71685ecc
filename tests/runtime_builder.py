"""The one way tests build a `Runtime` (the composition root) by hand.

Clients are whatever `clients` is (moto-backed under the `aws` fixture); every other
field is the caller's or the Runtime's own default. Code below the runtime is tested
with its narrow collaborators instead (`alerting.Delivery`, `SweepService`...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from chalicelib.aws import ClientCache
from chalicelib.kinds.pipelines import build_pipeline
from chalicelib.pipeline import Pipeline
from chalicelib.ports import Notifier, SpecProvider
from chalicelib.runtime import Runtime


def no_specs() -> NoReturn:
    raise AssertionError("this test reads no specs")


def build_runtime(
    *,
    clients: ClientCache | None = None,
    pipeline: Pipeline | None = None,
    specs: SpecProvider = no_specs,
    notifiers: Sequence[Notifier] = (),
    **fields: Any,
) -> Runtime:
    """A runtime on `clients` (a fresh ClientCache if none), reading with `pipeline`
    (every family's, on those clients, if none); `fields` are Runtime's other fields."""
    clients = clients or ClientCache()
    return Runtime(
        clients=clients,
        pipeline=pipeline if pipeline is not None else build_pipeline(clients),
        specs=specs,
        notifiers=list(notifiers),
        **fields,
    )
