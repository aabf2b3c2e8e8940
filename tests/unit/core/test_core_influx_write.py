"""The writers' error classification and auth, over real sockets to a scripted HTTP server.

Retry (InfluxUnavailable) or dead-letter (InfluxRejected) is the sink's whole decision: a wrong
class either drops good data or blocks a worker forever on bad data.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from influx_http import Answer, Scripted, scripted_server
from pydantic import SecretStr

from cityiot.local.ports import free_port
from core.influx import (
    InfluxAuthError,
    InfluxError,
    InfluxRejected,
    InfluxTarget,
    InfluxUnavailable,
    V1Writer,
    V2Writer,
)
from core.influx.target import MASK

LINES = ["m,device=d1 v=1 1000000000", "m,device=d2 v=2 1000000000"]
PASSWORD = "pa55-word"
TOKEN = "tok-3n"


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def _v1_write(target: InfluxTarget, lines: list[str], *, timeout_s: float = 10.0) -> None:
    writer = V1Writer(target, timeout_s=timeout_s)
    await writer.start()
    try:
        await writer.write(lines)
    finally:
        await writer.close()


def _write(server: Scripted, **credentials: Any) -> None:
    asyncio.run(_v1_write(InfluxTarget(url=server.url, database="city", **credentials), LINES))


def test_v1_write_posts_lines_with_nanosecond_precision() -> None:
    """A 204 returns; the lines went to POST /write?db=...&precision=ns, one per line."""
    with scripted_server({"/write": Answer(204)}) as server:
        _write(server)
    (request,) = server.on("/write")
    assert request.method == "POST"
    assert request.query == {"db": "city", "precision": "ns"}
    assert request.body.decode() == "\n".join(LINES)
    assert request.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_v1_write_start_creates_the_database() -> None:
    """start() sends CREATE DATABASE, so a fresh InfluxDB 1.x takes the first write."""
    with scripted_server({}) as server:
        _write(server)
    (create,) = server.on("/query")
    assert create.method == "POST"
    assert create.body == b"q=CREATE+DATABASE+%22city%22"


@pytest.mark.parametrize(
    "status",
    [401, 403, 404, 408, 429, 500, 502, 503],
    ids=lambda s: f"http-{s}",
)
def test_v1_write_retry_statuses_are_unavailable(status: int) -> None:
    """Auth, not found, timeouts, throttling and 5xx may pass later: retry, never drop."""
    with (
        scripted_server({"/write": Answer(status, _error("try later"))}) as server,
        pytest.raises(InfluxUnavailable, match=f"HTTP {status}: "),
    ):
        _write(server)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, 'partial write: field type conflict: input field "v" is type string'),
        (400, "unable to parse 'm v=': missing field value"),
        (413, "Request Entity Too Large"),
        (422, "points beyond retention policy dropped=1"),
    ],
    ids=["type-conflict", "parse-error", "too-large", "retention"],
)
def test_v1_write_other_4xx_are_rejected(status: int, message: str) -> None:
    """A 4xx outside the retry set refuses the data itself: status and InfluxDB's message."""
    with (
        scripted_server({"/write": Answer(status, _error(message))}) as server,
        pytest.raises(InfluxRejected) as caught,
    ):
        _write(server)
    assert caught.value.status == status
    assert caught.value.message == _error(message).decode()  # InfluxDB's answer, as it came
    assert isinstance(caught.value, InfluxError)


def test_v1_write_database_not_found_creates_it_and_retries() -> None:
    """404 "database not found" (dropped while running): created again, the chunk retried."""
    answer = Answer(404, _error('database not found: "city"'))
    with (
        scripted_server({"/write": answer}) as server,
        pytest.raises(InfluxUnavailable, match="database not found; created it"),
    ):
        _write(server)
    assert len(server.on("/query")) == 2  # at start, and after the 404


@pytest.mark.parametrize(
    ("status", "credentials", "who"),
    [
        (
            401,
            {"username": "cityiot-writer", "password": SecretStr(PASSWORD)},
            "user 'cityiot-writer'",
        ),
        (
            403,
            {"username": "cityiot-reader", "password": SecretStr(PASSWORD)},
            "user 'cityiot-reader'",
        ),
        (401, {"token": SecretStr(TOKEN)}, "the token"),
        (401, {}, "an anonymous request"),
    ],
    ids=["wrong-password", "no-grant", "token", "anonymous"],
)
def test_v1_write_auth_refusal_names_who_and_the_fix(
    status: int, credentials: dict[str, Any], who: str
) -> None:
    """401/403: an InfluxAuthError (retried like any unavailability) saying who was refused and
    which settings to check, with none of the target's secrets in it, even echoed back."""
    echo = f"not authorized: {PASSWORD} {TOKEN}"
    with (
        scripted_server({"/write": Answer(status, _error(echo))}) as server,
        pytest.raises(InfluxAuthError) as caught,
    ):
        _write(server, **credentials)
    error = caught.value
    assert (error.status, error.who) == (status, who)
    assert isinstance(error, InfluxUnavailable)
    assert f"InfluxDB refused {who}" in str(error)
    assert "CITYIOT_INFLUXDB_USERNAME" in str(error)
    held = [v.get_secret_value() for v in credentials.values() if isinstance(v, SecretStr)]
    assert all(secret not in str(error) for secret in held)


def test_v1_write_database_not_found_and_no_admin_says_so() -> None:
    """A write-only user meets a missing database: it may not create it, and the error says an
    admin must (rather than claiming it was created)."""
    answers = {
        "/write": Answer(404, _error('database not found: "city"')),
        "/query": Answer(403, _error("requires admin privilege")),
    }
    with (
        scripted_server(answers) as server,
        pytest.raises(InfluxUnavailable, match="may not create it: an admin creates it"),
    ):
        _write(server, username="cityiot-writer", password=SecretStr(PASSWORD))


def test_v1_write_refused_connection_is_unavailable() -> None:
    """Nothing listening: retry (the worker pauses until InfluxDB is back)."""
    target = InfluxTarget(url=f"http://127.0.0.1:{free_port()}", database="city")
    with pytest.raises(InfluxUnavailable, match="ClientConnectorError"):
        asyncio.run(_v1_write(target, LINES))


def test_v1_write_timeout_is_unavailable() -> None:
    """A server that never answers: the request's timeout ends it, as unavailable."""
    with scripted_server({"/write": Answer(hang=True)}) as server:
        target = InfluxTarget(url=server.url, database="city")
        with pytest.raises(InfluxUnavailable, match="TimeoutError"):
            asyncio.run(_v1_write(target, LINES, timeout_s=0.2))


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({}, None),
        ({"token": SecretStr(TOKEN)}, f"Token {TOKEN}"),
        (
            {"username": "city", "password": SecretStr(PASSWORD)},
            "Basic " + base64.b64encode(f"city:{PASSWORD}".encode()).decode(),
        ),
        (
            {"username": "city", "password": SecretStr(PASSWORD), "token": SecretStr(TOKEN)},
            f"Token {TOKEN}",
        ),
    ],
    ids=["open-1.x", "token-2.x-3.x", "basic-1.x", "token-wins"],
)
def test_v1_write_sends_the_deployments_auth(
    credentials: dict[str, Any], expected: str | None
) -> None:
    """Every request (create and write) carries the deployment's Authorization header."""
    with scripted_server({}) as server:
        _write(server, **credentials)
    assert [r.headers.get("Authorization") for r in server.requests] == [expected, expected]


@pytest.mark.parametrize("status", [401, 400], ids=["unavailable", "rejected"])
@pytest.mark.parametrize(
    ("credentials", "secret"),
    [
        ({"username": "city", "password": SecretStr(PASSWORD)}, PASSWORD),
        ({"token": SecretStr(TOKEN)}, TOKEN),
    ],
    ids=["password", "token"],
)
def test_v1_write_errors_mask_secrets(
    status: int, credentials: dict[str, Any], secret: str
) -> None:
    """A server echoing the credentials back: the error message shows them masked."""
    echo = _error(f"authorization failed for {secret}")
    with (
        scripted_server({"/write": Answer(status, echo)}) as server,
        pytest.raises(InfluxError) as caught,
    ):
        _write(server, **credentials)
    assert secret not in str(caught.value)
    assert MASK in str(caught.value)


async def _v2_write(target: InfluxTarget, lines: list[str]) -> None:
    writer = V2Writer(target, org="cityiot", timeout_s=5.0)
    await writer.start()
    try:
        await writer.write(lines)
    finally:
        await writer.close()


def test_v2_write_posts_to_the_bucket_with_the_token() -> None:
    """The v2 API: POST /api/v2/write to the database as bucket, ns precision, Token auth."""
    with scripted_server({"/api/v2/write": Answer(204)}) as server:
        target = InfluxTarget(url=server.url, database="city", token=SecretStr(TOKEN))
        asyncio.run(_v2_write(target, LINES))
    (request,) = server.on("/api/v2/write")
    assert request.query == {"org": "cityiot", "bucket": "city", "precision": "ns"}
    assert request.headers["Authorization"] == f"Token {TOKEN}"
    assert request.body.decode() == "\n".join(LINES)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InfluxRejected),
        (422, InfluxRejected),
        (401, InfluxUnavailable),
        (503, InfluxUnavailable),
    ],
    ids=["bad-data", "retention", "auth", "unavailable"],
)
def test_v2_write_classifies_like_v1(status: int, error: type[InfluxError]) -> None:
    """The v2 writer sorts statuses exactly as the v1 writer does, secrets masked."""
    body = _error(f"refused with {TOKEN}")
    with scripted_server({"/api/v2/write": Answer(status, body)}) as server:
        target = InfluxTarget(url=server.url, database="city", token=SecretStr(TOKEN))
        with pytest.raises(error) as caught:
            asyncio.run(_v2_write(target, LINES))
    assert TOKEN not in str(caught.value)
    if isinstance(caught.value, InfluxRejected):
        assert caught.value.status == status
