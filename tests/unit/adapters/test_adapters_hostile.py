"""Whatever a device sends, an adapter returns an Envelope or raises Rejected: never a crash
(the collector stops on any other exception, taking it for a bug)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import decode_adapted, load_adapters
from schemas import Envelope, Rejected

EXAMPLES = Path(__file__).resolve().parents[3] / "adapters" / "examples"
ADAPTERS = load_adapters(EXAMPLES)
SAMPLES = sorted(
    p for p in (EXAMPLES / "samples").rglob("*.json") if not p.name.endswith(".expected.json")
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document (keys of objects, indexes of arrays)."""
    out = [at]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _paths(inner, (*at, index))
    return out


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


@settings(max_examples=400, deadline=None)
@given(sample=st.sampled_from(SAMPLES), data=st.data(), value=JSON_VALUES)
def test_decode_adapted_any_value_anywhere_is_envelope_or_rejected(
    sample: Path, data: st.DataObject, value: Any
) -> None:
    """One value of a golden payload replaced by any JSON value: an Envelope or Rejected."""
    expected = json.loads(sample.with_name(sample.stem + ".expected.json").read_text())
    document = json.loads(sample.read_text())
    path = data.draw(st.sampled_from(_paths(document)))
    payload = json.dumps(_replace(document, path, value)).encode()
    match = ADAPTERS.match(expected["topic"])
    assert match is not None
    result: Envelope | Rejected
    try:
        result = decode_adapted(
            match, payload, received_at=datetime.fromisoformat(expected["received_at"])
        )
    except Rejected as exc:
        result = exc
    assert isinstance(result, Envelope | Rejected)
    if isinstance(result, Rejected):
        assert "\n" not in result.detail
