"""Every registered family's pipeline on one account's clients.

Apart from the registry so that the family modules (which the registry imports) never
import it back: the runtime, the sweep and the CLI build pipelines through here.
"""

from __future__ import annotations

from chalicelib.aws import ClientCache
from chalicelib.kinds.registry import FAMILIES, deletes
from chalicelib.pipeline import Pipeline


def build_pipeline(clients: ClientCache) -> Pipeline:
    """Every registered family's pipeline, reading through `clients`."""
    return Pipeline([family.pipeline(clients) for family in FAMILIES], deletes=deletes)
