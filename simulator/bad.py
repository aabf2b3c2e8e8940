"""Malformed messages, one family per reject reason the collectors can see.

Each is built to break the contract in exactly one way, so ``schemas.decode`` (or, for
``unknown_device``, ``wrong_vendor`` and ``wrong_facility``, the registry look-up) rejects it with
the labelled reason and no other.
``rate_limited`` depends on the collectors' per-device limit at the moment, so none is made on
purpose. Templates are the contract's own canonical examples (``schemas.examples``) with a fresh
``ts`` and ``seq``; a bad message borrows the seq its device will send next without consuming it,
so the accepted stream stays gap-free and streams' gap counter measures only real loss.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas import (
    CHANNELS_BY_FACILITY,
    MAX_PAYLOAD_BYTES,
    MESSAGE_TYPES,
    Channel,
    Facility,
    RejectReason,
)
from schemas.encode import format_ts
from schemas.examples import EXAMPLES
from simulator.behaviours import BEHAVIOURS
from simulator.fleet import ASSET_VENDORS, VENDORS, Device
from simulator.nmea import TALKERS, Talker, encode_fix, sentence

__all__ = ["BAD_REASONS", "Bad", "make_bad", "needs_mobility"]

# Every reason a message can be built for; rate_limited is situational (see module docstring).
BAD_REASONS: tuple[RejectReason, ...] = tuple(
    r for r in RejectReason if r is not RejectReason.RATE_LIMITED
)
# Reasons that need a mobility device (NMEA lives on the position channel only).
needs_mobility = frozenset({RejectReason.BAD_NMEA})
# Far enough past MAX_PAST_AGE (7 days) or MAX_FUTURE_SKEW (5 min) that a slow run stays stale.
STALE_PAST_DAYS = (8.0, 60.0)
STALE_FUTURE_S = (15 * 60.0, 3 * 3600.0)
TOO_LARGE_EXTRA_BYTES = (1, 8192)
_VENDOR_SLUGS = frozenset(
    {v for vendors in VENDORS.values() for v in vendors}
    | {v for vendors in ASSET_VENDORS.values() for v in vendors}
)
STALE_NMEA_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class Bad:
    topic: str
    payload: bytes
    variant: str  # which way it is broken, for tests and logs


def _templates(facility: Facility) -> list[tuple[str, Channel]]:
    return [(mt.kind, mt.channel) for mt in MESSAGE_TYPES if facility in mt.facilities]


def _example(kind: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[kind])


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(slots=True)
class _Ctx:
    rng: random.Random
    device: Device
    seq: int
    now: datetime
    prefix: str
    serial: int

    def ts(self, when: datetime | None = None) -> str | int:
        when = self.now if when is None else when
        if self.device.ts_format == "epoch_ms":
            return int(when.timestamp() * 1000)
        return format_ts(when)

    def topic(
        self,
        channel: str,
        *,
        device_id: str | None = None,
        facility: str | None = None,
        vendor: str | None = None,
    ) -> str:
        d = self.device
        return "/".join(
            (
                self.prefix,
                facility or d.facility.value,
                d.vendor if vendor is None else vendor,
                device_id or d.device_id,
                channel,
            )
        )

    def message(self, *, status: bool = True) -> tuple[str, Channel, dict[str, Any]]:
        """A valid wire message of a random kind this device sends, with fresh ts and seq."""
        choices = [
            (k, c) for k, c in _templates(self.device.facility) if status or c is not Channel.STATUS
        ]
        kind, channel = self.rng.choice(choices)
        data = _example(kind)
        data["ts"], data["seq"] = self.ts(), self.seq
        if kind == "device_status":
            data["firmware"] = self.device.firmware
        return kind, channel, data


def _bad_topic(c: _Ctx) -> Bad:
    _, channel, data = c.message()
    d = c.device
    variants = {
        "too_few_levels": "/".join((c.prefix, d.facility.value, d.vendor, d.device_id)),
        "too_many_levels": c.topic(channel.value) + "/raw",
        "unknown_facility": c.topic(channel.value, facility="parking"),
        "vendor_case": c.topic(channel.value, vendor=d.vendor.upper()),
        "empty_vendor": c.topic(channel.value, vendor=""),
        "device_id_chars": c.topic(channel.value, device_id=d.device_id.replace("-", ":")),
        "device_id_length": c.topic(channel.value, device_id=d.device_id * 8),
    }
    variant = c.rng.choice(sorted(variants))
    return Bad(variants[variant], _dumps(data), variant)


def _too_large(c: _Ctx) -> Bad:
    _, channel, data = c.message()
    # A firmware bug dumping its whole log buffer into one message.
    size = MAX_PAYLOAD_BYTES + c.rng.randint(*TOO_LARGE_EXTRA_BYTES)
    data["log"] = ""
    pad = size - len(_dumps(data))
    data["log"] = "x" * max(pad, 1)
    return Bad(c.topic(channel.value), _dumps(data), "log_dump")


def _bad_encoding(c: _Ctx) -> Bad:
    data = {"ts": c.ts(), "seq": c.seq, "state": "offline", "reason": "断电重启"}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    variants = {
        # Vendors on Windows-era toolchains send GBK; UTF-16 arrives from .NET gateways.
        "gbk": text.encode("gbk"),
        "utf16": text.encode("utf-16"),
        "latin1": text.replace("断电重启", "temp 6°C").encode("latin-1"),
    }
    variant = c.rng.choice(sorted(variants))
    return Bad(c.topic(Channel.STATUS.value), variants[variant], variant)


def _bad_json(c: _Ctx) -> Bad:
    _, channel, data = c.message()
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    variants = {
        # Any proper prefix of a compact JSON object is invalid: the object never closes.
        "truncated": text[: c.rng.randint(1, len(text) - 1)],
        "trailing_comma": text[:-1] + ",}",
        "single_quotes": text.replace('"', "'"),
        "array": "[" + text + "]",
        "key_value_text": f"ts={data['ts']};seq={c.seq};ok=1",
        "deep_nesting": "[" * 40 + "]" * 40,
    }
    variant = c.rng.choice(sorted(variants))
    return Bad(c.topic(channel.value), variants[variant].encode(), variant)


# Out-of-range or ill-typed values per message kind (one per kind, each breaking one field): the
# status every facility sends, and each facility's own kinds from its behaviour.
_FIELD_BREAKERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "device_status": lambda d: d.update(state="sleeping"),
    **{kind: f for b in BEHAVIOURS.values() for kind, f in b.field_breakers.items()},
}


def _invalid_field(c: _Ctx) -> Bad:
    kind, channel, data = c.message()
    variants: dict[str, Callable[[dict[str, Any]], None]] = {
        "value": _FIELD_BREAKERS[kind],
        "negative_seq": lambda d: d.update(seq=-1),
        "seq_as_string": lambda d: d.update(seq=str(c.seq)),
        "missing_ts": lambda d: d.pop("ts"),
        "ts_text": lambda d: d.update(ts="yesterday"),
        "unknown_field": lambda d: d.update(debug=True),
        "future_version": lambda d: d.update(v=99),
    }
    variant = c.rng.choice(sorted(variants))
    variants[variant](data)
    return Bad(c.topic(channel.value), _dumps(data), variant)


def _stale_timestamp(c: _Ctx) -> Bad:
    if c.device.facility is Facility.MOBILITY and c.rng.random() < STALE_NMEA_SHARE:
        # A receiver replaying its buffer after a long outage: valid sentences, an old date.
        gga, rmc = _fix(c, c.now - timedelta(days=c.rng.uniform(*STALE_PAST_DAYS)), "GN")
        return Bad(c.topic(Channel.POSITION.value), f"{gga}\r\n{rmc}\r\n".encode(), "nmea_past")
    _, channel, data = c.message()
    # Status messages may be old (a last will keeps its connect time): only impossible times
    # and future ones are stale there.
    variants = ["epoch_seconds", "epoch_microseconds", "future"]
    if channel is not Channel.STATUS:
        variants.append("past")
    variant = c.rng.choice(variants)
    if variant == "epoch_seconds":
        data["ts"] = int(c.now.timestamp())
    elif variant == "epoch_microseconds":
        data["ts"] = int(c.now.timestamp() * 1_000_000)
    elif variant == "future":
        data["ts"] = c.ts(c.now + timedelta(seconds=c.rng.uniform(*STALE_FUTURE_S)))
    else:
        data["ts"] = c.ts(c.now - timedelta(days=c.rng.uniform(*STALE_PAST_DAYS)))
    return Bad(c.topic(channel.value), _dumps(data), variant)


def _unknown_channel(c: _Ctx) -> Bad:
    _, _, data = c.message()
    # Another facility's channel (the first, in the grammar's order), or no channel at all.
    allowed = CHANNELS_BY_FACILITY[c.device.facility]
    wrong = next(ch.value for ch in Channel if ch not in allowed)
    channel = c.rng.choice([wrong, "alarm", "heartbeat", "cmd"])
    return Bad(c.topic(channel), _dumps(data), channel)


def _fix(c: _Ctx, when: datetime, talker: Talker) -> tuple[str, str]:
    """A valid GGA and RMC (without CRLF) at the device's home point."""
    fix = encode_fix(
        ts=when,
        lat=c.device.lat,
        lon=c.device.lon,
        talker=talker,
        speed_kmh=12.0,
        heading_deg=90.0,
        altitude_m=8.0,
        satellites=18,
        hdop=0.9,
    )
    gga, rmc = fix.text.strip().split("\r\n")
    return gga, rmc


def _bad_nmea(c: _Ctx) -> Bad:
    talker = c.rng.choice(TALKERS)
    variant = c.rng.choice(
        ["checksum", "talker", "no_fix", "no_checksum", "short_gga", "mixed_epochs"]
    )
    gga, rmc = _fix(c, c.now, talker)
    if variant == "checksum":
        gga = gga[:-1] + ("0" if gga[-1] != "0" else "1")
    elif variant == "talker":  # GLONASS-only talker: not accepted for GGA/RMC
        gga, rmc = sentence("GL" + gga[3:-3]), sentence("GL" + rmc[3:-3])
    elif variant == "no_fix":
        fields = gga[1:-3].split(",")
        fields[6] = "0"
        gga = sentence(",".join(fields))
    elif variant == "no_checksum":
        gga = gga[:-3]
    elif variant == "short_gga":
        gga = sentence(",".join(gga[1:-3].split(",")[:6]))
    else:  # RMC of the next second beside this GGA: two fixes in one message
        rmc = _fix(c, c.now + timedelta(seconds=1), talker)[1]
    return Bad(c.topic(Channel.POSITION.value), f"{gga}\r\n{rmc}\r\n".encode(), variant)


def _unknown_device(c: _Ctx) -> Bad:
    _, channel, data = c.message()
    d = c.device
    # Fleet ids never end in -X<n>: an installed but not yet registered unit of the same vendor.
    device_id = f"{d.device_id}-X{c.serial:03d}"
    return Bad(c.topic(channel.value, device_id=device_id), _dumps(data), "unregistered")


def _wrong_vendor(c: _Ctx) -> Bad:
    _, channel, data = c.message()
    d = c.device
    # Another vendor's user writing into this device, or a vendor that mistyped its own slug.
    others = sorted(v for v in _VENDOR_SLUGS if v != d.vendor)
    return Bad(c.topic(channel.value, vendor=c.rng.choice(others)), _dumps(data), "other_vendor")


def _wrong_facility(c: _Ctx) -> Bad:
    d = c.device
    # A well-formed message of another facility's kind, sent under this device's id: a vendor
    # gateway that routes a unit to the wrong facility tree.
    facility = c.rng.choice(sorted((f for f in Facility if f is not d.facility), key=str))
    kind, channel = c.rng.choice(_templates(facility))
    data = _example(kind)
    data["ts"], data["seq"] = c.ts(), c.seq
    return Bad(c.topic(channel.value, facility=facility.value), _dumps(data), facility.value)


_MAKERS: dict[RejectReason, Callable[[_Ctx], Bad]] = {
    RejectReason.BAD_TOPIC: _bad_topic,
    RejectReason.TOO_LARGE: _too_large,
    RejectReason.BAD_ENCODING: _bad_encoding,
    RejectReason.BAD_JSON: _bad_json,
    RejectReason.INVALID_FIELD: _invalid_field,
    RejectReason.STALE_TIMESTAMP: _stale_timestamp,
    RejectReason.UNKNOWN_CHANNEL: _unknown_channel,
    RejectReason.BAD_NMEA: _bad_nmea,
    RejectReason.UNKNOWN_DEVICE: _unknown_device,
    RejectReason.WRONG_VENDOR: _wrong_vendor,
    RejectReason.WRONG_FACILITY: _wrong_facility,
}


def make_bad(
    reason: RejectReason,
    *,
    rng: random.Random,
    device: Device,
    seq: int,
    now: datetime,
    prefix: str = "city",
    serial: int = 0,
) -> Bad:
    """A message from ``device`` (or, for unknown_device, its unregistered twin) that the
    collectors reject with ``reason``.

    Args:
        seq: The seq the device sends next (borrowed, not consumed).
        now: Wall-clock time for ``ts``.
        serial: Distinguishes unregistered twins of one device.

    Raises:
        ValueError: ``bad_nmea`` for a device that is not a mobility one.
    """
    if reason in needs_mobility and device.facility is not Facility.MOBILITY:
        raise ValueError(f"{reason.value} needs a mobility device")
    return _MAKERS[reason](_Ctx(rng, device, seq, now, prefix, serial))
