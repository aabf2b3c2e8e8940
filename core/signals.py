"""Ctrl-C and ``kill``: SIGINT and SIGTERM set a stop event, and the program stops cleanly.

Every long-running command (servers, collector, simulator, notifier, ``cityiot up``) works the
same way: a signal only sets an event, and the loop that owns the work checks it between steps,
so records in hand are acked, offsets committed and children stopped before it returns. A second
signal sets the event again and does nothing more: a shutdown is never cut short halfway (SIGKILL
is the way to force one).

Two styles, one behaviour:

- threads: :func:`stop_on_signals` (a context manager giving a :class:`threading.Event`, the
  previous handlers back on exit) or :func:`install_stop_handlers` for a command whose handlers
  stay until the process exits;
- asyncio: :func:`async_stop_on_signals` (the loop's own signal handlers setting an
  :class:`asyncio.Event`, the previous handlers back on exit).

Handlers can only be set from the main thread (Python runs them there); elsewhere these raise
:class:`ValueError`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import FrameType

__all__ = [
    "STOP_SIGNALS",
    "async_stop_on_signals",
    "install_stop_handlers",
    "stop_on_signals",
]

# Ctrl-C in a terminal, and what `kill`, systemd, Docker and Kubernetes send to stop a process.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

OnSignal = Callable[[signal.Signals], None]


def install_stop_handlers(
    stop: threading.Event, *, on_signal: OnSignal | None = None
) -> Callable[[], None]:
    """Set ``stop`` on SIGINT or SIGTERM from now on; returns what puts the previous handlers back.

    ``on_signal`` (logging which signal came, say) runs in the main thread before ``stop`` is set.
    """

    def handler(signum: int, _frame: FrameType | None) -> None:
        if on_signal is not None:
            on_signal(signal.Signals(signum))
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}

    def restore() -> None:
        for sig, old in previous.items():
            # None: the handler was not set from Python, and cannot be restored: use the default.
            signal.signal(sig, signal.SIG_DFL if old is None else old)

    return restore


@contextmanager
def stop_on_signals(
    stop: threading.Event | None = None, *, on_signal: OnSignal | None = None
) -> Iterator[threading.Event]:
    """Within the block, SIGINT or SIGTERM set ``stop`` (a new event if None), which it yields."""
    event = stop if stop is not None else threading.Event()
    restore = install_stop_handlers(event, on_signal=on_signal)
    try:
        yield event
    finally:
        restore()


@asynccontextmanager
async def async_stop_on_signals(stop: asyncio.Event | None = None) -> AsyncIterator[asyncio.Event]:
    """Within the block, SIGINT or SIGTERM set ``stop`` (a new event if None), which it yields.

    The running loop's own handlers (``loop.add_signal_handler``) wake it, so a coroutine
    awaiting ``stop.wait()`` resumes at once; outside asyncio use :func:`stop_on_signals`.
    """
    event = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, event.set)
    try:
        yield event
    finally:
        for sig, old in previous.items():
            # remove_signal_handler leaves Python's default, not what was there before.
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL if old is None else old)
