"""core.probes: /healthz, /readyz and metrics on one real HTTP server, and the container check."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter
from tests_support import eventually

from core.errors import SettingError
from core.probes import Heartbeat, ProbeServer
from core.probes.check import check
from core.settings import Settings

PORT_VARIABLE = "CITYIOT_TEST_METRICS_PORT"
HOST_VARIABLE = "CITYIOT_TEST_METRICS_HOST"
# TEST-NET-3 (RFC 5737): never an address of this machine.
FOREIGN_HOST = "203.0.113.7"


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Readiness:
    """A readiness check whose answer the test sets."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def __call__(self) -> Iterable[str]:
        return self.problems


def serve(heartbeat: Heartbeat, ready: Readiness, registry: CollectorRegistry) -> ProbeServer:
    return ProbeServer(
        host="127.0.0.1",
        port=0,
        registry=registry,
        heartbeat=heartbeat,
        ready=ready,
        port_variable=PORT_VARIABLE,
        host_variable=HOST_VARIABLE,
    )


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("cityiot_test_things", "Things counted.", registry=registry).inc(3)
    return registry


@pytest.fixture
def ready() -> Readiness:
    return Readiness()


@pytest.fixture
def server(ready: Readiness, registry: CollectorRegistry) -> Iterator[ProbeServer]:
    running = serve(Heartbeat(limit_s=60.0), ready, registry)
    yield running
    running.close()


def test_probe_server_healthz_ok_while_loop_turns(server: ProbeServer) -> None:
    """A heartbeat within its limit: /healthz answers 200 "ok"."""
    assert get(server.port, "/healthz") == (200, "ok\n")


def test_probe_server_healthz_503_once_loop_stalls(
    ready: Readiness, registry: CollectorRegistry
) -> None:
    """A heartbeat older than its limit: /healthz and /readyz answer 503 naming the stall."""
    heartbeat = Heartbeat(limit_s=0.05)
    server = serve(heartbeat, ready, registry)
    try:
        _status, body = eventually(
            lambda: (answer := get(server.port, "/healthz"))[0] == 503 and answer,
            what="/healthz failing after the limit",
        )
        assert body.startswith("loop stalled: last turn")
        assert get(server.port, "/readyz")[0] == 503
        heartbeat.beat()
        heartbeat.limit_s = 60.0
        assert get(server.port, "/healthz") == (200, "ok\n")
    finally:
        server.close()


def test_probe_server_readyz_lists_each_reason(server: ProbeServer, ready: Readiness) -> None:
    """/readyz is 200 "ready" with no reason, 503 with one reason a line otherwise."""
    assert get(server.port, "/readyz") == (200, "ready\n")
    ready.problems = ["mqtt: not connected", "kafka: no broker connection up"]
    assert get(server.port, "/readyz") == (
        503,
        "mqtt: not connected\nkafka: no broker connection up\n",
    )
    assert get(server.port, "/healthz") == (200, "ok\n")  # not ready is not dead


def test_probe_server_readyz_failing_check_is_a_reason(registry: CollectorRegistry) -> None:
    """A readiness check that raises makes /readyz 503 with the error, not a 500."""

    def broken() -> list[str]:
        raise RuntimeError("boom")

    server = ProbeServer(
        host="127.0.0.1",
        port=0,
        registry=registry,
        heartbeat=Heartbeat(60.0),
        ready=broken,
        port_variable=PORT_VARIABLE,
    )
    try:
        status, body = get(server.port, "/readyz")
        assert status == 503
        assert "readiness check failed: RuntimeError('boom')" in body
    finally:
        server.close()


@pytest.mark.parametrize("path", ["/metrics", "/"])
def test_probe_server_other_paths_serve_metrics(server: ProbeServer, path: str) -> None:
    """Every other path is the registry's Prometheus exposition, as before the probes."""
    status, body = get(server.port, path)
    assert status == 200
    assert "cityiot_test_things_total 3.0" in body


def test_probe_server_busy_port_names_port_variable(
    registry: CollectorRegistry, ready: Readiness
) -> None:
    """A port something else listens on: SettingError naming the port variable and the fix."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(SettingError) as raised:
            ProbeServer(
                host="127.0.0.1",
                port=port,
                registry=registry,
                heartbeat=Heartbeat(60.0),
                ready=ready,
                port_variable=PORT_VARIABLE,
                host_variable=HOST_VARIABLE,
            )
    assert raised.value.variable == PORT_VARIABLE
    message = str(raised.value)
    assert message.startswith(f"{PORT_VARIABLE}: cannot listen on 127.0.0.1:{port}")
    assert "fix:" in message
    assert "\n" not in message


def test_probe_server_foreign_address_names_host_variable(
    registry: CollectorRegistry, ready: Readiness
) -> None:
    """An address that is not this machine's: SettingError naming the host variable."""
    with pytest.raises(SettingError) as raised:
        ProbeServer(
            host=FOREIGN_HOST,
            port=0,
            registry=registry,
            heartbeat=Heartbeat(60.0),
            ready=ready,
            port_variable=PORT_VARIABLE,
            host_variable=HOST_VARIABLE,
        )
    assert raised.value.variable == HOST_VARIABLE


def test_probe_server_close_frees_the_port(server: ProbeServer) -> None:
    """After close() the port accepts no connection (a stopped process probes as down)."""
    port = server.port
    server.close()
    with pytest.raises(urllib.error.URLError):
        get(port, "/healthz")


def test_container_check_healthy_when_a_set_port_answers_200(server: ProbeServer) -> None:
    """The image's check: healthy on the collector's or the worker's port answering 200."""
    collector = Settings(collector={"metrics_port": server.port})
    assert check(collector) == (True, f"healthy port={server.port}")
    worker = Settings(stream={"metrics_port": server.port})
    assert check(worker)[0] is True


def test_container_check_unhealthy_on_503_or_nothing_listening(
    ready: Readiness, registry: CollectorRegistry
) -> None:
    """A stalled loop (503) or a closed port is unhealthy, the line says which."""
    heartbeat = Heartbeat(limit_s=0.05)
    server = serve(heartbeat, ready, registry)
    port = server.port
    settings = Settings(collector={"metrics_port": port})
    try:
        _healthy, line = eventually(
            lambda: (result := check(settings))[0] is False and result,
            what="the check failing on a stalled loop",
        )
        assert line.startswith(f"unhealthy port={port} status 503: loop stalled")
    finally:
        server.close()
    healthy, line = check(settings)
    assert healthy is False
    assert line.startswith(f"unhealthy port={port}")


def test_container_check_passes_with_nothing_to_probe() -> None:
    """No probe port set (simulate, dashboards): nothing to ask, healthy."""
    assert check(Settings()) == (True, "nothing to probe: no metrics port set")
