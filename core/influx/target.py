"""Where InfluxDB is and how to authenticate, plus InfluxQL through the v1 ``/query`` endpoint.

One path runs everywhere: InfluxDB 1.x serves ``/query`` natively, 2.x and 3.x through their v1
compatibility API. Auth follows the deployment: a token (2.x/3.x) is sent as ``Token``, a
username (1.x) as Basic auth, neither for an open 1.x. Queries are synchronous (urllib): their
callers (reconciliation, snapshots, the console) are not on a hot path.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from core.influx.errors import (
    AUTH_STATUSES,
    InfluxAuthError,
    InfluxQueryError,
    InfluxUnavailable,
    retryable,
)
from core.settings import InfluxDBSettings

__all__ = ["MASK", "QUERY_TIMEOUT_S", "Epoch", "InfluxTarget", "quote_identifier"]

# A reconciliation's GROUP BY over a whole run's raw points takes seconds on a busy machine;
# 30 s still fails a hung server within a test's patience.
QUERY_TIMEOUT_S = 30.0
# What a secret becomes in any message (pydantic's SecretStr shows the same).
MASK = "**********"
# The most of InfluxDB's answer an error message quotes.
MAX_ERROR_CHARS = 500

Epoch = Literal["ns", "u", "ms", "s"]


def quote_identifier(name: str) -> str:
    """``name`` as an InfluxQL double-quoted identifier (database, measurement)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class InfluxTarget:
    """Base URL, database (or DBRP-mapped bucket) and credentials of one InfluxDB.

    Credentials stay :class:`SecretStr`: the target's repr, and every message the client builds
    (:meth:`redact`), show them masked.
    """

    url: str
    database: str
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))

    @classmethod
    def from_settings(cls, settings: InfluxDBSettings) -> InfluxTarget:
        """The target of ``CITYIOT_INFLUXDB_*``."""
        return cls(
            url=settings.url,
            database=settings.database,
            username=settings.username,
            password=settings.password,
            token=settings.token,
        )

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header: ``Token`` (2.x/3.x), Basic (1.x user) or none."""
        if self.token is not None and self.token.get_secret_value():
            return {"Authorization": f"Token {self.token.get_secret_value()}"}
        if self.username:
            password = self.password.get_secret_value() if self.password else ""
            raw = f"{self.username}:{password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def who(self) -> str:
        """Who this target's requests come from, for a message: a user, a token or nobody."""
        if self.token is not None and self.token.get_secret_value():
            return "the token"
        if self.username:
            return f"user {self.username!r}"
        return "an anonymous request"

    def auth_error(self, status: int, text: str) -> InfluxAuthError:
        """The error of a 401/403 answer (``text``: InfluxDB's message), secrets masked."""
        return InfluxAuthError(status, self.who(), self.redact(text))

    def redact(self, text: str) -> str:
        """``text`` with this target's password, token and URL password masked."""
        secrets = [
            self.password.get_secret_value() if self.password else "",
            self.token.get_secret_value() if self.token else "",
            urlsplit(self.url).password or "",
        ]
        for secret in secrets:
            if secret:
                text = text.replace(secret, MASK)
        return text

    # -- InfluxQL ----------------------------------------------------------------------------
    def query(
        self, text: str, *, epoch: Epoch = "ms", timeout_s: float = QUERY_TIMEOUT_S
    ) -> list[dict[str, Any]]:
        """One read statement through ``GET /query``; returns its ``series`` (empty for none).

        Raises:
            InfluxQueryError: InfluxDB refused the statement (syntax, unknown database, 4xx).
            InfluxUnavailable: no answer, 5xx, or 404/408/429 (as for writes).
            InfluxAuthError: 401 or 403, naming the user (an InfluxUnavailable too).
        """
        params = {"db": self.database, "q": text, "epoch": epoch}
        url = f"{self.url}/query?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers=self.headers())  # noqa: S310 (http[s] URL)
        result = self._first_result(text, request, timeout_s)
        series: list[dict[str, Any]] = result.get("series", [])
        return series

    def execute(self, statement: str, *, timeout_s: float = QUERY_TIMEOUT_S) -> None:
        """A statement that changes something (``CREATE DATABASE``, ``DROP ...``): ``POST /query``.

        Raises what :meth:`query` raises.
        """
        body = urllib.parse.urlencode({"db": self.database, "q": statement}).encode()
        headers = {**self.headers(), "Content-Type": "application/x-www-form-urlencoded"}
        request = urllib.request.Request(  # noqa: S310 (http[s] URL)
            f"{self.url}/query", data=body, headers=headers, method="POST"
        )
        self._first_result(statement, request, timeout_s)

    def _first_result(
        self, statement: str, request: urllib.request.Request, timeout_s: float
    ) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            message = self.redact(_error_text(exc.read()))
            if exc.code in AUTH_STATUSES:
                raise self.auth_error(exc.code, message) from exc
            if retryable(exc.code):
                raise InfluxUnavailable(f"HTTP {exc.code}: {message}") from exc
            raise InfluxQueryError(self.redact(statement), exc.code, message) from exc
        except OSError as exc:  # URLError, refused, reset, timeout
            raise InfluxUnavailable(self.redact(f"{type(exc).__name__}: {exc}")) from exc
        try:
            body = json.loads(raw)
            result: dict[str, Any] = body["results"][0]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # Not InfluxDB's JSON: a proxy's page or the wrong port, a setting to fix.
            answer = self.redact(raw[:MAX_ERROR_CHARS].decode(errors="replace"))
            raise InfluxUnavailable(f"not an InfluxDB answer: {answer!r}") from exc
        if "error" in result:
            raise InfluxQueryError(self.redact(statement), 200, self.redact(str(result["error"])))
        return result


def _error_text(raw: bytes) -> str:
    """InfluxDB's ``{"error": ...}`` message, else the start of the body."""
    text = raw.decode(errors="replace")
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error) if error else text[:MAX_ERROR_CHARS]
