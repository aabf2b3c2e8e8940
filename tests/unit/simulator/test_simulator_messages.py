"""Generated messages against the contract: valid ones decode, malformed ones fail as labelled."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime

import pytest
from simulator_testkit import NOW, SEED, verdict

from schemas import (
    CHANNELS_BY_FACILITY,
    DistrictIndex,
    Envelope,
    Facility,
    Registry,
    RejectReason,
    encode,
)
from simulator import BAD_REASONS, Fleet, SimMessage, generate
from simulator.fleet import build_fleet


def test_generate_valid_messages_pass_decode(
    messages: list[SimMessage], registry: Registry
) -> None:
    """Every message labelled valid decodes and comes from a registered device."""
    valid = [m for m in messages if m.valid]
    assert len(valid) > 5000
    for msg in valid:
        result = verdict(msg, registry, NOW)
        assert isinstance(result, Envelope), (msg.topic, msg.payload[:200], result)
        assert result.device_id == msg.device_id
        assert result.seq == msg.seq


def test_generate_bad_messages_rejected_with_labelled_reason(
    messages: list[SimMessage], registry: Registry
) -> None:
    """Every malformed message is rejected with exactly the reason it is labelled with."""
    bad = [m for m in messages if not m.valid]
    assert bad
    for msg in bad:
        assert verdict(msg, registry, NOW) == msg.reason, (
            msg.variant,
            msg.topic,
            msg.payload[:200],
        )


def test_generate_bad_messages_cover_every_reason(messages: list[SimMessage]) -> None:
    """Each reject reason but rate_limited appears, with several variants where there are some."""
    reasons = Counter(m.reason for m in messages if not m.valid)
    assert set(reasons) == set(BAD_REASONS)
    assert RejectReason.RATE_LIMITED not in reasons
    variants = defaultdict(set)
    for m in messages:
        if m.reason is not None:
            variants[m.reason].add(m.variant)
    assert len(variants[RejectReason.BAD_NMEA]) >= 5
    assert len(variants[RejectReason.BAD_JSON]) >= 5


def test_generate_bad_ratio_and_nmea_ratio_are_respected(messages: list[SimMessage]) -> None:
    """About 10 % malformed and 30 % of valid positions as NMEA, as asked."""
    bad_share = sum(not m.valid for m in messages) / len(messages)
    positions = [m for m in messages if m.valid and m.channel == "position"]
    nmea_share = sum(m.source_format == "nmea" for m in positions) / len(positions)
    assert 0.08 < bad_share < 0.12
    assert 0.25 < nmea_share < 0.35


def test_generate_seq_is_gap_free_per_device(messages: list[SimMessage]) -> None:
    """Valid JSON messages number 0, 1, 2... per device and boot; bad and NMEA ones consume no
    seq."""
    seqs: dict[tuple[str, int], list[int]] = defaultdict(list)
    for m in messages:
        if m.valid and m.seq is not None:
            seqs[(m.device_id, m.boot)].append(m.seq)
    assert any(boot for _, boot in seqs), "some device rebooted"
    for device_boot, got in seqs.items():
        assert got == list(range(len(got))), device_boot


def test_generate_same_seed_same_bytes(fleet: Fleet, locator: DistrictIndex) -> None:
    """Same seed and clock: identical messages; another seed: different ones."""

    def run(seed: int) -> list[tuple[str, bytes]]:
        gen = generate(fleet, 800, seed=seed, locator=locator, bad_ratio=0.1, nmea_ratio=0.3,
                       clock=lambda: NOW)  # fmt: skip
        return [(m.topic, m.payload) for m in gen]

    assert run(SEED) == run(SEED)
    assert run(SEED) != run(SEED + 1)


def test_build_fleet_same_seed_same_fleet(locator: DistrictIndex, fleet: Fleet) -> None:
    """The fleet is a function of the seed."""
    again = build_fleet(len(fleet.devices), seed=SEED, locator=locator, will_devices=2)
    assert again == fleet


def test_encode_wire_matches_schemas_encode(messages: list[SimMessage]) -> None:
    """The fast encoder produces the same JSON object as the contract's own encoder."""
    for m in messages:
        if m.valid and m.body is not None and m.source_format == "json":
            wire = json.loads(m.payload)
            # NOW, or a millisecond later in a rebooted device's new boot (simulator.engine).
            ts = wire["ts"] if isinstance(wire["ts"], int) else datetime.fromisoformat(wire["ts"])
            assert json.loads(encode(m.body, ts=ts, seq=wire["seq"])) == wire


@pytest.mark.parametrize("facility", [f.value for f in Facility], ids=str)
def test_generate_every_facility_publishes_its_channels(
    messages: list[SimMessage], facility: str
) -> None:
    """Each facility sends every channel the topic grammar gives it."""
    channels = {m.channel for m in messages if m.valid and m.facility.value == facility}
    assert channels == {c.value for c in CHANNELS_BY_FACILITY[Facility(facility)]}
