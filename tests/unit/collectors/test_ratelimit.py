"""Per-device token buckets."""

from __future__ import annotations

from collectors.ratelimit import TokenBuckets, VendorQuota


def test_token_buckets_burst_then_refill() -> None:
    """A device gets its burst at once, then one message per 1/rate seconds."""
    buckets = TokenBuckets(rate=2.0, burst=3)
    assert [buckets.allow("d", 0.0) for _ in range(4)] == [True, True, True, False]
    assert buckets.allow("d", 0.5)
    assert not buckets.allow("d", 0.5)


def test_token_buckets_keys_are_independent() -> None:
    """One device's empty bucket does not affect another's."""
    buckets = TokenBuckets(rate=1.0, burst=1)
    assert buckets.allow("a", 0.0)
    assert not buckets.allow("a", 0.0)
    assert buckets.allow("b", 0.0)


def test_token_buckets_clock_step_back_does_not_drain() -> None:
    """A monotonic clock never goes back, but if time does, no tokens are taken away."""
    buckets = TokenBuckets(rate=1.0, burst=2)
    assert buckets.allow("d", 10.0)
    assert buckets.allow("d", 5.0)
    assert not buckets.allow("d", 5.0)


def test_token_buckets_rate_zero_disables() -> None:
    """rate=0 lets everything through and keeps no state."""
    buckets = TokenBuckets(rate=0.0, burst=1)
    assert all(buckets.allow("d", 0.0) for _ in range(100))
    assert len(buckets) == 0


def test_token_buckets_memory_is_bounded() -> None:
    """A flood of distinct keys never keeps more than max_buckets buckets."""
    buckets = TokenBuckets(rate=1.0, burst=5, max_buckets=100)
    for i in range(1000):
        buckets.allow(f"k{i}", float(i) / 1000)
    assert len(buckets) <= 100


def test_vendor_quota_overrides_rate_and_scale_burst() -> None:
    """A vendor with its own rate gets a burst of the same seconds of traffic; 0 is unlimited."""
    quota = VendorQuota(rate=2.0, burst=4, overrides={"big": 10.0, "free": 0.0})
    assert quota.limits("small") == (2.0, 4.0)
    assert quota.limits("big") == (10.0, 20.0)
    assert sum(quota.allow("small", 0.0) for _ in range(10)) == 4
    assert sum(quota.allow("big", 0.0) for _ in range(30)) == 20
    assert all(quota.allow("free", 0.0) for _ in range(1000))
    assert quota.allow("small", 0.5)  # one token back after half a second at 2/s


def test_vendor_quota_off_by_default_rate_zero() -> None:
    """A default rate of 0 lets every vendor through, while an override still limits its own."""
    quota = VendorQuota(rate=0.0, burst=1, overrides={"noisy": 1.0})
    assert all(quota.allow("any", 0.0) for _ in range(100))
    assert [quota.allow("noisy", 0.0) for _ in range(3)] == [True, False, False]
