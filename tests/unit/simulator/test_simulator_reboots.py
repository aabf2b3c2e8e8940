"""Reboots in the simulator: seq from 0 after a boot status, every message new to the platform's
dedup, and the truth's reset counts equal to what dedup counts."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from simulator_testkit import NOW, SEED, verdict

from schemas import DeviceStatus, DistrictIndex, Envelope, Registry
from simulator import Fleet, SimMessage, Simulation, TruthBuilder, generate
from simulator.faults import REBOOT_AT_S, Faults, Outage, Reboot, plan_faults
from streams.dedup import SeqTracker, Verdict

# Past the latest planned reboot (REBOOT_AT_S, 20 simulated minutes) for the 300-device test
# fleet: 7,000 messages cover ~27 minutes.
MESSAGES = 7000


@pytest.fixture(scope="module")
def every_device_reboots(fleet: Fleet, locator: DistrictIndex) -> list[SimMessage]:
    """The test fleet's messages with every device planned to reboot once, at a fixed clock."""
    messages = generate(
        fleet, MESSAGES, seed=SEED, locator=locator, clock=lambda: NOW, reboot_share=1.0
    )
    return list(messages)


def _is_boot(m: SimMessage) -> bool:
    return isinstance(m.body, DeviceStatus) and m.body.reason == "boot"


def test_reboot_restarts_seq_after_a_boot_status_at_a_later_time(
    every_device_reboots: list[SimMessage], fleet: Fleet, registry: Registry
) -> None:
    """Each device's second boot opens with status online/boot at seq 0, a millisecond after
    every message of its first boot (the fixed clock), and counts on from there."""
    by_boot: dict[str, dict[int, list[Envelope]]] = defaultdict(lambda: defaultdict(list))
    for m in every_device_reboots:
        if m.valid and m.seq is not None:
            env = verdict(m, registry, NOW)
            assert isinstance(env, Envelope)
            by_boot[m.device_id][m.boot].append(env)
    rebooted = {d: boots for d, boots in by_boot.items() if 1 in boots}
    assert len(rebooted) == len(fleet.devices)
    for device_id, boots in rebooted.items():
        first, second = boots[0], boots[1]
        opening = second[0].body
        assert isinstance(opening, DeviceStatus), device_id
        assert (opening.state, opening.reason, second[0].seq) == ("online", "boot", 0)
        assert [e.seq for e in second] == list(range(len(second)))
        assert min(e.ts_ms for e in second) > max(e.ts_ms for e in first), device_id
        assert set(boots) == {0, 1}, "one reboot per device and run"


def test_reboot_every_message_new_to_dedup_and_resets_match_truth(
    every_device_reboots: list[SimMessage], fleet: Fleet, registry: Registry
) -> None:
    """Through the platform's dedup in publishing order: no message is taken for a duplicate,
    and each device's resets equal the truth file's."""
    builder = TruthBuilder(seed=SEED, devices=len(fleet.devices), bad_ratio=0.0, nmea_ratio=0.0)
    trackers: dict[str, SeqTracker] = defaultdict(SeqTracker)
    for m in every_device_reboots:
        builder.add(m)
        if not m.valid or m.seq is None:
            continue
        env = verdict(m, registry, NOW)
        assert isinstance(env, Envelope)
        assert env.seq is not None
        got = trackers[m.device_id].check_seq(
            env.seq, missing_max=1024, reset_distance=100_000, ts_ms=env.ts_ms, boot=_is_boot(m)
        )
        assert got is Verdict.NEW, (m.device_id, m.boot, m.seq)
    truth = builder.build()
    assert {d: t.resets for d, t in trackers.items()} == {d: r.resets for d, r in truth.seq.items()}
    assert sum(r.resets for r in truth.seq.values()) == len(fleet.devices)


def test_reboot_share_zero_reboots_nobody(fleet: Fleet, locator: DistrictIndex) -> None:
    """reboot_share=0: one boot status per device, the first message."""
    messages = generate(
        fleet, MESSAGES, seed=SEED, locator=locator, clock=lambda: NOW, reboot_share=0.0
    )
    boots: dict[str, int] = defaultdict(int)
    for m in messages:
        assert m.boot == 0
        boots[m.device_id] += _is_boot(m)
    assert set(boots.values()) == {1}


def test_reboot_plan_keeps_the_other_faults_of_a_seed(fleet: Fleet) -> None:
    """Planning reboots draws after the other faults: a seed breaks the same fridges, bins and
    connections whatever the reboot share."""
    for device in fleet.devices:
        none = plan_faults(device, random.Random(f"3:faults:{device.device_id}"), reboot_share=0)
        every = plan_faults(device, random.Random(f"3:faults:{device.device_id}"), reboot_share=1)
        assert none.reboot is None
        assert every.reboot is not None
        assert REBOOT_AT_S[0] <= every.reboot.at <= REBOOT_AT_S[1]
        assert (every.fridge, every.overflow, every.outage) == (
            none.fridge,
            none.overflow,
            none.outage,
        )


def test_reboot_during_an_outage_waits_for_the_reconnect(
    fleet: Fleet, locator: DistrictIndex
) -> None:
    """A reboot planned while the device is offline happens after it is back: offline,
    reconnect, then the boot status; nothing in between."""
    sim = Simulation(fleet, seed=SEED, locator=locator, clock=lambda: NOW, reboot_share=0.0)
    device = fleet.devices[0]
    # Before the first timer fires: the boot reads the plan when it schedules the faults.
    sim._runs[0].faults = Faults(outage=Outage(start=100.0, end=400.0), reboot=Reboot(at=200.0))
    timeline: list[str] = []
    for m in sim.messages():
        if m.device_id == device.device_id and isinstance(m.body, DeviceStatus):
            timeline.append(f"{m.body.state}:{m.body.reason}:{m.boot}")
        if sim.sim_time > 500.0:
            break
    assert timeline == [
        "online:boot:0",
        "offline:connection_lost:0",
        "online:reconnect:0",
        "online:boot:1",
    ]


def test_reboot_new_boot_ts_follows_the_clock_once_past_the_floor(
    fleet: Fleet, locator: DistrictIndex
) -> None:
    """The new boot starts a millisecond after the clock's reading at the reboot; once the clock
    passes that, ts is the clock's own reading again."""
    now = [NOW]
    sim = Simulation(fleet, seed=SEED, locator=locator, clock=lambda: now[0], reboot_share=1.0)
    rebooted: str | None = None
    stamps: list[int] = []
    for m in sim.messages():
        if rebooted is None and m.boot == 1:
            rebooted = m.device_id
            stamps.append(_ts_ms(m))
            now[0] = NOW + timedelta(minutes=1)
        elif m.device_id == rebooted and m.seq is not None:
            stamps.append(_ts_ms(m))
            break
    assert stamps == [_ms(NOW) + 1, _ms(NOW + timedelta(minutes=1))]


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _ts_ms(m: SimMessage) -> int:
    ts = json.loads(m.payload)["ts"]
    return ts if isinstance(ts, int) else _ms(datetime.fromisoformat(ts))
