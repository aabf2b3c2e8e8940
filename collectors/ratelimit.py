"""Per-device token buckets: a flooding device is cut off without slowing the others.

Pure: the caller passes the time (``time.monotonic()`` in the service, plain numbers in tests).
"""

from __future__ import annotations

__all__ = ["TokenBuckets"]

# One bucket per device; a flood of distinct device ids (spoofed topics) must not grow memory
# without bound. Past this many, full buckets (idle devices) are dropped: a dropped bucket comes
# back full, which is exactly the state it was dropped in.
MAX_BUCKETS = 200_000


class TokenBuckets:
    """A token bucket per key: ``rate`` tokens per second, at most ``burst`` saved up.

    ``rate == 0`` disables limiting (every ``allow`` is True).
    """

    __slots__ = ("_buckets", "burst", "max_buckets", "rate")

    def __init__(self, *, rate: float, burst: int, max_buckets: int = MAX_BUCKETS) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.max_buckets = max_buckets
        # key -> (tokens, time of last update)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float) -> bool:
        """Take one token from ``key``'s bucket at time ``now`` (seconds); False when empty."""
        if self.rate == 0:
            return True
        state = self._buckets.get(key)
        if state is None:
            if len(self._buckets) >= self.max_buckets:
                self._evict_full(now)
            self._buckets[key] = (self.burst - 1.0, now)
            return True
        tokens, last = state
        # max(): a clock that steps back must not drain the bucket.
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def _evict_full(self, now: float) -> None:
        full = [
            key
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_buckets:
            # Every bucket is busy: forget the oldest half rather than grow (those devices get
            # a full bucket again, i.e. at worst one extra burst each).
            for key in list(self._buckets)[: self.max_buckets // 2]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
