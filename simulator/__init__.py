"""The device side: a deterministic fleet of Ningbo's public facilities and its ground truth.

Start with :func:`build_fleet` (devices, registry) and :func:`generate` (labelled messages without
MQTT), then :func:`run` (publish to a broker and write the truth file). Behaviours live one per
facility in ``simulator.behaviours``; ``cityiot simulate`` is the command.
"""

from __future__ import annotations

from simulator.bad import BAD_REASONS
from simulator.engine import Simulation, generate
from simulator.fleet import Device, Fleet, build_fleet
from simulator.message import SimMessage
from simulator.run import RunOptions, run
from simulator.truth import Truth, TruthBuilder

__all__ = [
    "BAD_REASONS",
    "Device",
    "Fleet",
    "RunOptions",
    "SimMessage",
    "Simulation",
    "Truth",
    "TruthBuilder",
    "build_fleet",
    "generate",
    "run",
]
