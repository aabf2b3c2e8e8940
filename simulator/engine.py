"""The generator: a discrete-event simulation of the fleet, yielding labelled MQTT messages.

Pure apart from the injected clock: no sockets, no files. Each device's behaviour runs on
simulated seconds (its daily peaks, trips and faults); the engine fires timers in simulated-time
order, numbers each device's valid JSON messages 0, 1, 2... without gaps (from 0 again after a
reboot), stamps them with the wall clock (``ts`` must be "now" for the collectors), and mixes in
NMEA fixes and malformed messages at the requested ratios. How fast simulated time passes is
whatever the publishing rate makes it; the truth file records how much of it a run covered.

Determinism: the same fleet, seed and options give the same messages in the same order; only the
wall-clock times differ (``ts``, and the NMEA fix time with its checksum). With a fixed ``clock``
the bytes are identical.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas import Channel, DeviceStatus, Facility, MobilityPosition, decode
from schemas.common import SCHEMA_VERSION, Body
from schemas.encode import format_ts
from simulator.bad import BAD_REASONS, make_bad, needs_mobility
from simulator.behaviours import BEHAVIOURS, Behaviour, Emission
from simulator.behaviours.base import LandGrid
from simulator.faults import REBOOT_SHARE, Faults, plan_faults
from simulator.fleet import Device, Fleet, Locator
from simulator.message import SimMessage
from simulator.nmea import TALKERS, Talker, encode_fix

__all__ = ["Clock", "Simulation", "encode_wire", "generate", "last_will_pair", "wall_clock"]

Clock = Callable[[], datetime]
# Devices boot within the first seconds of simulated time, in random order.
BOOT_WITHIN_S = 10.0
# A reboot planned inside an outage happens this long after the device is back online.
REBOOT_AFTER_OUTAGE_S = 1.0
# Messages a device captured offline (Emission.hold) go out at the latest this long (wall clock)
# after the oldest was captured: well inside streams' allowed lateness (10 min), so they still
# reach their 1-minute roll-up and the truth's totals stay exact.
HOLD_MAX_WALL_S = 120.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_CS = timedelta(milliseconds=10)


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Run:
    device: Device
    behaviour: Behaviour
    faults: Faults
    talker: Talker
    next_seq: int = 0
    last_nmea_cs: int = 0
    offline: bool = False
    unregistered: int = field(default=0)
    #: Reboots so far in this run (0: the first start).
    boot: int = 0
    #: After a reboot, the earliest ``ts`` of the new boot (see :meth:`Simulation._reboot`).
    not_before: datetime | None = None
    #: Messages captured offline, with the time each was captured (its ``ts``).
    held: list[tuple[Emission, datetime]] = field(default_factory=list)


class Simulation:
    """The fleet in motion. Iterate :meth:`messages`; ``sim_time`` is where it has got to."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        seed: int,
        locator: Locator,
        bad_ratio: float = 0.0,
        nmea_ratio: float = 0.0,
        clock: Clock = wall_clock,
        prefix: str = "city",
        reboot_share: float = REBOOT_SHARE,
    ) -> None:
        if not fleet.devices:
            raise ValueError("the fleet has no devices to simulate")
        ratios = (("bad_ratio", bad_ratio), ("nmea_ratio", nmea_ratio))
        for name, ratio in (*ratios, ("reboot_share", reboot_share)):
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {ratio}")
        self.fleet = fleet
        self.locator = locator
        self.bad_ratio = bad_ratio
        self.nmea_ratio = nmea_ratio
        self.clock = clock
        self.prefix = prefix
        self.sim_time = 0.0
        self._rng = random.Random(f"{seed}:engine")
        self._runs: list[_Run] = []
        self._heap: list[tuple[float, int, int, str]] = []
        self._order = itertools.count()
        land = LandGrid(locator)
        by_facility: dict[Facility, list[Behaviour]] = {}
        for i, device in enumerate(fleet.devices):
            faults = plan_faults(
                device,
                random.Random(f"{seed}:faults:{device.device_id}"),
                reboot_share=reboot_share,
            )
            behaviour = BEHAVIOURS[device.facility](
                device, random.Random(f"{seed}:{device.device_id}"), land, faults
            )
            behaviour.wake = functools.partial(self._wake, i)
            self._runs.append(_Run(device, behaviour, faults, self._rng.choice(TALKERS)))
            self._push(self._rng.uniform(0.0, BOOT_WITHIN_S), i, "boot")
            by_facility.setdefault(device.facility, []).append(behaviour)
        for facility, behaviours in by_facility.items():
            BEHAVIOURS[facility].connect(behaviours)
        self._mobile = [
            i for i, r in enumerate(self._runs) if r.device.facility is Facility.MOBILITY
        ]

    def _wake(self, index: int, t: float, timer: str) -> None:
        """Another device's behaviour makes this one fire ``timer`` at ``t``: not before now, nor
        before every device has booted (its boot status is its first message)."""
        self._push(max(t, self.sim_time, BOOT_WITHIN_S), index, timer)

    def _push(self, t: float, index: int, timer: str) -> None:
        if t != float("inf"):
            heapq.heappush(self._heap, (t, next(self._order), index, timer))

    def messages(self) -> Iterator[SimMessage]:
        """Messages without end, in publishing order."""
        while True:
            if self.bad_ratio and self._rng.random() < self.bad_ratio:
                yield self._bad()
                continue
            t, _, index, timer = heapq.heappop(self._heap)
            self.sim_time = t
            yield from self._fire(self._runs[index], index, timer, t)

    def _fire(self, run: _Run, index: int, timer: str, t: float) -> list[SimMessage]:
        if timer == "boot":
            for first, name in run.behaviour.timers(t):
                self._push(first, index, name)
            outage = run.faults.outage
            if outage is not None:
                self._push(max(outage.start, t), index, "offline")
                self._push(max(outage.end, t), index, "online")
            if run.faults.reboot is not None:
                self._push(max(run.faults.reboot.at, t), index, "reboot")
            return [self._status(run, "online", "boot")]
        if timer == "reboot":
            outage = run.faults.outage
            if run.offline and outage is not None:
                self._push(outage.end + REBOOT_AFTER_OUTAGE_S, index, "reboot")
                return []
            # What it captured offline goes out first: after the restart its seq starts again
            # from 0, and an old ts with a new boot's low seq would look like a redelivery.
            return [*self._flush(run), self._reboot(run)]
        if timer == "offline":
            # What it captured offline went out just before (HOLD_MAX_WALL_S holds however long
            # the outage lasts); then what the device's last will would say (simulator.faults).
            held = self._flush(run)
            run.offline = True
            return [*held, self._status(run, "offline", "connection_lost")]
        if timer == "online":
            run.offline = False
            return [self._status(run, "online", "reconnect"), *self._flush(run)]
        emission, again = run.behaviour.fire(timer, t)
        self._push(again, index, timer)
        if run.offline:
            return []  # cut off: nothing gets through, held or not
        if emission is not None and emission.hold:
            run.held.append((emission, self._stamp(run)))
            emission = None
        out: list[SimMessage] = []
        if run.held and (emission is not None or self._held_too_long(run)):
            out.extend(self._flush(run))
        if emission is not None:
            out.append(self._valid(run, emission))
        return out

    def _held_too_long(self, run: _Run) -> bool:
        oldest = run.held[0][1]
        return (self.clock() - oldest).total_seconds() > HOLD_MAX_WALL_S

    def _flush(self, run: _Run) -> list[SimMessage]:
        """Publish what the device captured offline, in capture order, each at its capture time."""
        held, run.held = run.held, []
        return [self._valid(run, emission, stamp=stamp) for emission, stamp in held]

    def _stamp(self, run: _Run) -> datetime:
        """The device's clock now: the wall clock, or after a reboot no earlier than its start."""
        now = self.clock()
        if run.not_before is not None:
            if now < run.not_before:
                now = run.not_before
            else:
                run.not_before = None
        return now

    def _reboot(self, run: _Run) -> SimMessage:
        """The device restarts: seq from 0 again, a boot status first (docs/vendors.md).

        Its new boot starts a millisecond after the clock's current reading: every message it
        sent before carries an earlier ``ts``, as a real restart (seconds long) guarantees; the
        platform tells the boots apart by that (streams/dedup.py).
        """
        run.boot += 1
        run.next_seq = 0
        run.not_before = _EPOCH + ((self.clock() - _EPOCH) // _MS + 1) * _MS
        return self._status(run, "online", "boot")

    def _status(self, run: _Run, state: str, reason: str) -> SimMessage:
        body = DeviceStatus(state=state, reason=reason, firmware=run.device.firmware)
        return self._valid(run, Emission(Channel.STATUS, body, run.device.district))

    def _valid(self, run: _Run, emission: Emission, *, stamp: datetime | None = None) -> SimMessage:
        """A valid message of ``emission``, stamped now (or at ``stamp``, its capture time)."""
        device, body = run.device, emission.body
        topic = f"{self.prefix}/{device.facility.value}/{device.vendor}/{device.device_id}/"
        topic += emission.channel.value
        if (
            stamp is None
            and isinstance(body, MobilityPosition)
            and self.nmea_ratio
            and self._rng.random() < self.nmea_ratio
        ):
            return self._nmea(run, topic, body, self.clock())
        now = self._stamp(run) if stamp is None else stamp
        seq = run.next_seq
        run.next_seq += 1
        ts: datetime | int = now if device.ts_format == "rfc3339" else (now - _EPOCH) // _MS
        return SimMessage(
            topic=topic,
            payload=encode_wire(body, ts=ts, seq=seq),
            valid=True,
            reason=None,
            device_id=device.device_id,
            facility=device.facility,
            retain=emission.channel is Channel.STATUS,
            seq=seq,
            body=body,
            district=emission.district,
            boot=run.boot,
            ts_ms=(now - _EPOCH) // _MS,
        )

    def _nmea(self, run: _Run, topic: str, body: MobilityPosition, now: datetime) -> SimMessage:
        # The fix time is the message's identity for deduplication (no seq in NMEA): keep it
        # strictly increasing per device at NMEA's 1/100 s resolution.
        cs = max((now - _EPOCH) // _CS, run.last_nmea_cs + 1)
        run.last_nmea_cs = cs
        fix = encode_fix(
            ts=_EPOCH + cs * _CS,
            lat=body.lat,
            lon=body.lon,
            talker=run.talker,
            speed_kmh=body.speed_kmh,
            heading_deg=body.heading_deg,
            altitude_m=body.altitude_m,
            satellites=body.satellites,
            hdop=body.hdop,
        )
        payload = fix.text.encode("ascii")
        # NMEA keeps 4 decimals of arc minutes: locate the fix as collectors will decode it.
        decoded = decode(topic, payload, received_at=now, prefix=self.prefix).body
        assert isinstance(decoded, MobilityPosition)
        where = self.locator.locate(decoded.lat, decoded.lon)
        return SimMessage(
            topic=topic,
            payload=payload,
            valid=True,
            reason=None,
            device_id=run.device.device_id,
            facility=run.device.facility,
            body=body,
            district=where.adcode if where is not None else None,
            source_format="nmea",
        )

    def _bad(self) -> SimMessage:
        reason = self._rng.choice(BAD_REASONS)
        pool = self._mobile if reason in needs_mobility else range(len(self._runs))
        if not pool:
            reason = BAD_REASONS[0]  # no mobility device in this fleet: any other reason will do
            pool = range(len(self._runs))
        run = self._runs[self._rng.choice(pool)]
        run.unregistered += 1
        bad = make_bad(
            reason,
            rng=self._rng,
            device=run.device,
            seq=run.next_seq,
            now=self.clock(),
            prefix=self.prefix,
            serial=run.unregistered,
        )
        device_id = run.device.device_id
        if bad.topic.count("/") == 4 and reason.value == "unknown_device":
            device_id = bad.topic.split("/")[3]
        return SimMessage(
            topic=bad.topic,
            payload=bad.payload,
            valid=False,
            reason=reason,
            device_id=device_id,
            facility=run.device.facility,
            variant=bad.variant,
        )


def encode_wire(body: Body, *, ts: datetime | int, seq: int) -> bytes:
    """The same JSON as ``schemas.encode`` (header, then the body's fields without ``kind``, None
    omitted), through pydantic's compiled serialiser: about three times faster here.
    A unit test checks that both decode to the same object.
    """
    stamp = str(ts) if isinstance(ts, int) else f'"{format_ts(ts)}"'
    fields = body.model_dump_json(exclude={"kind"}, exclude_none=True)
    head = f'{{"ts":{stamp},"seq":{seq},"v":{SCHEMA_VERSION}'
    return (head + ("}" if fields == "{}" else "," + fields[1:])).encode()


def generate(
    fleet: Fleet,
    n: int | None,
    *,
    seed: int,
    locator: Locator,
    bad_ratio: float = 0.0,
    nmea_ratio: float = 0.0,
    clock: Clock = wall_clock,
    prefix: str = "city",
    reboot_share: float = REBOOT_SHARE,
) -> Iterator[SimMessage]:
    """``n`` messages (None: without end) of ``fleet``, labelled, without any MQTT.

    For tests, benchmarks and files for ``mosquitto_pub -l`` (one payload per line: NMEA payloads
    span two lines, so use ``nmea_ratio=0`` there).
    """
    messages = Simulation(
        fleet,
        seed=seed,
        locator=locator,
        bad_ratio=bad_ratio,
        nmea_ratio=nmea_ratio,
        clock=clock,
        prefix=prefix,
        reboot_share=reboot_share,
    ).messages()
    return messages if n is None else itertools.islice(messages, n)


def last_will_pair(
    device: Device, *, now: datetime, prefix: str = "city"
) -> tuple[SimMessage, SimMessage]:
    """A will device's online announcement (seq 0) and the will it leaves with the broker (seq 1).

    A will is fixed at connect time, so it keeps that ``ts`` and the seq after the announcement;
    the device sends nothing else, so its seqs stay gap-free.
    """
    topic = f"{prefix}/{device.facility.value}/{device.vendor}/{device.device_id}/status"
    ts: datetime | int = now if device.ts_format == "rfc3339" else (now - _EPOCH) // _MS
    out = []
    for seq, state, reason in ((0, "online", "boot"), (1, "offline", "connection_lost")):
        body = DeviceStatus(state=state, reason=reason, firmware=device.firmware)
        out.append(
            SimMessage(
                topic=topic,
                payload=encode_wire(body, ts=ts, seq=seq),
                valid=True,
                reason=None,
                device_id=device.device_id,
                facility=device.facility,
                retain=True,
                seq=seq,
                body=body,
                district=device.district,
            )
        )
    return out[0], out[1]
