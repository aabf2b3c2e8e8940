"""Shared constants of the simulator unit tests, and what the collectors would make of a message.

The constants live here, not in conftest.py: run together with other test folders, ``conftest``
names another folder's module, while this name is unique.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collectors.pipeline import Inbound, Pipeline
from schemas import Envelope, Registry, RejectReason
from simulator import SimMessage

SEED = 7
DEVICES = 300
# Enough that every reject reason and every variant of most appears, small enough for ~2 s.
MESSAGES = 6000
BAD_RATIO = 0.1
NMEA_RATIO = 0.3
# A fixed clock makes the output byte-for-byte reproducible and lets decode use it as receive time.
NOW = datetime(2026, 5, 1, 4, 30, tzinfo=UTC)


def verdict(msg: SimMessage, registry: Registry, received_at: datetime) -> Envelope | RejectReason:
    """The envelope of an accepted message, or the reason it is rejected: the collectors' own
    pipeline (topic, registry binding, decode, enrichment) without rate limits or quotas."""
    pipeline = Pipeline(collector_id="test", registry=registry, districts=None)
    routed = pipeline.route(Inbound(msg.topic, msg.payload, received_at, 0.0))
    if routed.reason is not None:
        return routed.reason
    return Envelope.model_validate_json(routed.value)
