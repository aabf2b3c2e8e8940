"""The dashboards' test data, made by the pipeline's own pure code from simulated devices.

simulator (``Simulation``, the fleet's wire messages) → collector (``collectors.pipeline.Pipeline``:
``schemas.decode``, registry and district enrichment, dead letters) → streams
(``streams.processor.Processor``: dedup, raw points, ``*_1m`` and ``*_device_1m`` roll-ups;
``streams.health.health_lines``: ``device_health`` and ``devices_online``) → line protocol.
Only MQTT, Kafka and Faust are left out; InfluxDB's real ``/write`` takes the lines.

What the pipeline does not write yet is built here from its contract (dashboards/README.md):
``deadletters`` (one per collector dead letter, from the real ``DeadLetter`` records),
``platform_stats`` (one per streams worker and 10 s, from the real batch results) and ``alerts``
(through the alert engine's own serialiser, ``streams.alerts.line.alert_point``).

Time: ``SIM_SECONDS`` of simulated fleet (from 07:00 local, the simulator's start) are stamped
onto the ``SPAN`` of wall-clock time that ends at ``now``, through the simulator's injected clock,
so devices send "now" timestamps and every point lands in the dashboards' default range.

What the simulator does not do, the delivery here does, for the vendor scorecard: one mobility
device loses ``LOST`` messages at the source (seq gaps), one recycling station's message reaches
the collector ``HOLD`` late (stored raw, counted late; its gap closes again), and one vending
vendor's clocks run ``SKEW`` behind (received that long after their ``ts``).
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collectors.pipeline import Inbound, Pipeline
from schemas import (
    DeadLetter,
    DeviceStatus,
    DistrictIndex,
    Envelope,
    Facility,
    RecyclingTelemetry,
    Registry,
    StoreCheckout,
    TransitTap,
    VendingSale,
)
from schemas.alert import Alert, Severity
from simulator.engine import Simulation, last_will_pair
from simulator.fleet import Device, Fleet
from simulator.message import SimMessage
from streams.alerts.line import alert_point
from streams.health import health_lines, is_online
from streams.lineproto import line
from streams.platform import deadletter_point
from streams.points import NS_PER_MS
from streams.processor import BatchResult, Processor
from streams.state import DeviceState

__all__ = ["SIM_SECONDS", "SPAN", "PipelineRun", "alert_lines", "pipeline_lines"]

# 40 minutes of wall-clock time: the map (15 min), silent devices (1 min) and today's totals
# all fall inside, and the 6 h default range holds it whole.
SPAN = timedelta(minutes=40)
# Four simulated hours (07:00-11:00): enough sales and drop-offs for every district panel.
SIM_SECONDS = 4 * 3600.0
SEED = 11
# The simulator's defaults (simulator.run.RunOptions): 1 % malformed messages, 10 % NMEA fixes.
BAD_RATIO = 0.01
NMEA_RATIO = 0.1
# streams' defaults: health every 30 s, events late after 600 s; platform_stats every 10 s.
HEALTH_TICK_MS = 30_000
STATS_TICK_MS = 10_000
LATENESS_MS = 600_000
DEFAULT_INTERVAL_S = 300
# Two streams workers, one partition each, so the roll-ups' "partition" tag has two values.
PARTITIONS = 2
# The last will devices connect this long after the start and drop this long after that.
WILL_CONNECT = timedelta(minutes=2)
WILL_DROP = timedelta(minutes=5)
# The simulator never reports smoke; one station's report this close to now says it does.
SMOKE_WITHIN = timedelta(minutes=5)
# Loss at the source: a mobility device's next seq'd messages after LOSS_AFTER never arrive.
LOST = 3
LOSS_AFTER = timedelta(minutes=10)
# A station's message held in transit this long: its 1-minute window closed LATENESS_MS after
# its end, so streams stores it raw and counts it late.
HOLD = timedelta(minutes=12)
HOLD_AFTER = timedelta(minutes=5)
# The clocks of one vending vendor's devices run this far behind the platform's.
SKEW = timedelta(seconds=2)
# Counters per vendor: (seq_gaps, resets, late) summed over its devices, as device_health has them.
Counters = tuple[int, int, int]


@dataclass
class PipelineRun:
    """What one run produced: the lines, and counts a test can compare with query results."""

    lines: list[str] = field(default_factory=list)
    events: int = 0
    deadletters: int = 0
    sales_fen: int = 0  # successful sales the collector accepted
    # What consumption_1m should hold per (facility, payment): successful vending sales and store
    # checkouts, and the fares taps charged, that the collector accepted.
    consumption_fen: Counter[tuple[str, str]] = field(default_factory=Counter)
    smoke_device: str | None = None
    # Per vendor, from the collector's records: events accepted on time (statuses aside, which
    # have no roll-up), and dead letters by the topic's vendor.
    messages: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    # What the delivery did on purpose (module docstring).
    lost: Counter[str] = field(default_factory=Counter)
    late: Counter[str] = field(default_factory=Counter)
    skew_vendor: str = ""
    # The streams state at each vendor's first health tick and at the last one, and the devices
    # offline at any tick.
    first_counters: dict[str, Counters] = field(default_factory=dict)
    last_counters: dict[str, Counters] = field(default_factory=dict)
    silent: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def _paid(msg: SimMessage) -> tuple[str, int] | None:
    """What a message adds to the city's consumption: (payment, fen), by streams.measurements'
    rule (successful sales and checkouts, fares charged)."""
    body = msg.body
    if isinstance(body, VendingSale | StoreCheckout) and body.outcome == "success":
        return body.payment, body.amount_fen
    if isinstance(body, TransitTap) and body.fare_fen:
        return body.payment, body.fare_fen
    return None


def _partition(key: bytes) -> int:
    return zlib.crc32(key) % PARTITIONS


def _deadletter_line(value: bytes) -> str:
    """A ``deadletters`` point of the contract, from a collector's real dead-letter record, by the
    worker's own function: its µs and topic-and-payload hash keep two dead letters of one
    simulated millisecond apart (bad messages come between timers, at one simulated time)."""
    return deadletter_point(value, kafka_ts_ms=0)


def _stats_line(instance: str, result: BatchResult, events: int, dead: int, ms: int) -> str:
    """A ``platform_stats`` point of the contract from one worker's 10 s of real batches."""
    fields = {
        "events_in": events,
        "duplicates": result.duplicates,
        "late": result.late,
        "points_written": len(result.lines),
        "write_errors": 0,
        "deadletters_in": dead,
        "kafka_lag": 0,  # processed as soon as produced: nothing behind
    }
    tags = [("component", "streams"), ("instance", instance)]
    return line("platform_stats", tags, fields, ms * NS_PER_MS)


def _with_smoke(msg: SimMessage) -> SimMessage:
    """The same station report (same ts and seq) with its smoke alarm set."""
    payload = msg.payload.replace(b'"smoke_alarm":false', b'"smoke_alarm":true')
    assert payload != msg.payload, "recycling telemetry without a smoke_alarm field"
    return SimMessage(
        topic=msg.topic,
        payload=payload,
        valid=True,
        reason=None,
        device_id=msg.device_id,
        facility=msg.facility,
        seq=msg.seq,
        body=msg.body,
        district=msg.district,
    )


class _Streams:
    """The streams workers' pure core, driven the way ``streams.app`` drives it."""

    def __init__(self, registry: Registry, out: PipelineRun) -> None:
        self.registry = registry
        self.out = out
        self.processor = Processor(lateness_ms=LATENESS_MS)
        self.pending: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        self.dead: dict[int, int] = defaultdict(int)
        self.offsets: dict[int, int] = defaultdict(int)

    def add_event(self, key: bytes, value: bytes) -> None:
        partition = _partition(key)
        self.pending[partition].append((self.offsets[partition], value))
        self.offsets[partition] += 1
        self.out.events += 1

    def add_deadletter(self, key: bytes) -> None:
        self.dead[_partition(key)] += 1

    def flush(self, ms: int) -> None:
        """One batch per worker, then that worker's ``platform_stats`` point."""
        for partition in range(PARTITIONS):
            records = self.pending.pop(partition, [])
            result = BatchResult()
            self.processor.process(partition, records, result)
            assert not result.rejected, result.rejected
            self.out.lines.extend(result.lines)
            dead = self.dead.pop(partition, 0)
            stats = _stats_line(f"streams-{partition}", result, len(records), dead, ms)
            self.out.lines.append(stats)

    def interval_for(self, dev: DeviceState) -> int:
        record = self.registry.get(dev.device_id)
        if record is not None:
            return record.expected_interval_s
        return dev.expected_interval_s or DEFAULT_INTERVAL_S

    def health(self, ms: int) -> None:
        self.out.lines.extend(
            health_lines(
                self.processor.partitions.values(),
                now_ms=ms,
                tick_ms=HEALTH_TICK_MS,
                interval_for=self.interval_for,
            )
        )
        totals: dict[str, Counters] = {}
        for part in self.processor.partitions.values():
            for dev in part.devices.values():
                vendor = dict(dev.tags)["vendor"]
                gaps, resets, late = totals.get(vendor, (0, 0, 0))
                totals[vendor] = (gaps + dev.seq.gaps, resets + dev.seq.resets, late + dev.late)
                if not is_online(dev, ms, self.interval_for(dev)):
                    self.out.silent[vendor].add(dev.device_id)
        for vendor, counters in totals.items():
            self.out.first_counters.setdefault(vendor, counters)
        self.out.last_counters = totals


def _messages(
    fleet: Fleet, locator: DistrictIndex, *, start: datetime
) -> Iterator[tuple[datetime, SimMessage]]:
    """The simulator's messages, each with the wall-clock time it is sent (and stamped) at."""

    def clock() -> datetime:
        return start + SPAN * min(sim.sim_time / SIM_SECONDS, 1.0)

    sim = Simulation(
        fleet, seed=SEED, locator=locator, bad_ratio=BAD_RATIO, nmea_ratio=NMEA_RATIO, clock=clock
    )
    # The last-will devices: online at connect, then the broker publishes their will (which
    # keeps the connect's ts) when the connection drops. They stay offline to the end.
    connect = start + WILL_CONNECT
    pairs = [last_will_pair(d, now=connect) for d in fleet.will_devices]
    extra = sorted(
        [(connect, hello) for hello, _ in pairs] + [(connect + WILL_DROP, w) for _, w in pairs],
        key=lambda pair: pair[0],
    )
    for msg in sim.messages():
        if sim.sim_time > SIM_SECONDS:
            return
        now = clock()
        while extra and extra[0][0] <= now:
            yield now, extra.pop(0)[1]
        yield now, msg


class _Delivery:
    """The network between devices and collector: loses some messages, holds one back."""

    def __init__(self, fleet: Fleet, out: PipelineRun, *, start: datetime) -> None:
        self.loser: Device = fleet.by_facility(Facility.MOBILITY)[0]
        self.holder: Device = fleet.by_facility(Facility.RECYCLING)[0]
        self.out = out
        self.start = start
        self.held: tuple[datetime, SimMessage] | None = None
        self.released = False

    def intercept(self, sent_at: datetime, msg: SimMessage) -> bool:
        """True when ``msg`` does not reach the collector now (lost, or held back)."""
        if not msg.valid or msg.seq is None:
            return False  # only seq'd messages leave a trace (a gap) when lost or late
        losing = self.out.lost[self.loser.vendor] < LOST and sent_at >= self.start + LOSS_AFTER
        if losing and msg.device_id == self.loser.device_id:
            self.out.lost[self.loser.vendor] += 1
            return True
        holding = self.held is None and not self.released and sent_at >= self.start + HOLD_AFTER
        if holding and msg.device_id == self.holder.device_id:
            self.held = (sent_at, msg)
            return True
        return False

    def due(self, now: datetime) -> list[SimMessage]:
        """The held message, once it has been held for ``HOLD``."""
        if self.held is None or now < self.held[0] + HOLD:
            return []
        msg, self.held, self.released = self.held[1], None, True
        self.out.late[self.holder.vendor] += 1
        return [msg]


def _topic_vendor(topic: str, vendors: set[str]) -> str:
    """The ``vendor`` tag a dead letter of ``topic`` gets: its vendor level, if it names one."""
    parts = topic.split("/")
    return parts[2] if len(parts) >= 3 and parts[2] in vendors else "unknown"


def _count(out: PipelineRun, value: bytes, *, event: bool, vendors: set[str]) -> None:
    if event:
        env = Envelope.model_validate_json(value)
        if not isinstance(env.body, DeviceStatus):  # statuses have no roll-up
            out.messages[env.vendor] += 1
    else:
        out.rejected[_topic_vendor(DeadLetter.model_validate_json(value).topic or "", vendors)] += 1


def pipeline_lines(fleet: Fleet, locator: DistrictIndex, *, now: datetime) -> PipelineRun:
    """Line protocol (ns) of ``SPAN`` ending at ``now``, produced by the pipeline's own code."""
    start = now - SPAN
    out = PipelineRun()
    registry = fleet.registry()
    collector = Pipeline(collector_id="collector-0", registry=registry, districts=locator)
    streams = _Streams(registry, out)
    vendors = {d.vendor for d in (*fleet.devices, *fleet.will_devices)}
    delivery = _Delivery(fleet, out, start=start)
    out.skew_vendor = fleet.by_facility(Facility.VENDING)[0].vendor
    skewed = {d.device_id for d in fleet.devices if d.vendor == out.skew_vendor}
    next_stats = int(start.timestamp() * 1000) // STATS_TICK_MS * STATS_TICK_MS + STATS_TICK_MS
    next_health = int(start.timestamp() * 1000) // HEALTH_TICK_MS * HEALTH_TICK_MS
    next_health += HEALTH_TICK_MS
    smoke_after = now - SMOKE_WITHIN
    for sent_at, sim_msg in _messages(fleet, locator, start=start):
        msg = sim_msg
        if (
            out.smoke_device is None
            and sent_at >= smoke_after
            and isinstance(msg.body, RecyclingTelemetry)
        ):
            msg = _with_smoke(msg)
            out.smoke_device = msg.device_id
        ms = int(sent_at.timestamp() * 1000)
        while ms >= next_stats:
            streams.flush(next_stats)
            next_stats += STATS_TICK_MS
        while ms >= next_health:
            streams.health(next_health)
            next_health += HEALTH_TICK_MS
        if delivery.intercept(sent_at, msg):
            continue
        for late_msg in delivery.due(sent_at):
            # Received now, HOLD after its ts.
            late = collector.route(Inbound(late_msg.topic, late_msg.payload, sent_at, ms / 1000))
            assert late.kind == "event", late
            streams.add_event(late.key, late.value)
        received = sent_at + SKEW if msg.device_id in skewed else sent_at
        routed = collector.route(Inbound(msg.topic, msg.payload, received, ms / 1000))
        _count(out, routed.value, event=routed.kind == "event", vendors=vendors)
        if routed.kind == "event":
            streams.add_event(routed.key, routed.value)
            if isinstance(msg.body, VendingSale) and msg.body.outcome == "success":
                out.sales_fen += msg.body.amount_fen
            paid = _paid(msg)
            if paid is not None:
                out.consumption_fen[(msg.facility.value, paid[0])] += paid[1]
        else:
            out.lines.append(_deadletter_line(routed.value))
            streams.add_deadletter(routed.key)
            out.deadletters += 1
    end_ms = int(now.timestamp() * 1000)
    streams.flush(end_ms)
    streams.health(end_ms)
    return out


def alert_lines(fleet: Fleet, *, now: datetime) -> list[str]:
    """``alerts`` points from the alert engine's own serialiser (nanosecond timestamps)."""
    lines = []
    for i, device in enumerate(fleet.by_facility(Facility.VENDING)[:3]):
        labels = {"district": device.district, "facility": "vending", "vendor": device.vendor}
        alert = Alert(
            status="firing",
            fingerprint=f"{i:016x}",
            rule="vending-fridge-too-warm",
            rule_type="threshold",
            severity=Severity.WARNING,
            device_id=device.device_id,
            labels=labels,
            summary_zh="售货机温度过高",
            summary_en="Vending machine too warm",
            starts_at=now - timedelta(minutes=20 - i),
            value=11.5,
        )
        lines.append(alert_point(alert))
        if i == 0:  # one of them resolved again, as the engine would send it
            resolved = alert.model_copy(update={"status": "resolved", "ends_at": now})
            lines.append(alert_point(resolved))
    return lines
