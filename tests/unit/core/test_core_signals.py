"""core.signals with real signals sent to this test process (``os.kill(os.getpid(), ...)``).

``os.kill`` to the own process runs the Python handler before it returns, so the checks need no
waiting; the asyncio variant wakes its loop through the loop's own wakeup pipe.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from core.signals import (
    STOP_SIGNALS,
    async_stop_on_signals,
    install_stop_handlers,
    stop_on_signals,
)

# Generous for a loaded 2-core machine; the event is set within milliseconds when it works.
WAKE_TIMEOUT_S = 10.0


class Recorder:
    """A plain handler standing for whatever the program had before; records what reached it."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)


@pytest.fixture
def before() -> Iterator[Recorder]:
    """A recorder on SIGINT and SIGTERM for the test (a stray SIGTERM must not end pytest).

    pytest's own handlers come back afterwards, whatever the test did.
    """
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    recorder = Recorder()
    for sig in STOP_SIGNALS:
        signal.signal(sig, recorder)
    yield recorder
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def kill(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=["sigint", "sigterm"])
def test_stop_on_signals_signal_sets_event(before: Recorder, sig: signal.Signals) -> None:
    """SIGINT or SIGTERM set the event and reach neither the previous handler nor pytest."""
    with stop_on_signals() as stop:
        assert not stop.is_set()
        kill(sig)
        assert stop.is_set()
    assert before.received == []


def test_stop_on_signals_restores_previous_handlers(before: Recorder) -> None:
    """On exit the previous handlers are back, and a later signal goes to them, not the event."""
    with stop_on_signals() as stop:
        assert signal.getsignal(signal.SIGTERM) is not before
    assert all(signal.getsignal(sig) is before for sig in STOP_SIGNALS)
    kill(signal.SIGTERM)
    assert before.received == [signal.SIGTERM]
    assert not stop.is_set()


def test_stop_on_signals_restores_after_error(before: Recorder) -> None:
    """An exception leaving the block still puts the previous handlers back."""
    with pytest.raises(RuntimeError, match="boom"), stop_on_signals():
        raise RuntimeError("boom")
    assert all(signal.getsignal(sig) is before for sig in STOP_SIGNALS)


def test_stop_on_signals_second_signal_only_sets_again(before: Recorder) -> None:
    """A second signal during shutdown neither raises nor interrupts: the event just stays set."""
    seen: list[signal.Signals] = []
    given = threading.Event()
    with stop_on_signals(given, on_signal=seen.append) as stop:
        kill(signal.SIGTERM)
        kill(signal.SIGINT)
    assert stop is given
    assert given.is_set()
    assert seen == [signal.SIGTERM, signal.SIGINT]
    assert before.received == []


def test_install_stop_handlers_until_restore(before: Recorder) -> None:
    """The handlers stay installed until the returned function is called."""
    stop = threading.Event()
    restore = install_stop_handlers(stop)
    kill(signal.SIGINT)
    assert stop.is_set()
    restore()
    assert all(signal.getsignal(sig) is before for sig in STOP_SIGNALS)


def test_stop_on_signals_outside_main_thread_refused(before: Recorder) -> None:
    """Python runs handlers in the main thread only; another thread gets ValueError, not silence."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            with stop_on_signals():
                pass
        except ValueError as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(WAKE_TIMEOUT_S)
    assert len(errors) == 1
    assert all(signal.getsignal(sig) is before for sig in STOP_SIGNALS)


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=["sigint", "sigterm"])
def test_async_stop_on_signals_signal_sets_event(before: Recorder, sig: signal.Signals) -> None:
    """In a running loop the signal sets the asyncio.Event and wakes a coroutine waiting on it."""

    async def main() -> bool:
        async with async_stop_on_signals() as stop:
            kill(sig)
            await asyncio.wait_for(stop.wait(), WAKE_TIMEOUT_S)
            kill(sig)  # a second one: nothing more happens
            return stop.is_set()

    assert asyncio.run(main())
    assert before.received == []


def test_async_stop_on_signals_restores_previous_handlers(before: Recorder) -> None:
    """On exit the handlers from before the block are back (not just Python's defaults)."""
    given = asyncio.Event()

    async def main() -> asyncio.Event:
        async with async_stop_on_signals(given) as stop:
            assert signal.getsignal(signal.SIGTERM) is not before
        assert all(signal.getsignal(sig) is before for sig in STOP_SIGNALS)
        return stop

    assert asyncio.run(main()) is given
    kill(signal.SIGTERM)
    assert before.received == [signal.SIGTERM]
    assert not given.is_set()
