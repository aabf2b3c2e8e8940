"""JT/T 808 gateway: BeiDou vehicle terminals over TCP, onto ``mobility/position`` over MQTT.

Read in this order: ``codec`` (framing, escaping, check code, headers of the 2013 and 2019
editions), ``messages`` (the bodies: registration, authentication, location report, the
platform's responses), ``position`` (a report as the platform's JSON, and the seq), ``terminals``
(which terminal is which device; authentication codes), then the I/O: ``session`` (one
connection), ``publisher`` (MQTT) and ``server`` (the TCP server; ``run``). README.md beside
this file is the reference.
"""

from __future__ import annotations

from gateways.jt808.codec import Edition, Frame, Header, decode_frame, encode_frame, split_frames
from gateways.jt808.errors import FrameError, FrameReason
from gateways.jt808.server import Gateway, run
from gateways.jt808.terminals import MappingError

__all__ = [
    "Edition",
    "Frame",
    "FrameError",
    "FrameReason",
    "Gateway",
    "Header",
    "MappingError",
    "decode_frame",
    "encode_frame",
    "run",
    "split_frames",
]
