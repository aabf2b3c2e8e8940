"""JT/T 808 framing: escaping, check code, stream splitting, 2013 and 2019 headers, bad frames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.jt808.codec import (
    MAX_FRAME_BYTES,
    Edition,
    Header,
    checksum,
    decode_frame,
    encode_frame,
    escape,
    normalise_phone,
    split_frames,
    to_bcd,
    unescape,
)
from gateways.jt808.errors import FrameError, FrameReason

# A location report (2013 header) with its check code 0x86, and the platform's general response
# to one (0x8001, check code 0x43): published frames of a terminal vendor (Huabao telematics'
# "JT808 common message parsing" page), complete, so every byte and the check code are verified.
HUABAO_LOCATION = bytes.fromhex(
    "7E0200005200200260432300A40002000000 0C000201 58B91B06CB7061004600000059210922163758"
    "010400000001030200002504000000013001113101 10E30100D51B022002604323279593786160"
    "001220000012342795937861580012867E".replace(" ", "")
)
HUABAO_RESPONSE = bytes.fromhex("7E8001000500200260432300090 0EE020000437E".replace(" ", ""))
# Authentication (0x0102) with the code "8300200260432" and check code 0x13, same page.
HUABAO_AUTHENTICATION = bytes.fromhex("7E0102000D002002604325000138333030323030323630343332137E")


def _content(frame: bytes) -> bytes:
    assert frame[0] == frame[-1] == 0x7E
    return frame[1:-1]


def test_escape_follows_the_standards_example() -> None:
    """0x30 0x7e 0x08 0x7d 0x55 is sent as 0x30 0x7d 0x02 0x08 0x7d 0x01 0x55."""
    assert escape(bytes.fromhex("307e087d55")) == bytes.fromhex("307d02087d0155")
    assert unescape(bytes.fromhex("307d02087d0155")) == bytes.fromhex("307e087d55")


def test_unescape_keeps_an_escaped_7d_before_02() -> None:
    """0x7d 0x02 in the data is sent 0x7d 0x01 0x02 and must not come back as 0x7e."""
    assert escape(b"\x7d\x02") == b"\x7d\x01\x02"
    assert unescape(b"\x7d\x01\x02") == b"\x7d\x02"


@given(st.binary(max_size=300))
def test_escape_round_trip_leaves_no_delimiter(data: bytes) -> None:
    """Any bytes survive escape → unescape, and the escaped form never holds 0x7e."""
    escaped = escape(data)
    assert b"\x7e" not in escaped
    assert unescape(escaped) == data


@pytest.mark.parametrize(
    "escaped", [b"\x7d\x03", b"\x01\x7d", b"\x7d\x7d\x01", b"\x7d\x00"], ids=lambda b: b.hex()
)
def test_unescape_refuses_a_bad_escape(escaped: bytes) -> None:
    """0x7d must be followed by 0x01 or 0x02."""
    with pytest.raises(FrameError) as info:
        unescape(escaped)
    assert info.value.reason is FrameReason.BAD_ESCAPE


def test_checksum_is_the_xor_of_header_and_body() -> None:
    """The published frames' check codes come out of the XOR of what lies before them."""
    for frame in (HUABAO_LOCATION, HUABAO_RESPONSE, HUABAO_AUTHENTICATION):
        data = unescape(_content(frame))
        assert checksum(data[:-1]) == data[-1]
    assert checksum(b"") == 0
    assert checksum(b"\x01\x02\x04") == 0x07


def test_decode_frame_reads_a_2013_location_frame() -> None:
    """Header fields of the published location report, body handed over whole."""
    frame = decode_frame(_content(HUABAO_LOCATION))
    assert frame.header == Header(
        msg_id=0x0200, phone="002002604323", serial=0xA4, edition=Edition.V2013
    )
    assert len(frame.body) == 0x52


def test_encode_frame_gives_the_published_general_response() -> None:
    """Building 0x8001 to serial 0xEE / 0x0200 reproduces the vendor's bytes exactly."""
    header = Header(msg_id=0x8001, phone="002002604323", serial=9)
    assert encode_frame(header, bytes.fromhex("00EE020000")) == HUABAO_RESPONSE


def test_decode_frame_reads_the_domain_vector_header() -> None:
    """DOMAIN.md's vector: 0x0200, body length 0x7A, phone 013306139197, serial 0x0804.

    The vector elides its extra items, so its check code (0xDF) cannot be recomputed here; the
    body is padded to the declared 122 bytes and the check code computed.
    """
    header = bytes.fromhex("0200007A0133061391970804")
    body = bytes(0x7A)
    data = header + body
    frame = decode_frame(escape(data + bytes([checksum(data)])))
    assert (frame.header.msg_id, frame.header.phone, frame.header.serial) == (
        0x0200,
        "013306139197",
        0x0804,
    )
    assert frame.header.edition is Edition.V2013
    assert len(frame.body) == 122


def test_decode_frame_reads_a_2019_header() -> None:
    """Version flag (bit 14), protocol version byte, a 10-byte BCD phone."""
    data = bytes.fromhex("0002400001000000000133061391970007")
    frame = decode_frame(data + bytes([checksum(data)]))
    assert frame.header == Header(
        msg_id=0x0002,
        phone="00000000013306139197",
        serial=7,
        edition=Edition.V2019,
        protocol_version=1,
    )
    assert frame.body == b""


@pytest.mark.parametrize("edition", list(Edition), ids=str)
def test_encode_decode_round_trip_with_packets_and_escapes(edition: Edition) -> None:
    """Every header field survives, including packets, encryption bits and escaped bytes."""
    phone = "013306139197" if edition is Edition.V2013 else "00000000013306139197"
    header = Header(
        msg_id=0x0200,
        phone=phone,
        serial=0x7E7D,
        edition=edition,
        protocol_version=1 if edition is Edition.V2019 else 0,
        encryption=1,
        packets=(3, 2),
    )
    body = b"\x7e\x7d\x00\x7e"
    wire = encode_frame(header, body)
    assert wire.count(b"\x7e") == 2
    frame = decode_frame(_content(wire))
    assert frame.header == header
    assert frame.body == body


def test_encode_frame_refuses_a_body_over_1023_bytes() -> None:
    """Ten bits of length: a longer body would need packets."""
    with pytest.raises(ValueError, match="1023"):
        encode_frame(Header(msg_id=0x0200, phone="1", serial=0), bytes(1024))


def _with_checksum(data: bytes) -> bytes:
    return escape(data + bytes([checksum(data)]))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (_content(HUABAO_LOCATION)[:-1] + b"\x00", FrameReason.BAD_CHECKSUM),
        (b"\x02\x00\x00", FrameReason.TOO_SHORT),
        (_with_checksum(bytes.fromhex("0002000001330613")), FrameReason.TOO_SHORT),
        (_with_checksum(bytes.fromhex("0002000501330613919700010000")), FrameReason.BAD_LENGTH),
        (_with_checksum(bytes.fromhex("00020000013306A391970001")), FrameReason.BAD_BCD),
        (b"\x00\x7d\x05\x00\x00", FrameReason.BAD_ESCAPE),
        (bytes(MAX_FRAME_BYTES + 1), FrameReason.TOO_LARGE),
    ],
    ids=["checksum", "short", "short-header", "length", "bcd", "escape", "large"],
)
def test_decode_frame_refuses_a_malformed_frame(content: bytes, reason: FrameReason) -> None:
    """Each way a frame can be broken has its reason code."""
    with pytest.raises(FrameError) as info:
        decode_frame(content)
    assert info.value.reason is reason


def test_split_frames_cuts_a_stream_and_keeps_the_rest() -> None:
    """Separate and shared delimiters, junk before the first, a frame cut mid-way."""
    frames, rest = split_frames(b"\x7eAB\x7e\x7eCD\x7eEF\x7e\x7eGH")
    assert frames == [b"AB", b"CD", b"EF"]
    assert rest == b"GH"
    frames, rest = split_frames(b"junk\x7eAB\x7e")
    assert frames == [b"junk", b"AB"]
    assert rest == b""
    assert split_frames(b"") == ([], b"")


def test_phone_numbers_of_both_editions_normalise_alike() -> None:
    """013306139197 (2013) and 00000000013306139197 (2019) are one terminal."""
    assert normalise_phone("013306139197") == normalise_phone("00000000013306139197")
    assert normalise_phone("000000000000") == "0"
    assert to_bcd("13306139197", 6) == bytes.fromhex("013306139197")
    with pytest.raises(ValueError, match="digits"):
        to_bcd("1234567890123", 6)
