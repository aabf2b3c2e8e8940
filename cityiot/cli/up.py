"""``cityiot up``: the embedded default, the whole platform on one machine with no containers.

Starts Mosquitto, Tansu and InfluxDB, a collector, a streams worker and the device simulator;
shows a live console; on ``--duration`` or Ctrl-C stops everything in data-flow order and prints
the reconciliation of what the simulator published against what storage holds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from cityiot.access.kafka_users import KafkaAuth
from cityiot.local.console import render, take_snapshot
from cityiot.local.grafana import GRAFANA_PORT, grafana_binary, grafana_env, write_provisioning
from cityiot.local.platform import Platform, SimulatorRun
from cityiot.local.runner import LocalServers
from cityiot.local.state import clear_run_data
from cityiot.reconcile import Reconciliation
from core.errors import ServiceError
from core.settings import Settings
from core.signals import install_stop_handlers

__all__ = ["up"]

REFRESH_S = 1.0
# InfluxDB queries for the console are cheap but not free: every few refreshes is enough.
INFLUX_EVERY = 5
# After the simulator stops, storage trails it by a batch or two; this is generous for 2 cores.
DRAIN_TIMEOUT_S = 120.0


def _port(address: str) -> int:
    return int(address.split(",")[0].rpartition(":")[2])


def _reconciliation_table(result: Reconciliation) -> Table:
    table = Table(title="reconciliation: simulator truth vs storage")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("published (acknowledged by the broker)", f"{result.published:,}")
    table.add_row("valid", f"{result.valid:,}")
    table.add_row("stored in InfluxDB (raw points)", f"{result.stored:,}")
    for reason in sorted(set(result.expected_deadletters) | set(result.deadlettered)):
        expected = result.expected_deadletters.get(reason, 0)
        actual = result.deadlettered.get(reason, 0)
        mark = "" if expected == actual else f"  (simulator sent {expected:,})"
        table.add_row(f"dead-lettered: {reason}", f"{actual:,}{mark}")
    dups = "-" if result.duplicates_dropped is None else f"{result.duplicates_dropped:,}"
    table.add_row("duplicates dropped", dups)
    table.add_row("totals checked (fen, grams, counts)", f"{len(result.checks):,}")
    table.add_row("mismatched totals", f"{len(result.mismatches):,}")
    table.add_row("lost", f"[bold]{result.lost:,}[/bold]")
    return table


def _start_grafana(console: Console, settings: Settings, platform: Platform) -> None:
    """Grafana joins when installed; otherwise say how to point an existing one at us."""
    binary = grafana_binary()
    if binary is None:
        console.print(
            "Grafana: not on this machine. Point an existing Grafana at it: datasource InfluxDB "
            f"(InfluxQL) {settings.influxdb.url}, database {settings.influxdb.database}; "
            "provisioning files in deploy/grafana/provisioning, dashboards from "
            "`cityiot dashboards build DIR` or `cityiot dashboards push --url URL`."
        )
        return
    directory = platform.run_dir / "grafana"
    provisioning = write_provisioning(
        directory,
        influxdb_url=settings.influxdb.url,
        database=settings.influxdb.database,
        influxdb_auth_dir=settings.influxdb.auth_dir,
    )
    homepath = ["--homepath", "/usr/share/grafana"] if Path("/usr/share/grafana").is_dir() else []
    platform.children.start(
        "grafana", homepath, grafana_env(directory, provisioning), program=(binary,)
    )
    console.print(f"Grafana: http://127.0.0.1:{GRAFANA_PORT} (dashboards provisioned)")


def up(
    devices: Annotated[int, typer.Option(help="Simulated devices.", min=1)] = 200,
    rate: Annotated[float, typer.Option(help="Simulated messages per second.", min=1)] = 200.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds [default: until Ctrl-C].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed: same seed, same traffic.")] = 1,
    bad_ratio: Annotated[float, typer.Option(help="Share of malformed messages.")] = 0.01,
    run_dir: Annotated[
        Path | None,
        typer.Option(help="Configs, data and logs [default: $CITYIOT_RUN_DIR or .cityiot]"),
    ] = None,
    keep_data: Annotated[
        bool,
        typer.Option(
            "--keep-data",
            help="Keep earlier runs' data (Kafka, InfluxDB, sessions); the reconciliation then "
            "covers them too and is shown, not enforced.",
        ),
    ] = False,
) -> None:
    """Run the whole platform locally: servers, collector, streams worker and simulator.

    Each run starts from empty storage, so its reconciliation compares exactly what it published
    with what it stored, however often it runs in one directory (--keep-data keeps earlier runs).
    """
    settings = Settings()
    directory = (run_dir or settings.run_dir).resolve()
    console = Console()
    if not keep_data and directory.exists():
        removed = clear_run_data(directory)
        if removed:
            console.print(
                f"starting clean: removed the data of the last run ({', '.join(removed)})"
            )
    servers = LocalServers(
        run_dir=directory,
        mqtt_port=settings.mqtt.port,
        kafka_port=_port(settings.kafka.bootstrap_servers),
        influxdb_port=_port(settings.influxdb.url),
        database=settings.influxdb.database,
        mqtt_auth_dir=settings.mqtt.auth_dir,
        kafka=settings.kafka.local,
        kafka_partitions=settings.kafka.partitions,
        kafka_auth=KafkaAuth.from_settings(settings),
        influxdb_auth_dir=settings.influxdb.auth_dir,
    )
    stop = threading.Event()
    # Until the process exits: a second Ctrl-C while the pipeline drains changes nothing.
    install_stop_handlers(stop)
    state = servers.start()
    for server in state.servers:
        console.print(
            f"ready  {server.name:<9} {server.url:<28} {server.kind or '':<13} log {server.log}"
        )
    run = SimulatorRun(
        devices=devices, rate=rate, duration=duration, seed=seed, bad_ratio=bad_ratio
    )
    platform = Platform(settings, directory / "platform")
    try:
        registered = platform.write_registry(run)
        platform.start_stream()
        platform.start_collector()
        platform.wait_collector_connected()
        platform.start_simulator(run)
        _start_grafana(console, settings, platform)
        console.print(f"logs in {platform.children.log_dir}; Ctrl-C stops everything.")
        started = time.monotonic()
        before = None
        with Live(console=console, refresh_per_second=2) as live:
            tick = 0
            while not stop.is_set():
                platform.children.check(expected_exits=("simulator",))
                if not platform.children.children["simulator"].running:
                    break
                now = take_snapshot(platform, with_influx=tick % INFLUX_EVERY == 0)
                if before is not None and now.devices_online is None:
                    now.devices_online, now.alerts_firing = (
                        before.devices_online,
                        before.alerts_firing,
                    )
                live.update(
                    render(now, before, registered=registered, elapsed_s=time.monotonic() - started)
                )
                before, tick = now, tick + 1
                stop.wait(REFRESH_S)
        console.print("stopping the simulator; waiting for the pipeline to drain ...")
        platform.children.stop("simulator")
        if not platform.truth_path.exists():
            log = str(platform.children.children["simulator"].log)
            raise ServiceError("simulator", "wrote no truth file", log=log)
        result = platform.wait_reconciled(platform.truth(), timeout=DRAIN_TIMEOUT_S)
        console.print(_reconciliation_table(result))
        for check in result.mismatches[:20]:
            console.print(f"  mismatch {check.name}: truth {check.expected}, stored {check.actual}")
    finally:
        platform.stop()
        servers.stop()
    console.print("stopped")
    if keep_data:
        console.print("--keep-data: storage holds earlier runs too; the reconciliation is a guide")
    elif not result.exact:
        raise typer.Exit(1)
