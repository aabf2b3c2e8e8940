"""The worker consumer's fetch wait (``fetch_max_wait_ms``), which Faust hard-codes to 1500 ms.

A Kafka fetch returns when ``fetch.min.bytes`` (1) is there or after ``fetch.max.wait.ms``.
Apache Kafka answers as soon as data arrives; the local broker (Tansu) holds the fetch for the
full wait, so with Faust's 1500 ms the worker saw a batch only every ~1.5 s and end-to-end p99
could not get under 2 s (streams/README.md, "Fetch wait"). A shorter wait: lower latency, more
fetch requests while idle.

Faust 0.15.3 has no setting for it: ``AIOKafkaConsumerThread._create_worker_consumer`` passes
``fetch_max_wait_ms=1500`` to ``aiokafka.AIOKafkaConsumer``. Faust's extension point for the
consumer thread is ``Consumer._new_consumer_thread`` (:class:`streams.consumer.BatchConsumer`
returns a :class:`FetchWaitConsumerThread`); this class lets Faust build its consumer as usual and
then replaces the one value, before ``start()``. That needs aiokafka's private attribute
``AIOKafkaConsumer._fetch_max_wait_ms``, which its ``start()`` hands to the ``Fetcher`` (aiokafka
0.14). This module is the only place touching it; tests/unit/streams/test_fetch_wait.py fails
if Faust or aiokafka change the internals it relies on, and the integration test checks the
started consumer's fetcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

if TYPE_CHECKING:
    import aiokafka  # type: ignore[import-untyped]
    from faust.transport.drivers.aiokafka import Transport

__all__ = ["FAUST_FETCH_MAX_WAIT_MS", "FetchWaitConsumerThread", "set_fetch_max_wait"]

#: What Faust 0.15.3 passes (tests check it still does, so a change there is noticed).
FAUST_FETCH_MAX_WAIT_MS = 1500
# aiokafka.AIOKafkaConsumer.__init__ stores fetch_max_wait_ms here; start() passes it to Fetcher.
_ATTR = "_fetch_max_wait_ms"


def set_fetch_max_wait(consumer: aiokafka.AIOKafkaConsumer, ms: int) -> None:
    """Set a not yet started aiokafka consumer's fetch wait; fail loudly if aiokafka changed."""
    if getattr(consumer, "_fetcher", None) is not None:
        raise RuntimeError("fetch wait set after the aiokafka consumer started")
    if not isinstance(getattr(consumer, _ATTR, None), int):
        raise RuntimeError(
            f"aiokafka.AIOKafkaConsumer has no int {_ATTR}: its internals changed, "
            "see streams/fetch_wait.py"
        )
    setattr(consumer, _ATTR, ms)


class FetchWaitConsumerThread(AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, with the worker consumer's fetch wait from
    ``consumer.fetch_max_wait_ms`` (None: Faust's own 1500 ms)."""

    def _create_worker_consumer(self, transport: Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        ms: Any = getattr(self.consumer, "fetch_max_wait_ms", None)
        if ms is not None:
            set_fetch_max_wait(consumer, int(ms))
        return consumer
