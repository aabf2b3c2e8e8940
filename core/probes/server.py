"""One HTTP port per long-running process: ``/healthz``, ``/readyz`` and Prometheus metrics.

- ``/healthz`` (liveness): 200 while the process's loop turns, that is while its
  :class:`Heartbeat` was beaten within ``limit_s``; else 503 with the reason. A failing liveness
  probe means "restart me": nothing else (a broker away, a slow start) fails it.
- ``/readyz`` (readiness): 200 when the process's readiness check returns no reason (and its loop
  turns); else 503 listing the reasons, one per line. A failing readiness probe means "do not
  count me as available" (rollouts wait, disruption budgets hold).
- any other path: the Prometheus exposition of the registry, as prometheus_client's own server
  serves it (``/metrics`` by convention).

The checks run in the server's request thread at each request, so they read state the process
already keeps (flags, timestamps) or do one bounded round trip (a cached ping): a probe must
answer within its timeout even when a broker is gone.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.registry import Collector

from core.errors import SettingError

__all__ = ["HEALTH_PATH", "READY_PATH", "Heartbeat", "ProbeServer", "ReadyCheck"]

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"

#: What keeps a process from being ready: one short reason each ("mqtt: not connected"); none
#: means ready.
ReadyCheck = Callable[[], Iterable[str]]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class Heartbeat:
    """When the process's loop last turned; stale after ``limit_s`` (then ``/healthz`` fails).

    The loop calls :meth:`beat` once a turn (a float store: nothing on the hot path); the server
    thread reads it. The clock starts at creation, so a loop that never turns fails too.
    """

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    @property
    def age_s(self) -> float:
        """Seconds since the last beat."""
        return time.monotonic() - self._last

    def stalled(self) -> str | None:
        """Why the loop counts as stuck, or None while it turns."""
        age = self.age_s
        if age <= self.limit_s:
            return None
        return f"loop stalled: last turn {age:.0f} s ago (limit {self.limit_s:g} s)"


class _Server(ThreadingMixIn, WSGIServer):
    # Fire-and-forget request threads: a probe that hangs never keeps the process alive.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: a probe every few seconds is not news."""


class ProbeServer:
    """``/healthz``, ``/readyz`` and ``registry``'s metrics on ``host:port``, in daemon threads.

    Raises:
        SettingError: The port cannot be listened on (in use, privileged) or the host is not
            an address of this machine; the message names ``port_variable`` or ``host_variable``.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: Collector,
        heartbeat: Heartbeat,
        ready: ReadyCheck,
        port_variable: str,
        host_variable: str | None = None,
    ) -> None:
        self._heartbeat = heartbeat
        self._ready = ready
        self._metrics = make_wsgi_app(registry)
        self._server = _bind(host, port, self._app, port_variable, host_variable)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"probes-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def live_problems(self) -> list[str]:
        stalled = self._heartbeat.stalled()
        return [stalled] if stalled else []

    def ready_problems(self) -> list[str]:
        return [*self.live_problems(), *self._ready()]

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            return _answer(start_response, self.live_problems(), "ok")
        if path == READY_PATH:
            try:
                problems = self.ready_problems()
            except Exception as exc:  # a check that fails is a reason, not a 500 with a trace
                problems = [f"readiness check failed: {exc!r}"]
            return _answer(start_response, problems, "ready")
        body: Iterable[bytes] = self._metrics(environ, start_response)
        return body


def _answer(start_response: StartResponse, problems: list[str], ok: str) -> list[bytes]:
    status = "503 Service Unavailable" if problems else "200 OK"
    body = ("\n".join(problems) if problems else ok).encode() + b"\n"
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _bind(
    host: str, port: int, app: Any, port_variable: str, host_variable: str | None
) -> WSGIServer:
    try:
        # IPv4 or IPv6, whichever the host is (as prometheus_client's server chooses).
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        server_class = type("ProbeHTTPServer", (_Server,), {"address_family": family[0][0]})
        return make_server(host, port, app, server_class, _QuietHandler)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES) or host_variable is None:
            variable, fix = port_variable, "stop what holds it or set another port"
        else:  # EADDRNOTAVAIL, an unknown name: the address is the problem
            variable, fix = host_variable, "set an address of this machine (0.0.0.0: all)"
        raise SettingError(
            variable, f"cannot listen on {host}:{port} ({exc.strerror or exc}); fix: {fix}"
        ) from None
