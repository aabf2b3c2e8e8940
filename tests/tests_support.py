"""Helpers every test folder shares: wait for a condition with a deadline, not a fixed sleep.

Importable by name from any test (``from tests_support import eventually``): ``tests/`` holds
the root conftest.py, so pytest puts it on ``sys.path`` (rootdir-relative, no packages).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DEADLINE_S", "async_eventually", "eventually"]

T = TypeVar("T")

# Generous: the servers run on 2 cores shared with other test runs, and a streams worker's
# first batch waits for its group join; a condition that never holds still fails in minutes.
DEADLINE_S = 120.0
# The first retries come quickly (most conditions hold within milliseconds); later ones slow
# down to this, so a long wait on InfluxDB or Kafka queries does not load the servers it waits on.
FIRST_POLL_S = 0.01
MAX_POLL_S = 0.5
# An asyncio test's checks read what its own loop fills in (a receiver's requests): free to
# poll, and a fast poll keeps what the test does next close to the moment the condition held.
ASYNC_POLL_S = 0.01


class _NotYet:
    """Why the last try did not pass: an AssertionError's message, or the falsy value returned."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def failure(self, what: str, timeout: float) -> AssertionError:
        return AssertionError(f"not within {timeout:g} s: {what}: {self.reason}")


def _attempt(check: Callable[[], T]) -> T | _NotYet:
    try:
        value = check()
    except AssertionError as exc:
        return _NotYet(str(exc) or "assertion failed")
    # None is what an asserting check returns once its asserts pass; other falsy values
    # (False, 0, an empty list) mean "nothing yet".
    if value is not None and not value:
        return _NotYet(f"last result {value!r}")
    return value


def eventually(check: Callable[[], T], *, what: str, timeout: float = DEADLINE_S) -> T:
    """Call ``check`` until it passes and return its result; fail naming ``what`` after ``timeout``.

    ``check`` passes when it raises no AssertionError and returns None (a function of asserts)
    or a truthy value (a predicate, or the rows waited for, which are returned). Any other
    exception propagates at once: a crashed process is not something to wait out. Tries are
    ``FIRST_POLL_S`` apart at first, twice as far each time up to ``MAX_POLL_S``.
    """
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    delay = FIRST_POLL_S
    while True:
        result = _attempt(check)
        if not isinstance(result, _NotYet):
            return result
        if time.monotonic() >= deadline:
            raise result.failure(what, timeout)
        time.sleep(delay)
        delay = min(delay * 2, MAX_POLL_S)


async def async_eventually(check: Callable[[], T], *, what: str, timeout: float = DEADLINE_S) -> T:
    """:func:`eventually` for a test's own event loop: waits with ``asyncio.sleep``.

    The servers under test (an aiohttp receiver, say) run on the same loop, so blocking it with
    ``time.sleep`` would stop the very thing being waited for. Polls every ``ASYNC_POLL_S``.
    """
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while True:
        result = _attempt(check)
        if not isinstance(result, _NotYet):
            return result
        if time.monotonic() >= deadline:
            raise result.failure(what, timeout)
        await asyncio.sleep(ASYNC_POLL_S)
