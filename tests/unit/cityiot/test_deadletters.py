"""Dead letters chosen, counted and routed again (cityiot/deadletters.py, cityiot/replay.py): the
pure parts, with the collector's real pipeline and no server."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cityiot.deadletters import UNREADABLE, Letter, Selection, parse_time, summarise
from cityiot.replay import Outcome, replay_pipeline, route_letters
from collectors.pipeline import Inbound, Pipeline
from core.settings import Settings
from schemas import DeadLetter, DeviceRecord, Envelope, Facility, Registry, RejectReason
from schemas.examples import EXAMPLES

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
PREFIX = "city"
LATENESS_S = 600


def _collector_letter(
    offset: int,
    *,
    device: str = "VM-1",
    vendor: str = "ubox",
    seq: int = 1,
    reason: RejectReason = RejectReason.UNKNOWN_DEVICE,
    received_at: datetime = NOW,
    redelivered: bool = False,
    payload_limit: int = 262_144,
) -> Letter:
    ts = (received_at - timedelta(seconds=1)).isoformat()
    payload = json.dumps({**EXAMPLES["vending_sale"], "ts": ts, "seq": seq}).encode()
    record = DeadLetter.build(
        reason=reason,
        detail="x",
        field=None,
        topic=f"{PREFIX}/vending/{vendor}/{device}/event",
        device_id=device,
        payload=payload,
        payload_limit=payload_limit,
        collector_id="c-1",
        received_at=received_at,
        redelivered=redelivered,
    )
    return Letter(0, offset, record.model_dump_json().encode(), record)


def _streams_letter(offset: int) -> Letter:
    record = DeadLetter(
        source="streams",
        reason="influx_rejected",
        detail="field type conflict",
        app_id="cityiot-streams",
        line="m f=1i 1",
        status=400,
        received_at=NOW,
    )
    return Letter(1, offset, record.model_dump_json().encode(), record)


def _pipeline(*records: DeviceRecord) -> Pipeline:
    return Pipeline(collector_id="replay", registry=Registry(records), districts=None)


def _machine(device: str = "VM-1", vendor: str = "ubox") -> DeviceRecord:
    return DeviceRecord(
        device_id=device,
        facility=Facility.VENDING,
        vendor=vendor,
        district_adcode="330203",
        lat=29.8683,
        lon=121.5440,
        expected_interval_s=300,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        ("2026-05-01T09:30:00+08:00", datetime(2026, 5, 1, 1, 30, tzinfo=UTC)),
        ("2026-05-01T06:00:00Z", datetime(2026, 5, 1, 6, 0, tzinfo=UTC)),
        ("2026-05-01T06:00", datetime(2026, 5, 1, 6, 0, tzinfo=UTC)),
    ],
    ids=["hours", "days", "offset", "zulu", "naive-is-utc"],
)
def test_parse_time_takes_iso_and_spans(text: str, expected: datetime) -> None:
    """ISO-8601 (no offset: UTC) and spans back from now."""
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "-1d", "2026-13-01"])
def test_parse_time_refuses_anything_else(text: str) -> None:
    """Neither form: ValueError (the CLI names the option)."""
    with pytest.raises(ValueError, match="not an ISO-8601 time or a duration"):
        parse_time(text, now=NOW)


def test_selection_filters_reason_vendor_and_time() -> None:
    """Each filter alone, and together; an unreadable record passes only with no filter."""
    letters = [
        _collector_letter(0, vendor="ubox", received_at=NOW - timedelta(hours=3)),
        _collector_letter(1, vendor="nbvend", reason=RejectReason.BAD_JSON),
        _collector_letter(2, vendor="ubox"),
        _streams_letter(3),
        Letter(0, 4, b"not json", None),
    ]

    def offsets(selection: Selection) -> list[int]:
        return [letter.offset for letter in selection.select(letters)]

    assert offsets(Selection()) == [0, 1, 2, 3, 4]
    assert offsets(Selection(reasons=frozenset({"unknown_device"}))) == [0, 2]
    assert offsets(Selection(vendors=frozenset({"ubox"}))) == [0, 2]
    assert offsets(Selection(since=NOW - timedelta(hours=1))) == [1, 2, 3]
    assert offsets(Selection(until=NOW - timedelta(hours=1))) == [0]
    both = Selection(reasons=frozenset({"unknown_device"}), since=NOW - timedelta(hours=1))
    assert offsets(both) == [2]


def test_summarise_counts_per_reason_and_vendor() -> None:
    """Counts per (reason, vendor); no vendor (streams, unreadable) shows as '-'."""
    letters = [
        _collector_letter(0),
        _collector_letter(1),
        _collector_letter(2, vendor="nbvend"),
        _streams_letter(3),
        Letter(0, 4, b"{}", None),
    ]
    summary = summarise(letters, prefix=PREFIX)
    assert summary.counts == {
        ("influx_rejected", "-"): 1,
        ("unknown_device", "nbvend"): 1,
        ("unknown_device", "ubox"): 2,
        (UNREADABLE, "-"): 1,
    }
    assert summary.total == 5


def test_route_letters_sends_what_passes_now_as_the_collector_would() -> None:
    """A registered device's dead letter becomes the collector's own record: same key, same
    envelope, the original received_at."""
    letter = _collector_letter(0, received_at=NOW - timedelta(minutes=5))
    pipeline = _pipeline(_machine())
    (step,) = route_letters([letter], pipeline, now=NOW, lateness_s=LATENESS_S)
    assert step.outcome is Outcome.REPLAYED
    assert letter.record is not None
    assert letter.record.topic is not None
    assert letter.record.payload is not None
    direct = pipeline.route(
        Inbound(letter.record.topic, letter.record.payload, letter.record.received_at, 0.0)
    )
    assert (step.key, step.value) == (direct.key, direct.value)
    assert not step.late
    envelope = Envelope.model_validate_json(step.value)
    assert envelope.received_at == NOW - timedelta(minutes=5)
    assert envelope.enrichment is not None
    assert envelope.enrichment.district_adcode == "330203"


def test_route_letters_reports_the_new_reason_of_what_still_fails() -> None:
    """Registered to another vendor now: still failing, as wrong_vendor; unregistered: the
    same reason."""
    letters = [
        _collector_letter(0, device="VM-1"),
        _collector_letter(1, device="VM-2"),
        _collector_letter(2, device="VM-3"),
    ]
    pipeline = _pipeline(_machine("VM-1", vendor="nbvend"), _machine("VM-3"))
    steps = route_letters(letters, pipeline, now=NOW, lateness_s=LATENESS_S)
    assert [(s.outcome, s.reason) for s in steps] == [
        (Outcome.FAILING, "wrong_vendor"),
        (Outcome.FAILING, "unknown_device"),
        (Outcome.REPLAYED, None),
    ]
    assert "registered to another vendor" in steps[0].detail


def test_route_letters_skips_streams_truncated_unreadable_and_repeats() -> None:
    """Only whole device messages are replayed, and a broker's redelivery only once."""
    first = _collector_letter(0, seq=7)
    again = Letter(0, 1, first.raw, first.record.model_copy(update={"redelivered": True}))  # type: ignore[union-attr]
    letters = [
        first,
        again,
        _streams_letter(2),
        _collector_letter(3, seq=8, payload_limit=10),
        Letter(0, 4, b"garbage", None),
    ]
    steps = route_letters(letters, _pipeline(_machine()), now=NOW, lateness_s=LATENESS_S)
    assert [(s.outcome, s.reason) for s in steps] == [
        (Outcome.REPLAYED, None),
        (Outcome.SKIPPED, "repeat"),
        (Outcome.SKIPPED, "streams"),
        (Outcome.SKIPPED, "truncated"),
        (Outcome.SKIPPED, "unreadable"),
    ]


def test_replay_pipeline_has_no_rate_limits(tmp_path: Path) -> None:
    """A burst of one device's old messages passes a replay even where collectors limit it."""
    registry = tmp_path / "registry.csv"
    Registry([_machine()]).write_csv(registry)
    settings = Settings(
        registry_path=registry,
        collector={"rate_limit_per_s": 1.0, "rate_limit_burst": 1, "vendor_rate_limit_per_s": 1.0},
    )
    letters = [_collector_letter(i, seq=i + 1) for i in range(20)]
    steps = route_letters(letters, replay_pipeline(settings), now=NOW, lateness_s=LATENESS_S)
    assert {s.outcome for s in steps} == {Outcome.REPLAYED}


@pytest.mark.parametrize(
    ("age", "late", "received_at"),
    [
        # Device time is 1 s before the receive time: 07:54:59 → window 07:54-07:55.
        (timedelta(minutes=5), False, "original"),
        # Device time 07:49:59: window 07:49-07:50 closes for good at 08:00:00, NOW: still open.
        (timedelta(minutes=10), False, "original"),
        # Window 05:59-06:00 closed at 06:10: received late from then on.
        (timedelta(hours=2), True, datetime(2026, 5, 1, 6, 10, 1, tzinfo=UTC)),
    ],
    ids=["window-open", "window-closing-now", "window-closed"],
)
def test_route_letters_marks_late_what_a_closed_window_would_lose(
    age: timedelta, late: bool, received_at: datetime | str
) -> None:
    """A message whose window has closed for good is received just past the lateness: the
    stream writes it raw and leaves the closed roll-up as it was."""
    letter = _collector_letter(0, received_at=NOW - age)
    (step,) = route_letters([letter], _pipeline(_machine()), now=NOW, lateness_s=LATENESS_S)
    assert step.outcome is Outcome.REPLAYED
    assert step.late is late
    expected = NOW - age if received_at == "original" else received_at
    assert Envelope.model_validate_json(step.value).received_at == expected


def test_route_letters_keeps_what_was_late_already() -> None:
    """Received late the first time: late again, its receive time untouched."""
    letter = _collector_letter(0, received_at=NOW - timedelta(hours=2))
    assert letter.record is not None
    payload = json.loads(letter.record.payload or b"")
    payload["ts"] = (NOW - timedelta(hours=3)).isoformat()
    record = letter.record.model_copy(
        update={"payload_b64": base64.b64encode(json.dumps(payload).encode()).decode()}
    )
    (step,) = route_letters(
        [Letter(0, 0, b"", record)], _pipeline(_machine()), now=NOW, lateness_s=LATENESS_S
    )
    assert step.late
    assert Envelope.model_validate_json(step.value).received_at == NOW - timedelta(hours=2)
