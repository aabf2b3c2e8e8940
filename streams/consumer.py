"""The worker's Faust app and consumer, as the rest of streams/ sees them.

:class:`StreamsApp` is a ``faust.App`` whose consumer hands each fetch of the hot topics (events,
dead letters), as a list, to one batch handler instead of delivering record by record; its fetch
wait is a setting. Both need Faust's internals, so both live in streams/faust_private.py, the one
module that uses them: this module and the rest of streams/ use Faust's public API only.
"""

from __future__ import annotations

from typing import Any

from faust.exceptions import ConsumerNotStarted

from streams.faust_private import BatchHandler, StreamsApp, ack_batch, processed_offset

__all__ = ["BatchHandler", "StreamsApp", "ack_batch", "events_lag"]


def events_lag(consumer: Any, topic: str) -> int:
    """Records of ``topic`` behind this worker: Σ over its assigned partitions of the high
    watermark minus the next offset to process (the last read + 1, else the committed one).

    The watermark is the one of the latest fetch (no broker round trip); Tansu's can trail the
    real end (FACTS.md), so a partition never counts below 0. A partition not fetched yet has
    no watermark and counts 0.
    """
    total = 0
    try:
        assigned = consumer.assignment()
    except ConsumerNotStarted:  # nothing assigned yet
        return 0
    for tp in assigned:
        if tp.topic != topic:
            continue
        try:
            high = consumer.highwater(tp)
        except AssertionError:  # aiokafka asserts the partition is (still) assigned
            high = None
        done = processed_offset(consumer, tp)
        if high is None or done is None:
            continue
        total += max(0, high - done)
    return total
