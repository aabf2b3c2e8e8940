"""A simulator run: fleet → registry file → messages → MQTT → truth file.

Composes the pure parts (fleet, engine, truth) with the I/O at the edges (district data, files,
:mod:`simulator.publisher`). Runs in the calling thread; ``stop`` (set by a signal handler, say)
ends it early, and the truth file then describes exactly what was acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from schemas import DistrictIndex
from simulator.engine import Simulation, last_will_pair, wall_clock
from simulator.fleet import DEFAULT_MIX, Fleet, FleetMix, Locator, build_fleet
from simulator.publisher import DEFAULT_WINDOW, MqttTarget, Publisher, WillDevices
from simulator.truth import Truth, TruthBuilder

__all__ = ["RunOptions", "run", "write_truth"]

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 10.0
# Pacing sleeps only when this far ahead of schedule: a sleep per message costs more than it saves.
PACING_SLACK_S = 0.002


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What to simulate and how fast. ``rate`` 0 publishes as fast as the broker acknowledges."""

    devices: int = 1000
    rate: float = 1000.0
    duration: float | None = None
    count: int | None = None
    seed: int = 1
    bad_ratio: float = 0.01
    nmea_ratio: float = 0.1
    will_devices: int = 2
    mix: FleetMix = DEFAULT_MIX
    window: int = DEFAULT_WINDOW
    prefix: str = "city"
    registry_out: Path | None = None
    truth_out: Path | None = None

    def __post_init__(self) -> None:
        if self.devices < 1:
            raise ValueError("--devices must be at least 1")
        if self.rate < 0:
            raise ValueError("--rate must be >= 0 (0: as fast as possible)")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("--duration must be > 0 seconds")
        for name in ("bad_ratio", "nmea_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"--{name.replace('_', '-')} must be within [0, 1], got {value}")


def write_truth(truth: Truth, path: Path) -> None:
    path.write_text(truth.model_dump_json(indent=1) + "\n", encoding="utf-8")


def run(
    options: RunOptions,
    target: MqttTarget,
    *,
    locator: Locator | None = None,
    stop: threading.Event | None = None,
) -> Truth:
    """Simulate, publish and account. Returns the truth (also written to ``truth_out``).

    Raises:
        PublishError: The broker is unreachable or the connection broke.
        DistrictDataError: No district boundaries (install ``cityiot[geo]``).
    """
    locator = locator if locator is not None else DistrictIndex.load()
    stop = stop if stop is not None else threading.Event()
    fleet = build_fleet(
        options.devices,
        seed=options.seed,
        locator=locator,
        will_devices=options.will_devices,
        mix=options.mix,
    )
    if options.registry_out is not None:
        fleet.registry().write_csv(options.registry_out)
    builder = TruthBuilder(
        seed=options.seed,
        devices=options.devices,
        will_devices=options.will_devices,
        bad_ratio=options.bad_ratio,
        nmea_ratio=options.nmea_ratio,
    )
    sim = Simulation(
        fleet,
        seed=options.seed,
        locator=locator,
        bad_ratio=options.bad_ratio,
        nmea_ratio=options.nmea_ratio,
        prefix=options.prefix,
    )
    started = wall_clock()
    with Publisher(target, on_ack=builder.add, window=options.window) as publisher:
        wills = _will_devices(fleet, target, builder, options.prefix)
        wills.connect()
        try:
            _publish(sim, publisher, options, stop)
        finally:
            unacked = publisher.drain()
            wills.drop()
    truth = builder.build(
        started_at=started, finished_at=wall_clock(), sim_seconds=sim.sim_time, unacked=unacked
    )
    if options.truth_out is not None:
        write_truth(truth, options.truth_out)
    return truth


def _will_devices(
    fleet: Fleet, target: MqttTarget, builder: TruthBuilder, prefix: str
) -> WillDevices:
    now = wall_clock()
    pairs = [last_will_pair(d, now=now, prefix=prefix) for d in fleet.will_devices]
    return WillDevices(target, pairs, on_ack=builder.add)


def _publish(
    sim: Simulation, publisher: Publisher, options: RunOptions, stop: threading.Event
) -> None:
    start = time.monotonic()
    end = start + options.duration if options.duration is not None else float("inf")
    next_report = start + PROGRESS_EVERY_S
    for sent, msg in enumerate(sim.messages()):  # sent: how many went before this one
        if stop.is_set() or (options.count is not None and sent >= options.count):
            break
        now = time.monotonic()
        if now >= end:
            break
        if options.rate:
            ahead = start + sent / options.rate - now
            if ahead > PACING_SLACK_S:
                publisher.idle(min(ahead, end - now))
        publisher.publish(msg)
        if now >= next_report:
            next_report = now + PROGRESS_EVERY_S
            log.info(
                "published=%d acked=%d rate_per_s=%.0f sim_hours=%.2f",
                sent + 1,
                publisher.acked,
                (sent + 1) / (now - start),
                sim.sim_time / 3600,
            )
