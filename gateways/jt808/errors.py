"""Why a JT/T 808 frame or message was refused: one error, one reason code per way to fail."""

from __future__ import annotations

from enum import StrEnum

from core.errors import CityiotError

__all__ = ["FrameError", "FrameReason"]


class FrameReason(StrEnum):
    """The label of ``cityiot_gateway_jt808_frames_rejected_total`` and of the log line."""

    #: 0x7d followed by anything but 0x01 or 0x02, or a 0x7d ending the frame.
    BAD_ESCAPE = "bad_escape"
    #: The XOR of header and body differs from the check code: corrupt, dropped unanswered.
    BAD_CHECKSUM = "bad_checksum"
    #: Shorter than a header and a check code.
    TOO_SHORT = "too_short"
    #: More bytes between two 0x7e than any frame can have (1023-byte body, all escaped).
    TOO_LARGE = "too_large"
    #: The body's length differs from the header's body properties.
    BAD_LENGTH = "bad_length"
    #: A BCD field (phone number, time) holds a nibble above 9, or the time is no date.
    BAD_BCD = "bad_bcd"
    #: A message body too short or malformed for its message id.
    BAD_BODY = "bad_body"
    #: Encrypted (RSA) or split into packets: valid, but this gateway does not take it.
    UNSUPPORTED = "unsupported"


class FrameError(CityiotError):
    """A frame or message body breaks JT/T 808; ``reason`` says how."""

    def __init__(self, reason: FrameReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")
