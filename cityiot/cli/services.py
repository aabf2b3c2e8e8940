"""``cityiot services``: start, inspect and stop the local Mosquitto, Kafka and InfluxDB."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated

import typer

from cityiot.access.kafka_users import KafkaAuth
from cityiot.local.plans import KafkaKind
from cityiot.local.runner import LocalServers, check_health
from cityiot.local.state import read_state, stop_state
from core.errors import ServiceError
from core.settings import Settings
from core.signals import install_stop_handlers

__all__ = ["app"]

app = typer.Typer(help="The local servers (the embedded default).", no_args_is_help=True)

RunDir = Annotated[
    Path | None,
    typer.Option(help="Where configs, data and logs live [default: $CITYIOT_RUN_DIR or .cityiot]"),
]


def _run_dir(run_dir: Path | None) -> Path:
    return run_dir if run_dir is not None else Settings().run_dir


@app.command()
def up(
    detach: Annotated[
        bool, typer.Option(help="Return once ready; stop later with `down`.")
    ] = False,
    run_dir: RunDir = None,
    kafka: Annotated[
        KafkaKind | None,
        typer.Option(
            help="Local Kafka: apache (Apache Kafka, on disk) or tansu (memory-only) "
            "[default: $CITYIOT_KAFKA_LOCAL or apache]."
        ),
    ] = None,
    mqtt_port: Annotated[
        int | None,
        typer.Option(help="Mosquitto port on 127.0.0.1 [default: port of $CITYIOT_MQTT_URL]."),
    ] = None,
    kafka_port: Annotated[
        int | None,
        typer.Option(
            help="Kafka port on 127.0.0.1 "
            "[default: first port of $CITYIOT_KAFKA_BOOTSTRAP_SERVERS]."
        ),
    ] = None,
    influxdb_port: Annotated[
        int | None,
        typer.Option(
            help="InfluxDB HTTP port on 127.0.0.1 [default: port of $CITYIOT_INFLUXDB_URL]."
        ),
    ] = None,
) -> None:
    """Start the three servers and report ready once each answers a real request.

    Ports default to those of the CITYIOT_* URLs, so the other commands find the servers with
    the same settings.
    """
    settings = Settings()
    servers = LocalServers(
        run_dir=_run_dir(run_dir),
        mqtt_port=mqtt_port if mqtt_port is not None else settings.mqtt.port,
        kafka_port=kafka_port if kafka_port is not None else settings.kafka.first_port,
        influxdb_port=influxdb_port if influxdb_port is not None else settings.influxdb.port,
        database=settings.influxdb.database,
        mqtt_auth_dir=settings.mqtt.auth_dir,
        detach=detach,
        kafka=kafka if kafka is not None else settings.kafka.local,
        kafka_partitions=settings.kafka.partitions,
        kafka_auth=KafkaAuth.from_settings(settings),
        influxdb_auth_dir=settings.influxdb.auth_dir,
    )
    stop = threading.Event()
    # Until the process exits: a second Ctrl-C while the servers stop changes nothing.
    install_stop_handlers(stop)
    state = servers.start()
    for server in state.servers:
        typer.echo(
            f"ready  {server.name:<9} {server.url:<28} {server.kind or '':<13} log {server.log}"
        )
    if detach:
        typer.echo(
            "servers keep running; stop them with: "
            f"cityiot services down --run-dir {servers.run_dir}"
        )
        return
    typer.echo("Ctrl-C stops them.")
    try:
        exited = servers.wait(stop.is_set)
    finally:
        servers.stop()
    if exited is not None:
        log = state.get(exited).log
        raise ServiceError(exited, "exited unexpectedly; the others were stopped", log=log)
    typer.echo("stopped")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print URLs and health as JSON.")] = False,
    run_dir: RunDir = None,
) -> None:
    """Show each server's URL and whether it answers right now."""
    settings = Settings()
    state = read_state(_run_dir(run_dir))
    if state is None:
        if as_json:
            typer.echo(json.dumps({"running": False, "servers": {}}))
        else:
            typer.echo("no local servers recorded here; start them with: cityiot services up")
        raise typer.Exit(1)
    checked = check_health(state, settings.influxdb.database)
    if as_json:
        payload = {
            "running": True,
            "run_dir": checked.run_dir,
            "servers": {
                s.name: {
                    "url": s.url,
                    "healthy": s.healthy,
                    "kind": s.kind,
                    "pid": s.pid,
                    "log": s.log,
                }
                for s in checked.servers
            },
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        for s in checked.servers:
            typer.echo(
                f"{'healthy' if s.healthy else 'DOWN':<8} {s.name:<9} {s.url:<28} "
                f"{s.kind or '':<13} log {s.log}"
            )
    if not all(s.healthy for s in checked.servers):
        raise typer.Exit(1)


@app.command()
def down(run_dir: RunDir = None) -> None:
    """Stop the servers a detached ``up`` started and free their ports."""
    state = read_state(_run_dir(run_dir))
    if state is None:
        typer.echo("nothing to stop")
        return
    stopped = stop_state(state)
    typer.echo(f"stopped {', '.join(stopped) if stopped else 'nothing (already exited)'}")
