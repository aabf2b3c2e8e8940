"""Declarative payload adapters: a vendor's own JSON mapped onto the platform's messages by a file.

An adapter file (YAML; format in adapters/README.md) names a vendor, a facility and rules: a
topic pattern inside the vendor's subtree, the platform channel it stands for, and how each
platform field is made from the native payload (paths, renames, unit conversions, enum maps,
constants, a small safe arithmetic). The collector loads a folder of them
(``CITYIOT_COLLECTOR_ADAPTERS_DIR``) and maps a matching message before ``schemas.decode``; its
envelope records ``source_format`` ``adapter:<name>``. ``cityiot adapters test`` runs an
adapter over sample payloads and compares with the expected envelopes.

Start with :func:`load_adapters` and :meth:`AdapterSet.match`, then :func:`decode_adapted`.
The engine (``adapter``, ``fields``, ``spec``, ``expr``, ``convert``, ``paths``) is pure;
``load`` and ``conformance`` read files.
"""

from __future__ import annotations

from adapters.adapter import Adapter, AdapterSet, Match, MessageRule, decode_adapted, parse_native
from adapters.conformance import SampleResult, run_samples
from adapters.convert import CONVERSIONS
from adapters.errors import AdapterError
from adapters.load import load_adapter, load_adapters
from adapters.spec import parse_adapter

__all__ = [
    "CONVERSIONS",
    "Adapter",
    "AdapterError",
    "AdapterSet",
    "Match",
    "MessageRule",
    "SampleResult",
    "decode_adapted",
    "load_adapter",
    "load_adapters",
    "parse_adapter",
    "parse_native",
    "run_samples",
]
