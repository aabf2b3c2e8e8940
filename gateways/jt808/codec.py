"""JT/T 808 framing and message header, 2013 and 2019 editions (pure: bytes in, values out).

A frame on the wire is ``0x7e | header | body | check code | 0x7e``. Inside the delimiters
0x7e is sent as 0x7d 0x02 and 0x7d as 0x7d 0x01; the check code is the XOR of every header and
body byte. Sending builds, then computes the check code, then escapes; receiving unescapes,
then verifies, then parses (:func:`encode_frame`, :func:`decode_frame`). All numbers are
big-endian. :func:`split_frames` cuts a TCP byte stream into frames.

Header, 2013: message id WORD, body properties WORD (bits 0-9 body length, 10-12 encryption,
13 split into packets, 14 reserved), terminal phone number BCD[6], serial number WORD, then
packet count and packet index (WORD each) when bit 13 is set. 2019 sets bit 14 (version flag),
adds a protocol version BYTE after the properties and widens the phone number to BCD[10].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from functools import reduce
from operator import xor

from gateways.jt808.errors import FrameError, FrameReason

__all__ = [
    "DELIMITER",
    "MAX_BODY_BYTES",
    "MAX_FRAME_BYTES",
    "Edition",
    "Frame",
    "Header",
    "bcd_digits",
    "checksum",
    "decode_frame",
    "encode_frame",
    "escape",
    "normalise_phone",
    "split_frames",
    "to_bcd",
    "unescape",
]

DELIMITER = 0x7E
_ESCAPE = 0x7D
_DELIMITER_BYTE = b"\x7e"
# The body length field has 10 bits.
MAX_BODY_BYTES = 0x3FF
# The longest header (2019, split into packets) is 21 bytes; with the body and the check code,
# every byte escaped to two: no frame between delimiters is longer than this.
MAX_FRAME_BYTES = 2 * (21 + MAX_BODY_BYTES + 1)

_LENGTH_MASK = 0x03FF
_ENCRYPTION_SHIFT = 10
_ENCRYPTION_MASK = 0x07
_PACKETS_BIT = 1 << 13
_VERSION_BIT = 1 << 14

_PHONE_BYTES = {"2013": 6, "2019": 10}
# msg id, properties; then the phone and the serial.
_FIXED = struct.Struct(">HH")
_WORD = struct.Struct(">H")
_PACKETS = struct.Struct(">HH")


class Edition(StrEnum):
    """Which edition of the standard a terminal speaks; a reply uses the terminal's own."""

    V2013 = "2013"
    V2019 = "2019"


@dataclass(frozen=True, slots=True)
class Header:
    """A message header. ``phone`` is the BCD digits as sent (12 in 2013, 20 in 2019)."""

    msg_id: int
    phone: str
    serial: int
    edition: Edition = Edition.V2013
    #: The 2019 protocol version byte (1 for the 2019 edition); 0 in 2013.
    protocol_version: int = 0
    #: Bits 10-12 of the body properties; 0 = plain, bit 10 = RSA.
    encryption: int = 0
    #: (packet count, packet index, from 1) of a message split into packets.
    packets: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    """A received frame: its header and its body."""

    header: Header
    body: bytes


def checksum(data: bytes) -> int:
    """XOR of every byte of ``data`` (the header and the body)."""
    return reduce(xor, data, 0)


def escape(data: bytes) -> bytes:
    """0x7d → 0x7d 0x01 first (the 0x7d the next rule writes must not be escaped again), then
    0x7e → 0x7d 0x02."""
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    """The inverse of :func:`escape`.

    Raises:
        FrameError: BAD_ESCAPE, a 0x7d not followed by 0x01 or 0x02.
    """
    if b"\x7d" not in data:
        return data
    pairs = data.count(b"\x7d\x01") + data.count(b"\x7d\x02")
    if data.count(b"\x7d") != pairs:
        raise FrameError(FrameReason.BAD_ESCAPE, "0x7d not followed by 0x01 or 0x02")
    # 0x7d 0x02 first: done the other way, an escaped 0x7d followed by 0x02 (0x7d 0x01 0x02)
    # would become 0x7d 0x02 and then 0x7e.
    return data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Cut a received byte stream into the escaped contents between 0x7e delimiters.

    Returns the complete contents (without delimiters, empty ones skipped: ``7e 7e`` between two
    frames) and the bytes after the last delimiter, to be prefixed to the next read. Bytes before
    the first delimiter come out as a content of their own and then fail to decode: a stream
    joined mid-frame loses that frame only.
    """
    parts = buffer.split(_DELIMITER_BYTE)
    rest = parts.pop()
    return [part for part in parts if part], rest


def bcd_digits(data: bytes, field: str) -> str:
    """The decimal digits of packed BCD.

    Raises:
        FrameError: BAD_BCD, a nibble above 9.
    """
    digits = data.hex()
    if not digits.isdigit():
        raise FrameError(FrameReason.BAD_BCD, f"{field}: not BCD: {digits}")
    return digits


def to_bcd(digits: str, size: int) -> bytes:
    """``digits`` as packed BCD of ``size`` bytes, left-padded with zeros."""
    if not digits.isdigit() or len(digits) > 2 * size:
        raise ValueError(f"expected at most {2 * size} decimal digits, got {digits!r}")
    return bytes.fromhex(digits.rjust(2 * size, "0"))


def normalise_phone(digits: str) -> str:
    """A terminal's number without its padding zeros: the same terminal in either edition.

    2013 pads an 11-digit mobile number to 12 digits (``013306139197``), 2019 to 20.
    """
    return digits.lstrip("0") or "0"


def _encode_header(header: Header, body_length: int) -> bytes:
    if body_length > MAX_BODY_BYTES:
        raise ValueError(f"body of {body_length} bytes: at most {MAX_BODY_BYTES} per frame")
    properties = body_length | (header.encryption & _ENCRYPTION_MASK) << _ENCRYPTION_SHIFT
    if header.packets is not None:
        properties |= _PACKETS_BIT
    parts = []
    if header.edition is Edition.V2019:
        properties |= _VERSION_BIT
        parts = [_FIXED.pack(header.msg_id, properties), bytes([header.protocol_version])]
    else:
        parts = [_FIXED.pack(header.msg_id, properties)]
    parts.append(to_bcd(header.phone, _PHONE_BYTES[header.edition]))
    parts.append(_WORD.pack(header.serial))
    if header.packets is not None:
        parts.append(_PACKETS.pack(*header.packets))
    return b"".join(parts)


def encode_frame(header: Header, body: bytes = b"") -> bytes:
    """The bytes on the wire, delimiters included: build, check code, then escape."""
    content = _encode_header(header, len(body)) + body
    return b"\x7e" + escape(content + bytes([checksum(content)])) + b"\x7e"


def _decode_header(data: bytes) -> tuple[Header, int, int]:
    """(header, body length, header length) from the unescaped content."""
    if len(data) < _FIXED.size:
        raise FrameError(FrameReason.TOO_SHORT, f"{len(data)} bytes, no header")
    msg_id, properties = _FIXED.unpack_from(data)
    edition = Edition.V2019 if properties & _VERSION_BIT else Edition.V2013
    offset = _FIXED.size
    protocol_version = 0
    if edition is Edition.V2019:
        protocol_version = data[offset] if len(data) > offset else 0
        offset += 1
    phone_size = _PHONE_BYTES[edition]
    has_packets = bool(properties & _PACKETS_BIT)
    header_size = offset + phone_size + _WORD.size + (_PACKETS.size if has_packets else 0)
    if len(data) < header_size:
        raise FrameError(
            FrameReason.TOO_SHORT, f"{len(data)} bytes, a {edition} header needs {header_size}"
        )
    phone = bcd_digits(data[offset : offset + phone_size], "phone")
    offset += phone_size
    (serial,) = _WORD.unpack_from(data, offset)
    offset += _WORD.size
    packets = _PACKETS.unpack_from(data, offset) if has_packets else None
    header = Header(
        msg_id=msg_id,
        phone=phone,
        serial=serial,
        edition=edition,
        protocol_version=protocol_version,
        encryption=properties >> _ENCRYPTION_SHIFT & _ENCRYPTION_MASK,
        packets=packets,
    )
    return header, properties & _LENGTH_MASK, header_size


def decode_frame(content: bytes) -> Frame:
    """One frame from its escaped content (between the delimiters): unescape, verify, parse.

    Raises:
        FrameError: TOO_LARGE, BAD_ESCAPE, TOO_SHORT, BAD_CHECKSUM, BAD_BCD or BAD_LENGTH.
    """
    if len(content) > MAX_FRAME_BYTES:
        raise FrameError(FrameReason.TOO_LARGE, f"{len(content)} bytes between delimiters")
    data = unescape(content)
    if len(data) < _FIXED.size + 1:
        raise FrameError(FrameReason.TOO_SHORT, f"{len(data)} bytes")
    expected = checksum(data[:-1])
    if expected != data[-1]:
        raise FrameError(
            FrameReason.BAD_CHECKSUM, f"check code 0x{data[-1]:02x}, computed 0x{expected:02x}"
        )
    header, body_length, header_size = _decode_header(data[:-1])
    body = data[header_size:-1]
    if len(body) != body_length:
        raise FrameError(
            FrameReason.BAD_LENGTH,
            f"header says {body_length} body bytes, frame has {len(body)}",
        )
    return Frame(header=header, body=body)
