"""Alert rules inside the real worker: a fridge warms and cools, every message twice, and a
SIGKILL mid-incident; city.alerts.v1 and the ``alerts`` points must tell one firing and one
resolved change of one alert."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from stream_helpers import WorkerProcess, produce, query, read_topic
from tests_support import eventually

from core.settings import Settings
from schemas import Enrichment, Envelope
from schemas.catalog import message_type_of_kind
from streams.alerts import Alert
from streams.synthetic import Record

pytestmark = pytest.mark.integration

RULE = "vending-fridge-too-warm"  # shipped rule: > 10 °C for 30 min, resolved at <= 8 °C
T0 = datetime(2025, 5, 1, 2, 0, tzinfo=UTC)
FIRES_AT = T0 + timedelta(minutes=40)  # warm from minute 10, 30 min later
RESOLVES_AT = T0 + timedelta(minutes=60)  # the first reading back at 6 °C


def _fridge(device_id: str, minutes: range) -> list[Record]:
    """Telemetry every 5 min: 12 °C from minute 10 to 55, else 6 °C."""
    mt = message_type_of_kind("vending_telemetry")
    out = []
    for m in minutes:
        ts = T0 + timedelta(minutes=m)
        env = Envelope(
            device_id=device_id,
            facility=mt.facilities[0],
            vendor="nbvend",
            channel=mt.channel,
            ts=ts,
            seq=m,
            received_at=ts + timedelta(seconds=1),
            body=mt.body.model_validate(
                {"temperature_c": 12.0 if 10 <= m < 60 else 6.0, "door_open": False}
            ),
            enrichment=Enrichment(district_adcode="330281"),
        )
        value = env.model_dump_json().encode()
        # Every message twice in a row: a QoS 1 redelivery landing in the same batch.
        out += [Record(device_id.encode(), value, "vending_telemetry", env.ts_ms)] * 2
    return out


def _fridge_changes(settings: Settings) -> dict[str, list[Alert]]:
    """The fridge rule's records on the alerts topic, by status."""
    k = settings.kafka
    by_status: dict[str, list[Alert]] = defaultdict(list)
    for key, value in read_topic(k.bootstrap_servers, k.alerts_topic, k.partitions):
        alert = Alert.model_validate_json(value)
        assert key == alert.key.encode(), "keyed by fingerprint"
        if alert.rule == RULE:
            by_status[alert.status].append(alert)
    return by_status


def _assert_points(settings: Settings) -> None:
    db = settings.influxdb
    q = f'SELECT "firing", "status" FROM "alerts" WHERE "rule" = \'{RULE}\''  # noqa: S608
    rows = [row for s in query(db.url, db.database, q) for row in s["values"]]
    fired, resolved = (int(t.timestamp()) * 10**9 for t in (FIRES_AT, RESOLVES_AT))
    assert rows == [[fired, 1, "firing"], [resolved, 0, "resolved"]]


def _assert_once(settings: Settings) -> None:
    """One firing and one resolved change of one alert (repeats must be identical)."""
    changes = _fridge_changes(settings)
    assert set(changes) == {"firing", "resolved"}, dict(changes)
    for status, alerts in changes.items():
        assert len({a.idempotency_key for a in alerts}) == 1, f"{status}: {alerts}"
        assert len({a.model_dump_json() for a in alerts}) == 1, f"{status}: replays repeat exactly"
    assert {a.fingerprint for a in changes["firing"] + changes["resolved"]} == {
        changes["firing"][0].fingerprint
    }
    assert changes["firing"][0].starts_at == FIRES_AT
    assert changes["resolved"][0].ends_at == RESOLVES_AT


def test_worker_alert_fires_and_resolves_once_with_duplicates(
    stream_settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    """A warming fridge, every message twice: one firing, one resolved, two alerts points."""
    k = stream_settings.kafka
    records = _fridge("VM-FRIDGE-1", range(0, 95, 5))
    produce(k.bootstrap_servers, k.events_topic, records + records)
    worker = workers()

    def done() -> None:
        worker.assert_alive()
        _assert_points(stream_settings)
        _assert_once(stream_settings)

    eventually(done, what="one firing and one resolved change")
    changes = _fridge_changes(stream_settings)
    assert [len(changes["firing"]), len(changes["resolved"])] == [1, 1], "no crash, no repeat"


def test_worker_alert_once_across_sigkill_and_restart(
    stream_settings: Settings, workers: Callable[..., WorkerProcess]
) -> None:
    """SIGKILL after the firing, the rest (and the start again) after a restart: still once."""
    k = stream_settings.kafka
    first = _fridge("VM-FRIDGE-2", range(0, 50, 5))
    second = _fridge("VM-FRIDGE-2", range(50, 95, 5))
    produce(k.bootstrap_servers, k.events_topic, first)
    victim = workers()

    def fired() -> None:
        victim.assert_alive()
        assert _fridge_changes(stream_settings)["firing"], "firing published"

    eventually(fired, what="the firing change")
    victim.kill()
    produce(k.bootstrap_servers, k.events_topic, second + first)
    worker = workers()

    def done() -> None:
        worker.assert_alive()
        _assert_points(stream_settings)
        _assert_once(stream_settings)

    eventually(done, what="one firing and one resolved change after the restart")
