"""The shared ``eventually``: what passes, what it returns, and how it fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from tests_support import async_eventually, eventually

# Short: these checks either pass on a later try or never do; nothing here waits on a server.
SHORT_S = 0.2


def _after(tries: int, value: object) -> Callable[[], object]:
    """A check that is falsy for its first ``tries - 1`` calls, then returns ``value``."""
    calls = [0]

    def check() -> object:
        calls[0] += 1
        return value if calls[0] >= tries else []

    return check


def _asserting_after(tries: int) -> Callable[[], None]:
    calls = [0]

    def check() -> None:
        calls[0] += 1
        assert calls[0] >= tries, f"try {calls[0]}"

    return check


def test_eventually_returns_checked_value() -> None:
    """A value check is retried while falsy, and its first truthy result is returned."""
    assert eventually(_after(3, ["row"]), what="rows", timeout=60) == ["row"]


def test_eventually_asserting_check_passes_once_asserts_hold() -> None:
    """A function of asserts passes (returning None) on the first try that raises nothing."""
    assert eventually(_asserting_after(3), what="asserts", timeout=60) is None


def test_eventually_failure_names_what_and_last_reason() -> None:
    """At the deadline the error names ``what`` and the last assertion message."""
    with pytest.raises(AssertionError, match=r"the fridge cools: try \d+"):
        eventually(_asserting_after(10**9), what="the fridge cools", timeout=SHORT_S)


def test_eventually_failure_shows_last_falsy_result() -> None:
    """A predicate that stays false fails with its last result."""
    with pytest.raises(AssertionError, match=r"s: nothing: last result False"):
        eventually(lambda: False, what="nothing", timeout=SHORT_S)


def test_eventually_other_errors_propagate_at_once() -> None:
    """Only AssertionError means "not yet": a crash is raised on the first try."""
    calls: list[int] = []

    def crash() -> bool:
        calls.append(1)
        raise RuntimeError("worker exited")

    with pytest.raises(RuntimeError, match="worker exited"):
        eventually(crash, what="crash", timeout=60)
    assert calls == [1]


def test_async_eventually_returns_checked_value() -> None:
    """The asyncio variant lets the loop run between tries (a task sets the value)."""
    got: list[str] = []

    async def main() -> list[str]:
        async def later() -> None:
            await asyncio.sleep(0)
            got.append("request")

        task = asyncio.create_task(later())
        found = await async_eventually(lambda: got, what="the request", timeout=60)
        await task
        return found

    assert asyncio.run(main()) == ["request"]


def test_async_eventually_failure_names_what() -> None:
    """The asyncio variant fails like the plain one."""
    with pytest.raises(AssertionError, match="no request"):
        asyncio.run(async_eventually(lambda: 0, what="no request", timeout=SHORT_S))
