"""Simulator → Mosquitto → collector → Kafka → streams → InfluxDB: truth equals storage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests_e2e_support import RUN, explain, finish, start

from cityiot.local.platform import Platform
from core.settings import Settings


def test_e2e_seeded_run_is_exact(platform: Platform) -> None:
    """Seeded run with bad messages mixed in: storage equals truth, each bad one dead-lettered."""
    start(platform, RUN)
    result = finish(platform)
    assert result.exact, explain(result)
    assert result.lost == 0
    assert result.stored == result.valid
    # Some devices rebooted (simulator.faults.REBOOT_SHARE), each reset counted in device_health.
    assert [c for c in result.checks if c.name.startswith("resets ") and c.expected == 1]
    # Stores and transit were in the run, and their figures were among the exact ones.
    for prefix in ("gates_1m ", "checkouts_1m ", "taps_1m ", "consumption_1m "):
        assert [c for c in result.checks if c.name.startswith(prefix) and c.expected > 0], prefix
    facilities = {
        c.name.split()[1].split("/")[1] for c in result.checks if "consumption_1m" in c.name
    }
    assert facilities == {"vending", "store", "transit"}


def test_e2e_mqtt_311_run_is_exact(settings: Settings, tmp_path: Path) -> None:
    """The same chain over MQTT 3.1.1 (paho's edge in the collector, for brokers without 5)."""
    settings = settings.model_copy(
        update={"mqtt": settings.mqtt.model_copy(update={"protocol": "3.1.1"})}
    )
    platform = Platform(settings, tmp_path / "platform311")
    try:
        start(platform, replace(RUN, seed=RUN.seed + 11))
        result = finish(platform)
    finally:
        platform.stop()
    assert result.exact, explain(result)
    assert result.lost == 0
