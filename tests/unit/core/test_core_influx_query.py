"""InfluxQL through ``/query``: requests, answers, errors and auth, on a scripted HTTP server."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from influx_http import Answer, scripted_server
from pydantic import SecretStr

from cityiot.local.ports import free_port
from core.influx import (
    InfluxAuthError,
    InfluxError,
    InfluxQueryError,
    InfluxTarget,
    InfluxUnavailable,
    quote_identifier,
)
from core.influx.target import MASK
from core.settings import InfluxDBSettings

PASSWORD = "pa55-word"
TOKEN = "tok-3n"
SERIES = [{"name": "m", "columns": ["time", "v"], "values": [[1000, 1.5]]}]


def _results(result: dict[str, Any]) -> bytes:
    return json.dumps({"results": [{"statement_id": 0, **result}]}).encode()


def _query(answer: Answer, text: str = 'SELECT * FROM "m"') -> list[dict[str, Any]]:
    """``text`` against a server giving ``answer`` on /query."""
    with scripted_server({"/query": answer}) as server:
        return InfluxTarget(url=server.url, database="city").query(text)


def test_query_returns_the_series() -> None:
    """GET /query with db, q and epoch; the first result's series come back."""
    with scripted_server({"/query": Answer(200, _results({"series": SERIES}))}) as server:
        target = InfluxTarget(url=server.url + "/", database="city")
        assert target.query('SELECT "v" FROM "m"', epoch="ns") == SERIES
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/query")
    assert request.query == {"db": "city", "q": 'SELECT "v" FROM "m"', "epoch": "ns"}


def test_query_without_series_is_empty() -> None:
    """A statement matching nothing answers a result without series: an empty list."""
    assert _query(Answer(200, _results({}))) == []


def test_query_error_in_result_names_the_query() -> None:
    """InfluxDB's error inside a 200 answer (unknown database) raises InfluxQueryError."""
    answer = Answer(200, _results({"error": "database not found: city"}))
    with pytest.raises(InfluxQueryError) as caught:
        _query(answer)
    assert (caught.value.status, caught.value.message) == (200, "database not found: city")
    assert str(caught.value) == (
        "InfluxDB refused the query 'SELECT * FROM \"m\"': database not found: city"
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InfluxQueryError),
        (401, InfluxAuthError),
        (403, InfluxAuthError),
        (404, InfluxUnavailable),
        (429, InfluxUnavailable),
        (500, InfluxUnavailable),
        (503, InfluxUnavailable),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else v.__name__,
)
def test_query_http_errors_classify_like_writes(status: int, error: type[InfluxError]) -> None:
    """A refused statement (400) is a query error; the retry statuses are unavailable (401 and
    403 as the auth error, which is an InfluxUnavailable too)."""
    body = json.dumps({"error": "error parsing query: found EOF"}).encode()
    with pytest.raises(error, match="error parsing query: found EOF") as caught:
        _query(Answer(status, body), "SELECT")
    assert type(caught.value) is error


def test_query_not_influxdb_json_is_unavailable() -> None:
    """A 200 that is not InfluxDB's JSON (a proxy page, the wrong port) is a setting to fix."""
    with pytest.raises(InfluxUnavailable, match="not an InfluxDB answer"):
        _query(Answer(200, b"<html>login</html>"))


def test_query_refused_connection_is_unavailable() -> None:
    """Nothing listening: InfluxUnavailable, not a bare OSError."""
    target = InfluxTarget(url=f"http://127.0.0.1:{free_port()}", database="city")
    with pytest.raises(InfluxUnavailable, match="refused"):
        target.query('SELECT * FROM "m"')


def test_query_timeout_is_unavailable() -> None:
    """A server that never answers: the timeout ends the query, as unavailable."""
    with scripted_server({"/query": Answer(hang=True)}) as server:
        target = InfluxTarget(url=server.url, database="city")
        with pytest.raises(InfluxUnavailable, match="timed out"):
            target.query('SELECT * FROM "m"', timeout_s=0.2)


def test_execute_posts_the_statement() -> None:
    """execute sends a changing statement as POST /query with a form body."""
    with scripted_server({"/query": Answer(200, _results({}))}) as server:
        target = InfluxTarget(url=server.url, database="city")
        target.execute("DROP DATABASE " + quote_identifier('a"b'))
    (request,) = server.requests
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body == b"db=city&q=DROP+DATABASE+%22a%5C%22b%22"


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({}, None),
        ({"token": SecretStr(TOKEN)}, f"Token {TOKEN}"),
        ({"token": SecretStr("")}, None),
        (
            {"username": "city", "password": SecretStr(PASSWORD)},
            "Basic " + base64.b64encode(f"city:{PASSWORD}".encode()).decode(),
        ),
        ({"username": "city"}, "Basic " + base64.b64encode(b"city:").decode()),
        (
            {"username": "city", "password": SecretStr(PASSWORD), "token": SecretStr(TOKEN)},
            f"Token {TOKEN}",
        ),
    ],
    ids=["open-1.x", "token", "empty-token", "basic", "basic-no-password", "token-wins"],
)
def test_query_sends_the_deployments_auth(
    credentials: dict[str, Any], expected: str | None
) -> None:
    """Token for 2.x/3.x, Basic for a 1.x user, nothing for an open 1.x."""
    with scripted_server({"/query": Answer(200, _results({}))}) as server:
        InfluxTarget(url=server.url, database="city", **credentials).query("SHOW DATABASES")
    assert server.requests[0].headers.get("Authorization") == expected


@pytest.mark.parametrize("status", [200, 400, 401], ids=["in-result", "refused", "unavailable"])
def test_query_errors_mask_secrets(status: int) -> None:
    """Whatever InfluxDB echoes back, no error message carries the password or token."""
    echo = f"no access for {PASSWORD} / {TOKEN}"
    body = _results({"error": echo}) if status == 200 else json.dumps({"error": echo}).encode()
    with scripted_server({"/query": Answer(status, body)}) as server:
        target = InfluxTarget(
            url=server.url,
            database="city",
            username="city",
            password=SecretStr(PASSWORD),
            token=SecretStr(TOKEN),
        )
        with pytest.raises(InfluxError) as caught:
            target.query(f"SHOW USERS -- {PASSWORD}")
    message = str(caught.value)
    assert PASSWORD not in message
    assert TOKEN not in message
    assert MASK in message


def test_target_from_settings_keeps_secrets_masked() -> None:
    """from_settings takes every field; the target's repr shows no secret."""
    settings = InfluxDBSettings(
        url="http://influx.local:8086/",
        database="city",
        username="city",
        password=SecretStr(PASSWORD),
        token=SecretStr(TOKEN),
    )
    target = InfluxTarget.from_settings(settings)
    assert (target.url, target.database, target.username) == (
        "http://influx.local:8086",
        "city",
        "city",
    )
    assert target.headers() == {"Authorization": f"Token {TOKEN}"}
    assert PASSWORD not in repr(target)
    assert TOKEN not in repr(target)


def test_target_redacts_the_url_password() -> None:
    """A password given in the URL is masked like the others."""
    target = InfluxTarget(url=f"http://city:{PASSWORD}@influx.local:8086", database="city")
    assert target.redact(f"cannot reach {target.url}") == (
        f"cannot reach http://city:{MASK}@influx.local:8086"
    )
