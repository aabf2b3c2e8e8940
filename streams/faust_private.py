"""The fence around Faust's internals: every private Faust, mode and aiokafka name cityiot uses.

Nothing else in cityiot touches a private (``_``) attribute or an internal module of
faust-streaming, mode-streaming or aiokafka; code that needs one adds it here, to the list below
and to tests/unit/streams/test_faust_private.py, which fails naming the package, its version and
the name when an upgrade changes one. pyproject.toml pins faust-streaming and aiokafka to the
minor versions this is verified on: faust-streaming 0.15.3, aiokafka 0.14.0 (mode-streaming
0.7.1 under Faust).

Two things need the internals:

**Batches** (:class:`BatchConsumer`, :class:`StreamsApp`). Faust delivers each record through
``Consumer._drain_messages``, which awaits ``wait_first(callback(message), ...)`` per record: two
tasks and three event-loop turns per message, ~200 µs here, which caps a worker near 5,000
records/s before any work is done (streams/README.md, "Throughput"). :class:`BatchConsumer`
keeps Faust's loop for every other topic (table changelogs during recovery, standbys) and for
the ``batch_topics`` hands each fetch, as a list, to ``batch_handler``. Faust still owns
everything else: the consumer group and rebalances, the state table, its changelog and
recovery, offset tracking and commits. The handler acks the batch (:func:`ack_batch`) once
its effects are durable; Faust commits acked offsets only. The last record of each partition in
a fetch is tracked (``track_message``) before the handler runs, so a rebalance waits for an
unfinished batch instead of handing its partitions away mid-batch.

**Fetch limits** (:class:`FetchWaitConsumerThread`). A Kafka fetch returns when
``fetch.min.bytes`` are there or after ``fetch.max.wait.ms``. With Faust's values (1 byte,
1500 ms) Apache Kafka answers as soon as one record arrives: at 1,000 msg/s the worker ran
thousands of batches of a few events each, and the fixed cost of a batch (an InfluxDB write, a
changelog flush) dominated; Tansu holds every fetch for the full wait instead, so with 1500 ms
end-to-end p99 could not get under 2 s (streams/README.md, "Fetch limits"). A fetch that waits
for ``fetch_min_bytes`` or ``fetch_max_wait_ms``, whichever comes first, batches by size and
time the way Kafka's producers do: few batches when quiet, full ones when busy. Faust has no
setting for either: its ``AIOKafkaConsumerThread._create_worker_consumer`` passes
``fetch_max_wait_ms=1500`` to ``aiokafka.AIOKafkaConsumer`` and leaves ``fetch_min_bytes`` at 1.
The thread below lets Faust build that consumer as usual, then replaces the two values before
``start()`` hands them to aiokafka's ``Fetcher``.

Private names used, and why:

- ``faust.App._new_consumer()``, overridden: the app's consumer is a :class:`BatchConsumer`.
  A copy of Faust's body (which calls ``transport.create_consumer``), with the class swapped.
- ``faust.App._on_partitions_revoked``, ``faust.App._on_partitions_assigned``: the rebalance
  callbacks that Faust's ``_new_consumer`` hands its consumer; ours hands the same ones.
- ``Consumer._drain_messages(fetcher)``, overridden: the per-record loop above. A copy of
  Faust's, changed for the batch topics; keep it in step with Faust's when upgrading.
- ``Consumer._new_consumer_thread()``, overridden: Faust's hook for the consumer thread, which
  returns a :class:`FetchWaitConsumerThread`.
- ``Consumer._add_gap(tp, offset_from, offset_to)``: records skipped offsets (compaction,
  transactions) so acks of later offsets still commit, as Faust's own loop does.
- ``Consumer._read_offset``, ``Consumer._committed_offset`` (TP → offset or None): the last
  offset handed on, and the last committed one; the drain loop's dedup after a seek, and
  :func:`processed_offset` for the lag.
- ``Service._stopped`` (mode, an ``asyncio.Event``): the consumer's and the fetcher's stop flags,
  polled by the drain loop as Faust's own loop does.
- ``AIOKafkaConsumerThread._create_worker_consumer(transport)``, overridden: builds the aiokafka
  consumer; ours sets its fetch limits.
- ``AIOKafkaConsumer._fetch_max_wait_ms``, ``AIOKafkaConsumer._fetch_min_bytes`` (aiokafka, int):
  where ``__init__`` keeps the fetch limits until ``start()`` passes them to the ``Fetcher``;
  ``AIOKafkaConsumer._fetcher`` (None until ``start()``): to refuse a change once started.

- ``Worker._on_sigterm()``, ``Worker._on_sigint()`` (mode): the handlers Faust's worker
  installs; :class:`DeadlineWorker` installs them again behind a stop deadline (a worker whose
  Kafka is gone would otherwise wait for it after SIGTERM, for minutes).

Internal modules imported: ``faust.transport.consumer`` (``CONSUMER_FETCHING``, the diagnostic
flag Faust's loop sets) and ``faust.transport.drivers.aiokafka`` (``Consumer``,
``AIOKafkaConsumerThread``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import faust
import faust.worker
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer

if TYPE_CHECKING:
    import aiokafka  # type: ignore[import-untyped]
    from faust.transport.drivers.aiokafka import Transport

__all__ = [
    "FAUST_FETCH_MAX_WAIT_MS",
    "BatchConsumer",
    "BatchHandler",
    "DeadlineWorker",
    "FetchWaitConsumerThread",
    "StreamsApp",
    "ack_batch",
    "processed_offset",
    "set_fetch_limits",
]

BatchHandler = Callable[[list[Any]], Awaitable[None]]

#: What Faust 0.15.3 passes (tests check it still does, so a change there is noticed).
FAUST_FETCH_MAX_WAIT_MS = 1500
# aiokafka.AIOKafkaConsumer.__init__ stores the fetch limits here; start() passes them to Fetcher.
_FETCH_WAIT_ATTR = "_fetch_max_wait_ms"
_FETCH_MIN_ATTR = "_fetch_min_bytes"


# -- fetch wait ------------------------------------------------------------------------------
def set_fetch_limits(
    consumer: aiokafka.AIOKafkaConsumer, *, max_wait_ms: int, min_bytes: int | None = None
) -> None:
    """Set a not yet started aiokafka consumer's fetch limits; fail loudly if aiokafka changed."""
    if getattr(consumer, "_fetcher", None) is not None:
        raise RuntimeError("fetch limits set after the aiokafka consumer started")
    for attr in (_FETCH_WAIT_ATTR, _FETCH_MIN_ATTR):
        if not isinstance(getattr(consumer, attr, None), int):
            raise RuntimeError(
                f"aiokafka.AIOKafkaConsumer has no int {attr}: its internals changed, "
                "see streams/faust_private.py"
            )
    setattr(consumer, _FETCH_WAIT_ATTR, max_wait_ms)
    if min_bytes is not None:
        setattr(consumer, _FETCH_MIN_ATTR, min_bytes)


class FetchWaitConsumerThread(AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with the worker consumer's fetch limits from
    ``consumer.fetch_max_wait_ms`` and ``consumer.fetch_min_bytes`` (None: Faust's own)."""

    def _create_worker_consumer(self, transport: Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        ms: Any = getattr(self.consumer, "fetch_max_wait_ms", None)
        min_bytes: Any = getattr(self.consumer, "fetch_min_bytes", None)
        if ms is not None or min_bytes is not None:
            set_fetch_limits(
                consumer,
                max_wait_ms=int(ms) if ms is not None else FAUST_FETCH_MAX_WAIT_MS,
                min_bytes=int(min_bytes) if min_bytes is not None else None,
            )
        return consumer


class BatchConsumer(AIOKafkaConsumer):
    """aiokafka consumer whose hot topics are drained a fetch at a time."""

    batch_topics: frozenset[str] = frozenset()
    batch_handler: BatchHandler | None = None
    #: The aiokafka consumer's fetch wait (None: Faust's 1500 ms).
    fetch_max_wait_ms: int | None = None
    #: The aiokafka consumer's fetch.min.bytes (None: aiokafka's 1).
    fetch_min_bytes: int | None = None

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
                last: dict[Any, Any] = {}
                async for tp, message in getmany(timeout=1.0):
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is not None and offset < r_offset:
                        continue  # already delivered (seek after a rebalance)
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    set_read_offset(tp, offset)
                    if message.topic in hot:
                        batch.append(message)
                        last[tp] = message
                    else:
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                self.diag.unset_flag(CONSUMER_FETCHING)
                # One tracked record per partition, the batch's last: a rebalance waits for it,
                # and it is acked only with the whole batch (ack_batch).
                for message in last.values():
                    track(message)
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
    #: The worker consumer's fetch limits (set by ``create_app``; None: Faust's).
    fetch_max_wait_ms: int | None = None
    fetch_min_bytes: int | None = None

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
        consumer.fetch_min_bytes = self.fetch_min_bytes
        return consumer


# -- offsets ---------------------------------------------------------------------------------
async def ack_batch(consumer: Any, messages: list[Any]) -> None:
    """Ack a handled batch: per partition, its last record, the ones before it as a gap.

    Faust's per-record ``ack`` (a lock, index and list updates, a notification) and
    ``track_message`` (sensors) cost several µs a record; a batch is durable as a whole, so it is
    acked as a whole. Faust commits up to an acked offset once everything below it is acked or
    a gap (``_add_gap``, what it uses for offsets compaction or transactions skipped).
    """
    first: dict[Any, int] = {}
    last: dict[Any, Any] = {}
    for message in messages:
        tp = message.tp
        if tp not in first:
            first[tp] = message.offset
        last[tp] = message
    for tp, message in last.items():
        if message.offset > first[tp]:
            await consumer._add_gap(tp, first[tp], message.offset - 1)
        consumer.ack(message)


def processed_offset(consumer: Any, tp: Any) -> int | None:
    """The next offset of ``tp`` this worker will process: the last one read + 1, else the
    committed one; None when neither is known yet."""
    read: int | None = consumer._read_offset.get(tp)
    if read is not None:
        return read + 1
    committed: int | None = consumer._committed_offset.get(tp)
    return committed


# -- stopping --------------------------------------------------------------------------------
class DeadlineWorker(faust.worker.Worker):
    """Faust's worker, which exits at most ``stop_deadline_s`` after SIGTERM or SIGINT.

    Faust stops by committing offsets and flushing its producer; with Kafka gone it waits for
    Kafka. Exiting without that loses nothing: offsets are committed only after a batch's effects
    are durable, so what was not committed is replayed on the next start and lands on the same
    points (streams/app.py, "Exactness").
    """

    stop_deadline_s: float = 8.0

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """No terminal spinner: Faust's spinner handler sets the root logger to DEBUG, so every
        debug line of aiokafka and Faust (several per record sent) was built and then dropped:
        ~13 % of a worker's CPU at city scale (bench/streams.py --profile)."""
        self.spinner = None
        super().on_setup_root_logger(logger, level)

    def install_signal_handlers(self) -> None:
        super().install_signal_handlers()
        handlers = ((signal.SIGTERM, self._on_sigterm), (signal.SIGINT, self._on_sigint))
        for sig, handler in handlers:
            self.loop.add_signal_handler(sig, self._stop_within_deadline, handler)

    def _stop_within_deadline(self, handler: Callable[[], None]) -> None:
        if not getattr(self, "_deadline_armed", False):
            self._deadline_armed = True
            timer = threading.Timer(self.stop_deadline_s, _exit_after_deadline, (self,))
            timer.daemon = True
            timer.start()
        handler()


def _exit_after_deadline(worker: DeadlineWorker) -> None:
    logging.getLogger("streams.worker").warning(
        "stop took longer than %.0f s (is Kafka or InfluxDB gone?): exiting now; what was not "
        "committed is replayed on the next start",
        worker.stop_deadline_s,
    )
    logging.shutdown()
    os._exit(0)
