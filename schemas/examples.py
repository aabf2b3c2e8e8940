"""One canonical wire example per message type: used by the export, the docs and golden tests.

Times are Beijing time (UTC+8), as Ningbo devices usually send them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXAMPLES", "EXAMPLE_DEVICE_IDS", "EXAMPLE_VENDORS", "NMEA_EXAMPLE"]

EXAMPLES: dict[str, dict[str, Any]] = {
    "vending_sale": {
        "ts": "2025-05-01T12:05:31.250+08:00",
        "seq": 10482,
        "v": 1,
        "txn_id": "T20250501120531-0042",
        "sku": "6901939621608",
        "category": "soft_drink",
        "quantity": 1,
        "amount_fen": 350,
        "payment": "wechat",
        "outcome": "success",
        "slot": "A3",
    },
    "vending_telemetry": {
        "ts": "2025-05-01T12:05:00+08:00",
        "seq": 10481,
        "v": 1,
        "temperature_c": 6.5,
        "door_open": False,
        "stock_pct": 72.5,
        "slots": [{"slot": "A1", "stock_pct": 80.0}, {"slot": "A3", "stock_pct": 10.0}],
        "signal_dbm": -85,
        "error_codes": ["EJH"],
    },
    "recycling_dropoff": {
        "ts": 1746072331000,
        "seq": 5521,
        "v": 1,
        "txn_id": "D-330212-000931",
        "category": "recyclable",
        "subtype": "paper",
        "weight_kg": 0.48,
        "resident_ref": "r:9f86d081884c7d65",
        "points_awarded": 5,
        "payout_fen": 38,
    },
    "recycling_telemetry": {
        "ts": "2025-05-01T12:00:00+08:00",
        "seq": 5520,
        "v": 1,
        "bins": [
            {"category": "recyclable", "filling_level_pct": 64.0, "bin_id": "B1"},
            {"category": "kitchen", "filling_level_pct": 88.5, "bin_id": "B2"},
            {"category": "hazardous", "filling_level_pct": 12.0, "bin_id": "B3"},
            {"category": "other", "filling_level_pct": 40.0, "bin_id": "B4"},
        ],
        "temperature_c": 24.0,
        "smoke_alarm": False,
        "compactor": "idle",
    },
    "mobility_position": {
        "ts": "2025-05-01T12:05:30+08:00",
        "seq": 88120,
        "v": 1,
        "lat": 29.871623,
        "lon": 121.548712,
        "speed_kmh": 12.6,
        "heading_deg": 87.5,
        "satellites": 21,
        "hdop": 0.8,
        "fix": "gps",
        "battery_pct": 64.0,
        "state": "in_use",
        "asset_type": "ebike",
    },
    "mobility_telemetry": {
        "ts": "2025-05-01T12:05:30+08:00",
        "seq": 88121,
        "v": 1,
        "battery_pct": 63.5,
        "state": "in_use",
        "odometer_km": 1832.4,
        "signal_dbm": -91,
    },
    "store_gate": {
        "ts": "2025-05-01T11:42:07+08:00",
        "seq": 3310,
        "v": 1,
        "gate_id": "G1",
        "direction": "inbound",
        "method": "face",
        "visitor_ref": "v:5e884898da280471",
    },
    "store_checkout": {
        "ts": "2025-05-01T11:49:55.120+08:00",
        "seq": 3318,
        "v": 1,
        "txn_id": "S20250501114955-0117",
        "lines": [
            {"sku": "6921168509256", "category": "beverage", "quantity": 2, "price_fen": 200},
            {"sku": "6954767412573", "category": "dairy", "quantity": 1, "price_fen": 650},
            {"sku": "6923450605332", "category": "snack", "quantity": 1, "price_fen": 890},
        ],
        "discount_fen": 100,
        "amount_fen": 1840,
        "payment": "ecny",
        "outcome": "success",
        "visitor_ref": "v:5e884898da280471",
    },
    "store_telemetry": {
        "ts": "2025-05-01T11:50:00+08:00",
        "seq": 3319,
        "v": 1,
        "people_count": 7,
        "occupancy_pct": 35.0,
        "cabinets": [
            {"cabinet_id": "C1", "temperature_c": 3.8, "set_point_c": 4.0},
            {"cabinet_id": "F1", "temperature_c": -18.5, "set_point_c": -18.0},
        ],
        "gates": [{"gate_id": "G1", "fault": False}, {"gate_id": "G2", "fault": False}],
        "signal_dbm": -78,
    },
    "transit_tap": {
        "ts": "2025-05-01T08:12:44.530+08:00",
        "seq": 77120,
        "v": 1,
        "txn_id": "M1-12-G03-0088213",
        "tap": "out",
        "mode": "metro",
        "line_id": "M1",
        "stop_id": "M1-12",
        "medium": "qr",
        "medium_ref": "m:3c59dc048e885024",
        "payment": "alipay",
        "fare_fen": 400,
        "transfer_discount": False,
        "captured_offline": False,
    },
    "transit_telemetry": {
        "ts": "2025-05-01T08:10:00+08:00",
        "seq": 77100,
        "v": 1,
        "mode": "metro",
        "in_service": True,
        "reader_fault": False,
        "queued_taps": 0,
        "signal_dbm": -70,
        "temperature_c": 27.5,
    },
    "device_status": {
        "ts": "2025-05-01T07:58:02+08:00",
        "seq": 0,
        "v": 1,
        "state": "online",
        "reason": "boot",
        "firmware": "vmc-2.4.1",
    },
}

# A BDS+GPS module's epoch, as sent on the position channel (checksums valid).
NMEA_EXAMPLE = (
    "$GNGGA,072353.000,3032.2149,N,10412.5192,E,1,09,1.3,509.4,M,0.0,M,,*74\r\n"
    "$GNRMC,072353.000,A,3032.2149,N,10412.5192,E,7.74,50.28,290918,,,A*45\r\n"
)

EXAMPLE_VENDORS = {
    "vending": "nbvend",
    "recycling": "greenbox",
    "mobility": "citybike",
    "store": "bingobox",
    "transit": "nbmetro",
}
EXAMPLE_DEVICE_IDS = {
    "vending": "VM-330203-0001",
    "recycling": "RS-330212-0007",
    "mobility": "EB-0042817",
    "store": "ST-330212-0003",
    "transit": "TV-330203-0012",
}
