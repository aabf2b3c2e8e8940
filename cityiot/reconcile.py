"""Reconciliation: what the simulator published against what InfluxDB and the dead letter hold.

The simulator's truth file says what the broker acknowledged: valid messages per channel, exact
sales (fen) and drop-off (grams) totals per district, category, payment and outcome, store gate
passes and checkouts (fen, items), transit taps (fen) per line, the city's consumption per
facility and payment method, and rejected messages per reason. This module reads the same
figures back from InfluxDB (raw points and the ``*_1m`` roll-ups) and from the dead-letter topic,
and compares them line by line. ``lost`` is every valid message the truth has and storage lacks;
a run of the platform must end with 0.
Reboots are checked per device: the truth's counter restarts against ``resets`` in the newest
``device_health`` point (written every ``CITYIOT_STREAM_HEALTH_INTERVAL_S``, so this figure
trails the others by up to one interval).

:func:`compare` is pure; :func:`read_stored` and :func:`count_deadletters` are the I/O.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from pydantic import BaseModel, ConfigDict

from core.influx import InfluxTarget, quote_identifier
from schemas import MESSAGE_TYPES, Channel
from simulator.truth import OUTSIDE, Truth

__all__ = [
    "CHANNEL_MEASUREMENTS",
    "RECONCILE_GROUP_PREFIX",
    "STATUS_MEASUREMENT",
    "Check",
    "Reconciliation",
    "Stored",
    "compare",
    "count_deadletters",
    "count_points",
    "read_stored",
]

# streams tags a message whose district is unknown (a fix offshore) with this value
# (streams.points.UNKNOWN; not imported: importing streams starts Faust's import).
UNKNOWN_DISTRICT = "unknown"
# streams names a message's raw measurement after its body's kind (streams.points.raw_line), so
# the schemas' catalogue gives the measurement of each truth channel (facility/channel). Status
# is counted over every facility at once: one measurement, many channels.
CHANNEL_MEASUREMENTS: dict[str, str] = {
    f"{facility}/{mt.channel}": mt.kind
    for mt in MESSAGE_TYPES
    if mt.channel is not Channel.STATUS
    for facility in mt.facilities
}
(STATUS_MEASUREMENT,) = {mt.kind for mt in MESSAGE_TYPES if mt.channel is Channel.STATUS}
# Dead letters are read until none arrived for this long (the topic has no end marker).
DEADLETTER_QUIET_S = 2.0
# The dead-letter reader's group id starts so (never joined, but looked up: ACLs grant the prefix).
RECONCILE_GROUP_PREFIX = "cityiot-reconcile-"

Key = tuple[str, ...]


class Stored(BaseModel):
    """Figures read back from storage, keyed like the truth's totals."""

    model_config = ConfigDict(frozen=True)

    points: dict[str, int]  # raw measurement → points
    statuses: int
    sales: dict[Key, tuple[int, int, int]]  # (district, category, payment, outcome) → n, qty, fen
    sales_1m: dict[Key, tuple[int, int]]  # (district, payment, outcome) → n, fen
    dropoffs: dict[Key, tuple[int, int]]  # (district, category) → n, grams
    dropoffs_1m: dict[Key, tuple[int, int]]  # (district, category) → n, grams
    positions: dict[Key, int]  # (district, asset_type) → n
    duplicates_dropped: int | None = None
    resets: dict[str, int] = {}  # device → counter restarts (device_health), devices with any
    gates: dict[Key, int] = {}  # (district, direction, method) → n, raw
    gates_1m: dict[Key, int] = {}  # (district, direction, method) → n
    checkouts: dict[Key, tuple[int, int, int]] = {}  # (district, payment, outcome) → n, items, fen
    checkouts_1m: dict[Key, tuple[int, int, int]] = {}
    taps: dict[Key, tuple[int, int]] = {}  # (district, line, tap, payment) → n, fen, raw
    taps_1m: dict[Key, tuple[int, int]] = {}  # (district, line, tap) → n, fen
    consumption_1m: dict[Key, tuple[int, int]] = {}  # (district, facility, payment) → n, fen


class Check(BaseModel):
    """One figure compared: what the truth says and what storage holds."""

    model_config = ConfigDict(frozen=True)

    name: str
    expected: int
    actual: int

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


class Reconciliation(BaseModel):
    model_config = ConfigDict(frozen=True)

    published: int
    valid: int
    stored: int
    deadlettered: dict[str, int]
    expected_deadletters: dict[str, int]
    duplicates_dropped: int | None
    lost: int
    checks: list[Check]

    @property
    def exact(self) -> bool:
        return (
            self.lost == 0
            and all(check.ok for check in self.checks)
            and self.deadlettered == self.expected_deadletters
        )

    @property
    def mismatches(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


def _district(name: str) -> str:
    return UNKNOWN_DISTRICT if name == OUTSIDE else name


def compare(truth: Truth, stored: Stored, deadletters: Counter[str]) -> Reconciliation:
    """Every truth figure against storage (pure)."""
    checks: list[Check] = []
    lost = 0
    stored_total = 0
    for channel, measurement in CHANNEL_MEASUREMENTS.items():
        expected = truth.valid_by_channel.get(channel, 0)
        actual = stored.points.get(measurement, 0)
        checks.append(Check(name=f"points {measurement}", expected=expected, actual=actual))
        lost += max(0, expected - actual)
        stored_total += actual
    expected_status = sum(
        v for k, v in truth.valid_by_channel.items() if k.endswith(f"/{Channel.STATUS}")
    )
    checks.append(
        Check(name=f"points {STATUS_MEASUREMENT}", expected=expected_status, actual=stored.statuses)
    )
    lost += max(0, expected_status - stored.statuses)
    stored_total += stored.statuses

    sales_1m: Counter[Key] = Counter()
    sales_1m_fen: Counter[Key] = Counter()
    for sale in truth.sales:
        key: Key = (_district(sale.district), sale.category, sale.payment, sale.outcome)
        n, qty, fen = stored.sales.get(key, (0, 0, 0))
        label = "/".join(key)
        checks.append(Check(name=f"sales {label} count", expected=sale.count, actual=n))
        checks.append(Check(name=f"sales {label} quantity", expected=sale.quantity, actual=qty))
        checks.append(Check(name=f"sales {label} fen", expected=sale.amount_fen, actual=fen))
        short = (key[0], sale.payment, sale.outcome)
        sales_1m[short] += sale.count
        sales_1m_fen[short] += sale.amount_fen
    for short_key, count in sorted(sales_1m.items()):
        n, fen = stored.sales_1m.get(short_key, (0, 0))
        label = "/".join(short_key)
        checks.append(Check(name=f"sales_1m {label} count", expected=count, actual=n))
        fen_expected = sales_1m_fen[short_key]
        checks.append(Check(name=f"sales_1m {label} fen", expected=fen_expected, actual=fen))

    for drop in truth.dropoffs:
        drop_key: Key = (_district(drop.district), drop.category)
        label = "/".join(drop_key)
        for source, table in (("dropoffs", stored.dropoffs), ("dropoffs_1m", stored.dropoffs_1m)):
            n, grams = table.get(drop_key, (0, 0))
            checks.append(Check(name=f"{source} {label} count", expected=drop.count, actual=n))
            checks.append(Check(name=f"{source} {label} g", expected=drop.weight_g, actual=grams))

    positions: Counter[Key] = Counter()
    for pos in truth.positions:
        positions[(_district(pos.district), pos.asset_type)] += pos.count
    for pos_key, count in sorted(positions.items()):
        actual = stored.positions.get(pos_key, 0)
        checks.append(Check(name=f"positions {'/'.join(pos_key)}", expected=count, actual=actual))

    checks.extend(_store_checks(truth, stored))
    checks.extend(_transit_checks(truth, stored))
    checks.extend(_consumption_checks(truth, stored))

    # Devices that rebooted, or that storage says did: a device neither names has 0 on both sides.
    expected_resets = {d: r.resets for d, r in truth.seq.items() if r.resets}
    for device in sorted(expected_resets.keys() | stored.resets.keys()):
        checks.append(
            Check(
                name=f"resets {device}",
                expected=expected_resets.get(device, 0),
                actual=stored.resets.get(device, 0),
            )
        )

    return Reconciliation(
        published=truth.published,
        valid=truth.valid,
        stored=stored_total,
        deadlettered=dict(sorted(deadletters.items())),
        expected_deadletters=dict(sorted(truth.rejected_by_reason.items())),
        duplicates_dropped=stored.duplicates_dropped,
        lost=lost,
        checks=checks,
    )


def _store_checks(truth: Truth, stored: Stored) -> list[Check]:
    """Gate passes (raw and per minute) and checkouts (count, items, fen; raw and per minute)."""
    checks: list[Check] = []
    for gate in truth.gates:
        key: Key = (_district(gate.district), gate.direction, gate.method)
        label = "/".join(key)
        checks.append(
            Check(name=f"gates {label}", expected=gate.count, actual=stored.gates.get(key, 0))
        )
        checks.append(
            Check(name=f"gates_1m {label}", expected=gate.count, actual=stored.gates_1m.get(key, 0))
        )
    for basket in truth.checkouts:
        key = (_district(basket.district), basket.payment, basket.outcome)
        label = "/".join(key)
        for source, table in (
            ("checkouts", stored.checkouts),
            ("checkouts_1m", stored.checkouts_1m),
        ):
            n, items, fen = table.get(key, (0, 0, 0))
            checks.append(Check(name=f"{source} {label} count", expected=basket.count, actual=n))
            checks.append(
                Check(name=f"{source} {label} items", expected=basket.items, actual=items)
            )
            checks.append(
                Check(name=f"{source} {label} fen", expected=basket.amount_fen, actual=fen)
            )
    return checks


def _transit_checks(truth: Truth, stored: Stored) -> list[Check]:
    """Taps and fares per line, tap and payment (raw), and per line and tap (per minute)."""
    checks: list[Check] = []
    per_minute: dict[Key, list[int]] = {}
    for tap in truth.taps:
        key: Key = (_district(tap.district), tap.line, tap.tap, tap.payment)
        raw: tuple[int, int] = stored.taps.get(key, (0, 0))
        label = "/".join(key)
        checks.append(Check(name=f"taps {label} count", expected=tap.count, actual=raw[0]))
        checks.append(Check(name=f"taps {label} fen", expected=tap.fare_fen, actual=raw[1]))
        row = per_minute.setdefault(key[:3], [0, 0])
        row[0] += tap.count
        row[1] += tap.fare_fen
    for short, (count, fen) in sorted(per_minute.items()):
        n, fen_stored = stored.taps_1m.get(short, (0, 0))
        label = "/".join(short)
        checks.append(Check(name=f"taps_1m {label} count", expected=count, actual=n))
        checks.append(Check(name=f"taps_1m {label} fen", expected=fen, actual=fen_stored))
    return checks


def _consumption_checks(truth: Truth, stored: Stored) -> list[Check]:
    """What the city's consumption roll-up holds: successful vending sales and store checkouts,
    and the taps that charged a fare, per district, facility and payment method."""
    expected: dict[Key, list[int]] = {}

    def add(key: Key, count: int, fen: int) -> None:
        row = expected.setdefault(key, [0, 0])
        row[0] += count
        row[1] += fen

    for sale in truth.sales:
        if sale.outcome == "success":
            add((_district(sale.district), "vending", sale.payment), sale.count, sale.amount_fen)
    for basket in truth.checkouts:
        if basket.outcome == "success":
            add(
                (_district(basket.district), "store", basket.payment),
                basket.count,
                basket.amount_fen,
            )
    for tap in truth.taps:
        if tap.paid:
            add((_district(tap.district), "transit", tap.payment), tap.paid, tap.fare_fen)
    checks: list[Check] = []
    for key, (count, fen) in sorted(expected.items()):
        n, fen_stored = stored.consumption_1m.get(key, (0, 0))
        label = "/".join(key)
        checks.append(Check(name=f"consumption_1m {label} count", expected=count, actual=n))
        checks.append(Check(name=f"consumption_1m {label} fen", expected=fen, actual=fen_stored))
    return checks


def _rows(target: InfluxTarget, query: str) -> Iterable[tuple[dict[str, str], dict[str, Any]]]:
    """Each row of a query as (series tags, column → value)."""
    for series in target.query(query):
        tags = series.get("tags") or {}
        columns = series["columns"]
        for values in series["values"]:
            yield tags, dict(zip(columns, values, strict=True))


def count_points(target: InfluxTarget, measurement: str) -> int:
    """Points of ``measurement``: count(*) counts each field, and the field present on every
    point gives the point count."""
    best = 0
    query = f"SELECT count(*) FROM {quote_identifier(measurement)}"  # noqa: S608 (quoted)
    for _, row in _rows(target, query):
        best = max([best, *(int(v) for k, v in row.items() if k != "time" and v is not None)])
    return best


def read_stored(target: InfluxTarget) -> Stored:
    """Read every figure :func:`compare` needs from InfluxDB (v1 ``/query``, InfluxQL)."""
    points = {m: count_points(target, m) for m in CHANNEL_MEASUREMENTS.values()}
    sales: dict[Key, tuple[int, int, int]] = {}
    query = 'SELECT amount_fen, quantity, category, payment, outcome FROM "vending_sale"'
    for tags, row in _rows(target, query + ' GROUP BY "district"'):
        sale_key: Key = (tags["district"], row["category"], row["payment"], row["outcome"])
        n, qty, fen = sales.get(sale_key, (0, 0, 0))
        sales[sale_key] = (n + 1, qty + int(row["quantity"]), fen + int(row["amount_fen"]))
    sales_1m: dict[Key, tuple[int, int]] = {}
    query = 'SELECT sum("count") AS n, sum(amount_fen) AS fen FROM "vending_sale_1m"'
    for tags, row in _rows(target, query + ' GROUP BY "district", "payment", "outcome"'):
        sales_1m[(tags["district"], tags["payment"], tags["outcome"])] = (
            int(row["n"] or 0),
            int(row["fen"] or 0),
        )
    dropoffs: dict[Key, tuple[int, int]] = {}
    query = 'SELECT weight_g, category FROM "recycling_dropoff" GROUP BY "district"'
    for tags, row in _rows(target, query):
        drop_key: Key = (tags["district"], row["category"])
        n, grams = dropoffs.get(drop_key, (0, 0))
        dropoffs[drop_key] = (n + 1, grams + int(row["weight_g"]))
    dropoffs_1m: dict[Key, tuple[int, int]] = {}
    query = 'SELECT sum("count") AS n, sum(weight_g) AS g FROM "recycling_dropoff_1m"'
    for tags, row in _rows(target, query + ' GROUP BY "district", "category"'):
        dropoffs_1m[(tags["district"], tags["category"])] = (
            int(row["n"] or 0),
            int(row["g"] or 0),
        )
    positions: dict[Key, int] = {}
    query = 'SELECT count(lat) AS n FROM "mobility_position" GROUP BY "district", "asset_type"'
    for tags, row in _rows(target, query):
        positions[(tags["district"], tags["asset_type"])] = int(row["n"] or 0)
    stores = _read_stores(target)
    transit = _read_transit(target)
    consumption: dict[Key, tuple[int, int]] = {}
    query = 'SELECT sum("count") AS n, sum(amount_fen) AS fen FROM "consumption_1m"'
    for tags, row in _rows(target, query + ' GROUP BY "district", "facility", "payment"'):
        consumption[(tags["district"], tags["facility"], tags["payment"])] = (
            int(row["n"] or 0),
            int(row["fen"] or 0),
        )
    duplicates = None
    for _, row in _rows(target, 'SELECT sum(duplicates) AS d FROM "platform_stats"'):
        duplicates = int(row["d"] or 0)
    # A device's resets only grow, so its last point with any is its newest count.
    resets: dict[str, int] = {}
    query = 'SELECT last("resets") AS r FROM "device_health" WHERE "resets" > 0 GROUP BY "device"'
    for tags, row in _rows(target, query):
        resets[tags["device"]] = int(row["r"] or 0)
    return Stored(
        points=points,
        statuses=count_points(target, STATUS_MEASUREMENT),
        sales=sales,
        sales_1m=sales_1m,
        dropoffs=dropoffs,
        dropoffs_1m=dropoffs_1m,
        positions=positions,
        duplicates_dropped=duplicates,
        resets=resets,
        consumption_1m=consumption,
        **stores,
        **transit,
    )


def _read_stores(target: InfluxTarget) -> dict[str, Any]:
    gates: dict[Key, int] = {}
    query = 'SELECT direction, "method" FROM "store_gate" GROUP BY "district"'
    for tags, row in _rows(target, query):
        key: Key = (tags["district"], row["direction"], row["method"])
        gates[key] = gates.get(key, 0) + 1
    gates_1m: dict[Key, int] = {}
    query = 'SELECT sum("count") AS n FROM "store_gate_1m"'
    for tags, row in _rows(target, query + ' GROUP BY "district", "direction", "method"'):
        gates_1m[(tags["district"], tags["direction"], tags["method"])] = int(row["n"] or 0)
    checkouts: dict[Key, tuple[int, int, int]] = {}
    query = 'SELECT amount_fen, items, payment, outcome FROM "store_checkout" GROUP BY "district"'
    for tags, row in _rows(target, query):
        key = (tags["district"], row["payment"], row["outcome"])
        n, items, fen = checkouts.get(key, (0, 0, 0))
        checkouts[key] = (n + 1, items + int(row["items"]), fen + int(row["amount_fen"]))
    checkouts_1m: dict[Key, tuple[int, int, int]] = {}
    query = 'SELECT sum("count") AS n, sum(items) AS items, sum(amount_fen) AS fen FROM '
    query += '"store_checkout_1m" GROUP BY "district", "payment", "outcome"'
    for tags, row in _rows(target, query):
        checkouts_1m[(tags["district"], tags["payment"], tags["outcome"])] = (
            int(row["n"] or 0),
            int(row["items"] or 0),
            int(row["fen"] or 0),
        )
    return {
        "gates": gates,
        "gates_1m": gates_1m,
        "checkouts": checkouts,
        "checkouts_1m": checkouts_1m,
    }


def _read_transit(target: InfluxTarget) -> dict[str, Any]:
    taps: dict[Key, tuple[int, int]] = {}
    query = 'SELECT fare_fen, line, tap, payment FROM "transit_tap" GROUP BY "district"'
    for tags, row in _rows(target, query):
        key: Key = (tags["district"], row["line"], row["tap"], row["payment"])
        n, fen = taps.get(key, (0, 0))
        taps[key] = (n + 1, fen + int(row["fare_fen"]))
    taps_1m: dict[Key, tuple[int, int]] = {}
    query = 'SELECT sum("count") AS n, sum(fare_fen) AS fen FROM "transit_tap_1m"'
    for tags, row in _rows(target, query + ' GROUP BY "district", "line", "tap"'):
        taps_1m[(tags["district"], tags["line"], tags["tap"])] = (
            int(row["n"] or 0),
            int(row["fen"] or 0),
        )
    return {"taps": taps, "taps_1m": taps_1m}


def count_deadletters(
    bootstrap: str,
    topic: str,
    *,
    timeout_s: float = 30.0,
    security: Mapping[str, str] | None = None,
) -> Counter[str]:
    """Distinct dead letters per reason, read from the start of every partition until quiet.

    ``security``: the librdkafka security properties of a Kafka with authentication
    (``KafkaSettings.librdkafka_security()``; its group is one of ``RECONCILE_GROUP_PREFIX``).

    Dead letters are at-least-once, like everything the collector forwards: a collector that
    dies after Kafka took a record and before its PUBACK reached the broker gets the message
    again (the broker sets the DUP flag), and dead-letters it again. Valid messages are
    deduplicated downstream by device and seq; a dead letter marked ``redelivered`` whose topic
    and bytes repeat an earlier record's is that message again and counts once here. Identical
    bytes without the flag are another message (a device may send the same garbage twice).
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            **(security or {}),
            "group.id": f"{RECONCILE_GROUP_PREFIX}{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    reasons: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
        # assign(), not subscribe(): a group join costs seconds and this reader needs no group.
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while partitions and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                if time.monotonic() - quiet_since > DEADLETTER_QUIET_S:
                    break
                continue
            quiet_since = time.monotonic()
            record = json.loads(msg.value() or b"{}")
            identity = _deadletter_identity(record, msg.value() or b"")
            if record.get("redelivered") and identity in seen:
                continue
            seen.add(identity)
            reasons[record.get("reason", "unreadable")] += 1
    finally:
        consumer.close()
    return reasons


def _deadletter_identity(record: dict[str, Any], raw: bytes) -> tuple[str, ...]:
    """A collector dead letter is its MQTT topic and bytes; any other record is itself."""
    if record.get("source", "collector") == "collector" and "payload_b64" in record:
        return ("collector", str(record.get("topic")), str(record["payload_b64"]))
    return ("record", raw.decode("utf-8", "replace"))
