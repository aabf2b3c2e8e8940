"""Benchmark: what an adapter costs per message, against the same message in platform JSON.

    .venv/bin/python bench/adapter_cost.py [--messages 20000] [--repeat 5]

No servers: the collector's pure pipeline (``Pipeline.route``: topic, binding, decode, enrichment,
serialisation) runs over the same vending sale twice, once as platform JSON on
``city/vending/acme/<id>/event`` and once in acme's own format on ``.../data`` through the
example adapter ``adapters/examples/acme-v2.yaml`` (parse the native JSON, map 11 fields with a
nested path, a conversion, two enum maps, then the same decode). Prints microseconds per message,
the best of ``--repeat`` runs (the machine is shared: the best is the least disturbed), and the
adapter's extra cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and bench/streams.py would shadow
# the streams package that core.settings imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

from adapters import load_adapters
from collectors.pipeline import Inbound, Pipeline
from schemas import DeviceRecord, Registry

EXAMPLES = Path(__file__).resolve().parents[1] / "adapters" / "examples"
DEVICES = 500


def _messages(count: int, *, native: bool) -> list[Inbound]:
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        device = f"VM-{i % DEVICES:04d}"
        if native:
            topic = f"city/vending/acme/{device}/data"
            body = {
                "t": int(now.timestamp()),
                "n": i,
                "order": 100_000 + i,
                "price_yuan": 3.5,
                "pay": "WX",
                "status": 0,
                "item": {"code": "6901939621608", "cat": "drink", "qty": 1, "lane": "A3"},
            }
        else:
            topic = f"city/vending/acme/{device}/event"
            body = {
                "ts": now.isoformat(timespec="milliseconds"),
                "seq": i,
                "v": 1,
                "txn_id": str(100_000 + i),
                "sku": "6901939621608",
                "category": "soft_drink",
                "quantity": 1,
                "amount_fen": 350,
                "payment": "wechat",
                "outcome": "success",
                "slot": "A3",
            }
        out.append(Inbound(topic, json.dumps(body).encode(), now, 0.0))
    return out


def _pipeline() -> Pipeline:
    registry = Registry(
        [
            DeviceRecord(
                device_id=f"VM-{i:04d}",
                facility="vending",
                vendor="acme",
                district_adcode="330203",
                lat=29.8597,
                lon=121.5505,
                expected_interval_s=300,
            )
            for i in range(DEVICES)
        ]
    )
    return Pipeline(
        collector_id="bench",
        registry=registry,
        districts=None,
        adapters=load_adapters(EXAMPLES),
    )


def _best_us(pipeline: Pipeline, messages: list[Inbound], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for msg in messages:
            routed = pipeline.route(msg)
        elapsed = time.perf_counter() - start
        assert routed.kind == "event", routed.value
        best = min(best, elapsed / len(messages) * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pipeline = _pipeline()
    platform = _best_us(pipeline, _messages(args.messages, native=False), args.repeat)
    adapted = _best_us(pipeline, _messages(args.messages, native=True), args.repeat)
    print(f"platform json   {platform:6.1f} µs/msg")
    print(
        f"adapter acme-v2 {adapted:6.1f} µs/msg  (+{adapted - platform:.1f} µs, "
        f"x{adapted / platform:.2f})"
    )


if __name__ == "__main__":
    main()
