"""A real HTTP server on a free loopback port that answers each path as a test scripts it.

InfluxDB itself cannot be made to answer 408, 429 or 503 on demand; this server can, so the
client's error classification is tested over real sockets. (The real InfluxDB runs in
``tests/integration/core``.) A threaded ``http.server``: the client's queries are synchronous.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from cityiot.local.ports import free_port


@dataclass(frozen=True)
class Answer:
    """What the server answers on a path; ``hang``: never answer (until the server stops)."""

    status: int = 204
    body: bytes = b""
    hang: bool = False


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Scripted:
    """The running server: ``answers`` maps a path to its answer, ``requests`` records each."""

    url: str
    answers: dict[str, Answer]
    requests: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@contextmanager
def scripted_server(answers: dict[str, Answer]) -> Iterator[Scripted]:
    """Serve ``answers`` (unscripted paths: 204) until the block ends."""
    port = free_port()
    scripted = Scripted(f"http://127.0.0.1:{port}", dict(answers))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            scripted.requests.append(
                Received(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    dict(self.headers.items()),
                    self.rfile.read(length),
                )
            )
            answer = scripted.answers.get(parts.path, Answer())
            if answer.hang:
                scripted.released.wait()
                return
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: pytest shows what failed, not every request."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    # serve_forever polls for shutdown every poll_interval: 0.5 s by default, per test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="scripted-http"
    )
    thread.start()
    try:
        yield scripted
    finally:
        scripted.released.set()
        server.shutdown()
        server.server_close()
        thread.join()
