"""Reject reasons and the Rejected exception."""

from __future__ import annotations

import pickle

from schemas import Rejected, RejectReason


def test_reject_reason_values_are_the_documented_codes() -> None:
    """The enum holds exactly the codes the dead letter, metrics and docs use."""
    assert {r.value for r in RejectReason} == {
        "bad_topic",
        "too_large",
        "bad_encoding",
        "bad_json",
        "invalid_field",
        "stale_timestamp",
        "unknown_channel",
        "bad_nmea",
        "unknown_device",
        "rate_limited",
        "wrong_vendor",
        "wrong_facility",
    }


def test_rejected_str_names_reason_and_field() -> None:
    """str() leads with the reason code, then the field path."""
    exc = Rejected(RejectReason.INVALID_FIELD, "Input should be >= 0", field="amount_fen")
    assert str(exc) == "invalid_field: amount_fen: Input should be >= 0"
    assert exc.reason is RejectReason.INVALID_FIELD
    assert exc.field == "amount_fen"


def test_rejected_without_field_has_no_field_part() -> None:
    """A whole-message rejection has field None and no dangling colon."""
    exc = Rejected(RejectReason.TOO_LARGE, "payload is 70000 bytes")
    assert exc.field is None
    assert str(exc) == "too_large: payload is 70000 bytes"


def test_rejected_pickles_with_its_attributes() -> None:
    """The exception survives pickling (process pools, test workers)."""
    data = pickle.dumps(Rejected(RejectReason.BAD_JSON, "x", field="f"))
    exc = pickle.loads(data)  # noqa: S301 - our own bytes, just made
    assert (exc.reason, exc.field, exc.detail) == (RejectReason.BAD_JSON, "f", "x")
