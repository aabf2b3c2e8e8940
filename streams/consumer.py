"""Faust plumbing for the batched hot path: a consumer that hands whole fetches to one handler.

Faust delivers each record through ``Consumer._drain_messages``, which awaits
``wait_first(callback(message), ...)`` per record: two tasks and three event-loop turns per
message, ~200 µs here, which caps a worker near 5,000 records/s before any work is done (bench
notes in streams/README.md). :class:`BatchConsumer` keeps Faust's loop for every other topic
(table changelogs during recovery, standbys) and for the events topic hands each fetch, as a
list, to :attr:`BatchConsumer.batch_handler`. Faust still owns everything else: the consumer
group and rebalances, the state table, its changelog and recovery, offset tracking and commits.
The handler acks the records (``Consumer.ack``) once their effects are durable; Faust commits
acked offsets only. Records are tracked (``track_message``) before the handler runs, so a
rebalance waits for an unfinished batch instead of handing its partitions away mid-batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer

from streams.fetch_wait import FetchWaitConsumerThread

__all__ = ["BatchConsumer", "BatchHandler", "StreamsApp", "events_lag"]

BatchHandler = Callable[[list[Any]], Awaitable[None]]


class BatchConsumer(AIOKafkaConsumer):
    """aiokafka consumer whose hot topics are drained a fetch at a time."""

    batch_topics: frozenset[str] = frozenset()
    batch_handler: BatchHandler | None = None
    #: The aiokafka consumer's fetch wait (None: Faust's 1500 ms); streams/fetch_wait.py.
    fetch_max_wait_ms: int | None = None

    def _new_consumer_thread(self) -> FetchWaitConsumerThread:
        # Faust's hook for the consumer thread; the thread reads fetch_max_wait_ms when it
        # creates the aiokafka consumer (at start), after _new_consumer set it.
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - the I/O loop
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        acks_enabled_for = self.app.topics.acks_enabled_for
        track = self.track_message
        hot = self.batch_topics
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                batch: list[Any] = []
                async for tp, message in getmany(timeout=1.0):
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is not None and offset < r_offset:
                        continue  # already delivered (seek after a rebalance)
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    set_read_offset(tp, offset)
                    if message.topic in hot:
                        track(message)
                        batch.append(message)
                    else:
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                self.diag.unset_flag(CONSUMER_FETCHING)
                if batch:
                    handler = self.batch_handler
                    assert handler is not None
                    await handler(batch)
                else:
                    await asyncio.sleep(0)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class StreamsApp(faust.App):
    """A Faust app whose consumer is a :class:`BatchConsumer`."""

    #: The worker's :class:`streams.app.Pipeline` (set by ``create_app``).
    pipeline: Any = None
    #: Topics drained a fetch at a time, and their handler (set before the worker starts).
    batch_topics: frozenset[str] = frozenset()
    batch_handler: BatchHandler | None = None
    #: The worker consumer's fetch wait (set by ``create_app``; None: Faust's 1500 ms).
    fetch_max_wait_ms: int | None = None

    def _new_consumer(self) -> BatchConsumer:
        consumer = BatchConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )
        consumer.batch_topics = self.batch_topics
        consumer.batch_handler = self.batch_handler
        consumer.fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


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
        read = consumer._read_offset.get(tp)
        done = read + 1 if read is not None else consumer._committed_offset.get(tp)
        if high is None or done is None:
            continue
        total += max(0, high - done)
    return total
