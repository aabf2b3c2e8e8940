"""Helpers of the CLI tests: run ``cityiot`` as its own process, and a real HTTP server to call.

The commands run through ``python -m cityiot`` (the entry point users run, with its one-line
errors and exit statuses), with no ``CITYIOT_*`` variable from this environment but the test's.
The server is the standard library's threading HTTP server on a free loopback port: the
commands under test are other processes, so a server in a thread of the test is what they reach.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cityiot.local.ports import LOOPBACK, free_port

__all__ = ["Answer", "HttpServer", "Request", "cityiot_env", "http_server", "run_cityiot"]

# A command that talks to a loopback server ends in seconds; this is for a loaded machine
# (two cores shared with other test runs), short enough that a hang fails the test.
COMMAND_TIMEOUT_S = 180.0


def cityiot_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The environment without its ``CITYIOT_*``, with a run dir of the test's and ``variables``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYIOT_")}
    return {**clean, "CITYIOT_RUN_DIR": str(tmp_path / "run"), **variables}


def run_cityiot(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``cityiot ARGV`` to completion, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "cityiot", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; header names in lower case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int
    body: object


Respond = Callable[[Request], Answer]


class HttpServer:
    """Records every request, in arrival order, and answers each with ``respond(request)``."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._lock = threading.Lock()
        self._requests: list[Request] = []

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def on(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        parts = urlsplit(handler.path)
        request = Request(
            handler.command,
            parts.path,
            dict(parse_qsl(parts.query)),
            {k.lower(): v for k, v in handler.headers.items()},
            handler.rfile.read(length),
        )
        with self._lock:
            self._requests.append(request)
        answer = self.respond(request)
        body = json.dumps(answer.body).encode()
        handler.send_response(answer.status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@contextmanager
def http_server(respond: Respond) -> Iterator[HttpServer]:
    """An :class:`HttpServer` serving in a thread until the block ends."""
    server = HttpServer(respond)

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so no handler thread outlives its client.
        def do_GET(self) -> None:
            server._handle(self)

        do_POST = do_PUT = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the recorded requests instead."""

    httpd = ThreadingHTTPServer((LOOPBACK, server.port), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name=f"http-{server.port}")
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
