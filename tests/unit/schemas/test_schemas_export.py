"""JSON Schema and AsyncAPI export, checked against the official meta-schemas."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from schemas_testkit import DATA
from typer.testing import CliRunner

from cityiot.cli.schemas import app
from schemas import MESSAGE_TYPES
from schemas.examples import EXAMPLES
from schemas.export import (
    asyncapi_document,
    json_schemas,
    platform_examples,
    platform_json_schemas,
    write_export,
)
from schemas.topic import DEVICE_ID_PATTERN, VENDOR_PATTERN

ASYNCAPI_SCHEMA = json.loads((DATA / "asyncapi-3.0.0.json").read_text(encoding="utf-8"))
KINDS = [mt.kind for mt in MESSAGE_TYPES]
PLATFORM = ["deadletter", "alert"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@pytest.mark.parametrize("kind", KINDS)
def test_json_schema_is_valid_draft_2020_12(kind: str) -> None:
    """Each exported schema is itself a valid draft 2020-12 schema."""
    schema = json_schemas()[kind]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("kind", KINDS)
def test_json_schema_describes_flat_wire_form(kind: str) -> None:
    """Wire schemas require ts and seq, have no kind tag and refuse unknown fields."""
    schema = json_schemas()[kind]
    assert {"ts", "seq"} <= set(schema["required"])
    assert "kind" not in schema["properties"]
    assert schema["additionalProperties"] is False
    jsonschema.Draft202012Validator(schema).validate(EXAMPLES[kind])


def test_json_schema_money_is_integer() -> None:
    """amount_fen is an integer in the schema, so a float price fails vendor-side validation."""
    sale = json_schemas()["vending_sale"]
    assert sale["properties"]["amount_fen"]["type"] == "integer"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(sale).validate(
            {**EXAMPLES["vending_sale"], "amount_fen": 3.5}
        )


def test_json_schema_ts_accepts_both_forms() -> None:
    """ts is an RFC 3339 string or integer epoch milliseconds in the schema too."""
    validator = jsonschema.Draft202012Validator(json_schemas()["device_status"])
    for ts in ("2025-05-01T12:00:00+08:00", 1746072000000):
        validator.validate({**EXAMPLES["device_status"], "ts": ts})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**EXAMPLES["device_status"], "ts": 1.5})


@pytest.mark.parametrize("name", PLATFORM)
def test_platform_json_schema_is_valid_and_takes_its_examples(name: str) -> None:
    """The dead-letter and alert schemas are valid draft 2020-12 and accept their examples."""
    schema = platform_json_schemas()[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"urn:cityiot:schema:{name}:v1"
    assert schema["additionalProperties"] is False
    assert schema["examples"] == platform_examples()[name]
    for example in schema["examples"]:
        jsonschema.Draft202012Validator(schema).validate(example)


@pytest.mark.parametrize(
    ("index", "changes"),
    [
        (0, {"reason": "influx_rejected"}),
        (0, {"collector_id": None}),
        (1, {"reason": "bad_json"}),
        (1, {"app_id": None}),
        (0, {"reason": "not_a_reason"}),
    ],
    ids=[
        "collector-with-streams-reason",
        "collector-without-id",
        "streams-with-collector-reason",
        "streams-without-app-id",
        "unknown-reason",
    ],
)
def test_deadletter_json_schema_states_per_source_rules(
    index: int, changes: dict[str, Any]
) -> None:
    """The exported schema refuses what the model refuses: a writer's wrong reason or field."""
    schema = platform_json_schemas()["deadletter"]
    record = platform_examples()["deadletter"][index] | changes
    assert not jsonschema.Draft202012Validator(schema).is_valid(record)


def test_asyncapi_valid_against_official_schema() -> None:
    """The AsyncAPI document validates against the official AsyncAPI 3.0.0 JSON Schema."""
    jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).validate(asyncapi_document())


def test_asyncapi_official_schema_catches_errors() -> None:
    """The vendored meta-schema really checks: a wrong action and a QoS of 3 are refused."""
    validator = jsonschema.Draft7Validator(ASYNCAPI_SCHEMA)
    for path, value in ((("action",), "publish"), (("bindings", "mqtt", "qos"), 3)):
        broken = copy.deepcopy(asyncapi_document())
        node = broken["operations"]["sendStatus"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert not validator.is_valid(broken), path


def test_asyncapi_internal_refs_resolve() -> None:
    """Every $ref points at something inside the document."""
    document = asyncapi_document()
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        assert _resolve(document, ref) is not None, ref


def test_asyncapi_channels_follow_topic_grammar() -> None:
    """Addresses are city/{facility}/{vendor}/{device_id}/{channel}, one per facility channel."""
    document = asyncapi_document()
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {
        "city/vending/{vendor}/{device_id}/event",
        "city/vending/{vendor}/{device_id}/telemetry",
        "city/recycling/{vendor}/{device_id}/event",
        "city/recycling/{vendor}/{device_id}/telemetry",
        "city/mobility/{vendor}/{device_id}/position",
        "city/mobility/{vendor}/{device_id}/telemetry",
        "city/store/{vendor}/{device_id}/gate",
        "city/store/{vendor}/{device_id}/event",
        "city/store/{vendor}/{device_id}/telemetry",
        "city/transit/{vendor}/{device_id}/event",
        "city/transit/{vendor}/{device_id}/telemetry",
        "city/{facility}/{vendor}/{device_id}/status",
    }
    params = document["components"]["parameters"]
    assert VENDOR_PATTERN in params["vendor"]["description"]
    assert DEVICE_ID_PATTERN in params["device_id"]["description"]
    for example in params["vendor"]["examples"]:
        assert re.fullmatch(VENDOR_PATTERN, example)


def test_asyncapi_bindings_qos1_status_retained_last_will() -> None:
    """Every operation is QoS 1; only status is retained; the server binding sets a last will."""
    document = asyncapi_document()
    for name, operation in document["operations"].items():
        assert operation["action"] == "send"
        mqtt = operation["bindings"]["mqtt"]
        assert mqtt["qos"] == 1
        assert mqtt["retain"] is (name == "sendStatus")
    will = document["servers"]["production"]["bindings"]["mqtt"]["lastWill"]
    assert will["topic"].endswith("/status")
    assert will["retain"] is True
    assert will["qos"] == 1


def test_asyncapi_message_examples_validate_against_payload_schemas() -> None:
    """Each JSON message example validates against its payload schema as referenced."""
    document = asyncapi_document()
    for message in document["components"]["messages"].values():
        if message["contentType"] != "application/json":
            continue
        schema = {**_resolve(document, message["payload"]["$ref"]), **document}
        for example in message["examples"]:
            jsonschema.Draft7Validator(schema).validate(example["payload"])


def test_write_export_writes_all_files(tmp_path: Path) -> None:
    """write_export writes one schema per kind plus asyncapi.json, all parseable."""
    paths = write_export(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in paths} == {
        *(f"jsonschema/{k}.json" for k in [*KINDS, *PLATFORM]),
        "asyncapi.json",
    }
    assert json.loads((tmp_path / "asyncapi.json").read_text(encoding="utf-8"))["asyncapi"] == (
        "3.0.0"
    )


def test_cli_schemas_export_command(tmp_path: Path) -> None:
    """`cityiot schemas export DIR` writes the files and prints their paths."""
    result = CliRunner().invoke(app, ["export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "jsonschema" / "vending_sale.json").exists()
    assert "asyncapi.json" in result.output
