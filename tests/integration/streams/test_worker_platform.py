"""The platform's own points from the real worker: ``deadletters`` (collectors' and the worker's
own, hostile text included) and ``platform_stats`` counter deltas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from stream_helpers import WorkerProcess, produce, query
from tests_support import eventually

from core.settings import Settings
from schemas import DeadLetter, RejectReason
from streams.synthetic import Fleet, Record

pytestmark = pytest.mark.integration

RX = datetime(2025, 5, 1, 4, 0, tzinfo=UTC)
HOSTILE = 'x" ,y=1\n\\ bad'


def _dead(topic: str, reason: RejectReason, detail: str, n: int) -> Record:
    record = DeadLetter.build(
        reason=reason,
        detail=detail,
        field=None,
        topic=topic,
        device_id=topic.split("/")[3] if topic.count("/") == 4 else None,
        payload=f"payload {n}".encode(),
        payload_limit=1024,
        collector_id="c1",
        received_at=RX + timedelta(microseconds=n),
    )
    return Record(b"k", record.model_dump_json().encode(), "deadletter", 0)


def test_worker_writes_deadletters_and_platform_stats(
    stream_settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    """Dead letters become one point each with their tags; stats deltas add up to what was fed."""
    settings = stream_settings.model_copy(
        update={"stream": stream_settings.stream.model_copy(update={"stats_interval_s": 1.0})}
    )
    k, db = settings.kafka, settings.influxdb
    fleet = Fleet(devices=20)
    events = fleet.records(200)
    invalid = Record(b"dev-x", b'{"not": "an envelope"}', "invalid", 0)
    produce(k.bootstrap_servers, k.events_topic, [*events, invalid, *events])
    dead = [
        _dead("city/vending/nbvend/VM-1/telemetry", RejectReason.BAD_JSON, "x" * 500, 1),
        _dead("city/vending/nbvend/VM-1/telemetry", RejectReason.BAD_JSON, "again", 2),
        _dead("city/recycling/greenbox/RS-1/bogus", RejectReason.UNKNOWN_CHANNEL, HOSTILE, 3),
        _dead(f"nowhere/{HOSTILE}", RejectReason.BAD_TOPIC, HOSTILE, 4),
        Record(b"k", b"\x00 not json at all", "garbage", 0),
    ]
    produce(k.bootstrap_servers, k.deadletter_topic, dead)
    worker = workers(settings)

    def deadletters() -> None:
        worker.assert_alive()
        q = (
            'SELECT sum("count") FROM "deadletters" '
            'GROUP BY "component", "reason", "facility", "vendor"'
        )
        got = {
            tuple(s["tags"][t] for t in ("component", "reason", "facility", "vendor")): s["values"][
                0
            ][1]
            for s in query(db.url, db.database, q)
        }
        assert got == {
            ("collector", "bad_json", "vending", "nbvend"): 2,
            ("collector", "unknown_channel", "recycling", "greenbox"): 1,
            ("collector", "bad_topic", "unknown", "unknown"): 1,
            ("collector", "unreadable_record", "unknown", "unknown"): 1,
            ("streams", "invalid_envelope", "unknown", "unknown"): 1,
        }

    eventually(deadletters, what="one deadletters point per dead letter")
    q = 'SELECT "detail", "device_id" FROM "deadletters" WHERE "component" = \'collector\''
    rows = [r for s in query(db.url, db.database, q) for r in s["values"]]
    assert sorted(r[2] for r in rows) == ["", "", "RS-1", "VM-1", "VM-1"]
    assert max(len(r[1]) for r in rows) == 200, "detail truncated to 200 characters"
    assert any(r[1] == HOSTILE.replace("\n", " ") for r in rows), "hostile text kept as a field"
    ts = {r[0] for r in rows}
    assert len(ts) == 5, "no two dead letters share a point"

    def stats() -> None:
        worker.assert_alive()
        q = (
            'SELECT sum("events_in"), sum("duplicates"), sum("deadletters_in"), '
            'sum("points_written"), last("kafka_lag") FROM "platform_stats" '
            'GROUP BY "component", "instance"'
        )
        series = query(db.url, db.database, q)
        assert len(series) == 1, "one worker, one series"
        assert series[0]["tags"]["component"] == "streams"
        _, events_in, duplicates, deadletters_in, points, lag = series[0]["values"][0]
        assert (events_in, duplicates, deadletters_in) == (401, 200, len(dead) + 1)
        assert points >= 200 + len(dead) + 1
        assert lag == 0

    eventually(stats, what="platform_stats deltas add up to what was fed")
