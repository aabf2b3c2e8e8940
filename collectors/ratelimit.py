"""Token buckets: a flooding device, or a flooding vendor, is cut off without slowing the others.

Pure: the caller passes the time (``time.monotonic()`` in the service, plain numbers in tests).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["TokenBuckets", "VendorQuota"]

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


class VendorQuota:
    """One token bucket per vendor: the same ``rate``/``burst`` for all, unless ``overrides``
    gives a vendor its own (a bike operator with 30,000 units needs more than a vending one).

    A rate of 0 (default or override) lets that vendor through unlimited.
    """

    __slots__ = ("_buckets", "_default", "_overrides")

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        overrides: Mapping[str, float] | None = None,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self._default = TokenBuckets(rate=rate, burst=burst)
        self._overrides = dict(overrides or {})
        # A vendor with its own rate gets a burst of the same number of seconds of traffic.
        seconds = burst / rate if rate > 0 else 1.0
        self._buckets = {
            vendor: TokenBuckets(rate=r, burst=max(1, round(r * seconds)))
            for vendor, r in self._overrides.items()
        }

    def allow(self, vendor: str, now: float) -> bool:
        """Take one token from ``vendor``'s bucket at ``now`` (seconds); False when empty."""
        return self._buckets.get(vendor, self._default).allow(vendor, now)

    def limits(self, vendor: str) -> tuple[float, float]:
        """``vendor``'s (rate per second, burst)."""
        bucket = self._buckets.get(vendor, self._default)
        return bucket.rate, bucket.burst
