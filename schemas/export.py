"""Contract documents built from the models: JSON Schemas and an AsyncAPI 3.0 file.

Pure builders return dicts; :func:`write_export` writes them. The device schemas and the AsyncAPI
file describe the *wire* form (flat payload with ``ts``/``seq``), which is what a vendor must
produce. The platform's own Kafka messages get a JSON Schema each too: the dead letter
(``city.deadletter.v1``, what a vendor asks operations for when a message was refused) and the
alert (``city.alerts.v1``, what alert consumers read).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.types import Severity
from schemas.alert import ALERT_SCHEMA_VERSION, Alert
from schemas.catalog import MESSAGE_TYPES, MessageType
from schemas.common import SCHEMA_VERSION
from schemas.deadletter import DeadLetter
from schemas.decode import MAX_PAYLOAD_BYTES
from schemas.errors import RejectReason, StreamRejectReason
from schemas.examples import EXAMPLE_DEVICE_IDS, EXAMPLE_VENDORS, EXAMPLES, NMEA_EXAMPLE
from schemas.topic import CHANNELS_BY_FACILITY, DEVICE_ID_PATTERN, VENDOR_PATTERN, Channel, Facility

__all__ = [
    "asyncapi_document",
    "json_schema",
    "json_schemas",
    "platform_examples",
    "platform_json_schemas",
    "write_export",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_MQTT_BINDING_VERSION = "0.2.0"


def _camel(*parts: str) -> str:
    words = "_".join(parts).split("_")
    return words[0] + "".join(w.title() for w in words[1:])


def json_schema(mt: MessageType) -> dict[str, Any]:
    """Standalone JSON Schema (draft 2020-12) of one message type's wire form, with its example."""
    schema = mt.wire.model_json_schema(mode="validation")
    schema["title"] = mt.title
    schema["examples"] = [EXAMPLES[mt.kind]]
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:cityiot:schema:{mt.kind}:v{SCHEMA_VERSION}",
    } | schema


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema per message kind (``vending_sale`` ...)."""
    return {mt.kind: json_schema(mt) for mt in MESSAGE_TYPES}


_EXAMPLE_AT = datetime(2026, 5, 1, 4, 0, 0, 123456, tzinfo=UTC)
# name -> (model, title, schema version): the platform's own Kafka messages.
_PLATFORM_MESSAGES: dict[str, tuple[type[BaseModel], str, int]] = {
    "deadletter": (DeadLetter, "Dead letter (city.deadletter.v1)", 1),
    "alert": (Alert, "Alert state change (city.alerts.v1)", ALERT_SCHEMA_VERSION),
}


def platform_examples() -> dict[str, list[dict[str, Any]]]:
    """Example records of the platform's own messages, built (so validated) by their models."""
    vending_machine = EXAMPLE_DEVICE_IDS["vending"]
    collector = DeadLetter.build(
        reason=RejectReason.BAD_JSON,
        detail="Invalid JSON: key must be a string at line 1 column 2",
        field=None,
        topic=f"city/vending/{EXAMPLE_VENDORS['vending']}/{vending_machine}/telemetry",
        device_id=vending_machine,
        payload=b"{not json",
        payload_limit=262_144,
        collector_id="cityiot-collector-1",
        received_at=_EXAMPLE_AT,
    )
    streams = DeadLetter(
        source="streams",
        reason=StreamRejectReason.INFLUX_REJECTED,
        detail='partial write: field type conflict: input field "amount_fen" is type string, '
        "already exists as type integer",
        app_id="cityiot-streams",
        line='vending_sale,district=330203 amount_fen="x" 1777608000123456000',
        status=400,
        received_at=_EXAMPLE_AT,
    )
    alert = Alert(
        status="firing",
        fingerprint="0123456789abcdef",
        rule="vending-fridge-too-warm",
        rule_type="threshold",
        severity=Severity.WARNING,
        device_id=vending_machine,
        labels={
            "alertname": "vending-fridge-too-warm",
            "severity": "warning",
            "device_id": vending_machine,
            "district": "330203",
        },
        summary_zh="售货机冷藏温度过高：11.0 °C",
        summary_en="Vending machine too warm: 11.0 °C",
        starts_at=_EXAMPLE_AT,
        value=11.0,
    )
    return {
        "deadletter": [collector.model_dump(mode="json"), streams.model_dump(mode="json")],
        "alert": [alert.model_dump(mode="json")],
    }


def platform_json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of the platform's own Kafka messages, with examples:
    ``deadletter`` and ``alert``."""
    examples = platform_examples()
    schemas: dict[str, dict[str, Any]] = {}
    for name, (model, title, version) in _PLATFORM_MESSAGES.items():
        schema = model.model_json_schema(mode="validation")
        schema["title"] = title
        schema["examples"] = examples[name]
        schemas[name] = {
            "$schema": JSON_SCHEMA_DIALECT,
            "$id": f"urn:cityiot:schema:{name}:v{version}",
        } | schema
    return schemas


def _component_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """Payload schemas with $defs hoisted into components (AsyncAPI resolves refs from the root)."""
    components: dict[str, Any] = {}
    payloads: dict[str, Any] = {}
    for mt in MESSAGE_TYPES:
        schema = mt.wire.model_json_schema(
            mode="validation", ref_template="#/components/schemas/{model}"
        )
        components.update(schema.pop("$defs", {}))
        name = mt.wire.__name__
        components[name] = schema
        payloads[mt.kind] = {"$ref": f"#/components/schemas/{name}"}
    return components, payloads


def _parameters() -> dict[str, Any]:
    return {
        "facility": {
            "enum": [f.value for f in Facility],
            "description": "Kind of facility.",
        },
        "vendor": {
            "description": f"Vendor slug `{VENDOR_PATTERN}`; equals the MQTT username.",
            "examples": sorted(set(EXAMPLE_VENDORS.values())),
        },
        "device_id": {
            "description": f"Device id `{DEVICE_ID_PATTERN}`, unique city-wide.",
            "examples": sorted(set(EXAMPLE_DEVICE_IDS.values())),
        },
    }


def _operation_binding(*, retain: bool) -> dict[str, Any]:
    return {"mqtt": {"qos": 1, "retain": retain, "bindingVersion": _MQTT_BINDING_VERSION}}


def _messages(payloads: dict[str, Any]) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for mt in MESSAGE_TYPES:
        messages[_camel(mt.kind)] = {
            "name": mt.kind,
            "title": mt.title,
            "summary": (mt.body.__doc__ or mt.title).strip().splitlines()[0],
            "contentType": "application/json",
            "payload": payloads[mt.kind],
            "examples": [{"name": mt.kind, "payload": EXAMPLES[mt.kind]}],
        }
    messages["mobilityPositionNmea"] = {
        "name": "mobility_position_nmea",
        "title": "Vehicle position (NMEA 0183)",
        "summary": "GGA and/or RMC sentences of one fix, talker GP, GN, BD or GB; CRLF or LF.",
        "contentType": "text/plain",
        "payload": {"type": "string", "pattern": "^\\s*\\$"},
        "examples": [{"name": "gngga_gnrmc", "payload": NMEA_EXAMPLE}],
    }
    return messages


def _channels_and_operations() -> tuple[dict[str, Any], dict[str, Any]]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    device_params = {
        "vendor": {"$ref": "#/components/parameters/vendor"},
        "device_id": {"$ref": "#/components/parameters/device_id"},
    }
    for mt in MESSAGE_TYPES:
        if mt.channel is Channel.STATUS:
            continue
        (facility,) = mt.facilities
        name = _camel(facility.value, mt.channel.value)
        refs = [_camel(mt.kind)]
        if mt.channel is Channel.POSITION:
            refs.append("mobilityPositionNmea")
        channels[name] = {
            "address": f"city/{facility.value}/{{vendor}}/{{device_id}}/{mt.channel.value}",
            "title": mt.title,
            "parameters": device_params,
            "messages": {r: {"$ref": f"#/components/messages/{r}"} for r in refs},
        }
        operations[_camel("send", name)] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{r}"} for r in refs],
            "bindings": _operation_binding(retain=False),
        }
    channels["status"] = {
        "address": "city/{facility}/{vendor}/{device_id}/status",
        "title": "Device status",
        "description": "Retained. Publish `online` after connecting, and set an `offline` status "
        "as the MQTT last will so the broker publishes it if the device drops off.",
        "parameters": {"facility": {"$ref": "#/components/parameters/facility"}, **device_params},
        "messages": {"deviceStatus": {"$ref": "#/components/messages/deviceStatus"}},
    }
    operations["sendStatus"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/status"},
        "messages": [{"$ref": "#/channels/status/messages/deviceStatus"}],
        "bindings": _operation_binding(retain=True),
    }
    return channels, operations


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 description of the device side: what a vendor's devices publish."""
    components, payloads = _component_schemas()
    channels, operations = _channels_and_operations()
    facilities = ", ".join(
        f"{f.value} ({', '.join(sorted(c.value for c in cs))})"
        for f, cs in CHANNELS_BY_FACILITY.items()
    )
    mqtt_server_binding = {
        "mqtt": {
            "cleanSession": False,
            "keepAlive": 60,
            "lastWill": {
                "topic": "city/{facility}/{vendor}/{device_id}/status",
                "qos": 1,
                "message": '{"ts": <connect time>, "seq": <n>, "state": "offline", '
                '"reason": "connection_lost"}',
                "retain": True,
            },
            "maximumPacketSize": MAX_PAYLOAD_BYTES + 1024,
            "bindingVersion": _MQTT_BINDING_VERSION,
        }
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "cityiot device API",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": "What smart public facilities in Ningbo publish to the city platform. "
            f"Topic: city/{{facility}}/{{vendor}}/{{device_id}}/{{channel}}; facilities and "
            f"channels: {facilities}. Every message at QoS 1, at most {MAX_PAYLOAD_BYTES} bytes.",
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "{broker}:8883",
                "protocol": "mqtts",
                "protocolVersion": "5",
                "description": "MQTT 5 or 3.1.1 over TLS; username = vendor slug.",
                "variables": {"broker": {"description": "Broker host name given at onboarding."}},
                "security": [{"$ref": "#/components/securitySchemes/vendorPassword"}],
                "bindings": mqtt_server_binding,
            },
            "local": {
                "host": "127.0.0.1:1883",
                "protocol": "mqtt",
                "protocolVersion": "5",
                "description": "The embedded development broker (`cityiot services up`).",
                "bindings": mqtt_server_binding,
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": components,
            "messages": _messages(payloads),
            "parameters": _parameters(),
            "securitySchemes": {
                "vendorPassword": {
                    "type": "userPassword",
                    "description": "MQTT username = vendor slug, password issued at onboarding.",
                }
            },
        },
    }


def write_export(directory: Path) -> list[Path]:
    """Write ``jsonschema/<kind>.json`` (device messages, then ``deadletter`` and ``alert``) and
    ``asyncapi.json`` under ``directory``; return paths."""
    out_dir = directory / "jsonschema"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, schema in (json_schemas() | platform_json_schemas()).items():
        written.append(_write(out_dir / f"{kind}.json", schema))
    written.append(_write(directory / "asyncapi.json", asyncapi_document()))
    return written


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
