"""``cityiot simulate``: publish a realistic Ningbo fleet's MQTT traffic and its truth file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from cityiot.cli.startup import log_settings
from core.settings import MqttSettings, Settings
from core.signals import stop_on_signals
from simulator.fleet import MIXES
from simulator.publisher import MqttTarget
from simulator.run import RunOptions, run

__all__ = ["simulate"]


def _target(mqtt: MqttSettings) -> MqttTarget:
    return MqttTarget(
        host=mqtt.host,
        port=mqtt.port,
        username=mqtt.username,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        tls=mqtt.tls,
        ca_file=str(mqtt.tls_ca_file) if mqtt.tls_ca_file else None,
        cert_file=str(mqtt.tls_cert_file) if mqtt.tls_cert_file else None,
        key_file=str(mqtt.tls_key_file) if mqtt.tls_key_file else None,
    )


def simulate(
    devices: Annotated[int, typer.Option(help="Simulated devices.", min=1)] = 1000,
    rate: Annotated[
        float, typer.Option(help="Messages per second; 0: as fast as the broker acks.", min=0)
    ] = 1000.0,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds (default: run until Ctrl-C).", min=0.001),
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same messages (except wall-clock ts).")] = 1,
    bad_ratio: Annotated[
        float, typer.Option(help="Share of malformed messages (every reject reason).", min=0, max=1)
    ] = 0.01,
    nmea_ratio: Annotated[
        float, typer.Option(help="Share of positions sent as NMEA GGA+RMC.", min=0, max=1)
    ] = 0.1,
    will_devices: Annotated[
        int, typer.Option(help="Extra devices on own connections that drop with a last will.")
    ] = 2,
    registry_out: Annotated[
        Path | None, typer.Option(help="Write the device registry CSV (for CITYIOT_REGISTRY_PATH).")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Write what was published (counts, totals) as JSON.")
    ] = None,
    mix: Annotated[
        str,
        typer.Option(
            help="Fleet mix: default (a demo's even spread) or city (Ningbo's 10k vending, "
            "5k recycling, 100k mobility, 500 stores, 8k transit validators)."
        ),
    ] = "default",
    verbose: Annotated[bool, typer.Option(help="Log progress every 10 s.")] = False,
) -> None:
    """Simulate vending machines, recycling stations, BeiDou vehicles, unmanned stores and transit
    validators across Ningbo."""
    if mix not in MIXES:
        raise typer.BadParameter(f"expected one of {', '.join(sorted(MIXES))}", param_hint="--mix")
    if verbose:
        logging.getLogger("simulator").setLevel(logging.INFO)
    settings = Settings()
    if verbose:
        log_settings(settings, ("mqtt",))
    options = RunOptions(
        devices=devices,
        rate=rate,
        duration=duration,
        seed=seed,
        bad_ratio=bad_ratio,
        nmea_ratio=nmea_ratio,
        will_devices=will_devices,
        prefix=settings.mqtt.topic_prefix,
        registry_out=registry_out,
        truth_out=truth,
        mix=MIXES[mix],
    )
    with stop_on_signals() as stop:
        result = run(options, _target(settings.mqtt), stop=stop)
    elapsed = (
        (result.finished_at - result.started_at).total_seconds()
        if result.finished_at and result.started_at
        else 0.0
    )
    typer.echo(
        f"published {result.published} ({result.valid} valid, {result.rejected} malformed) "
        f"in {elapsed:.1f} s = {result.published / max(elapsed, 1e-9):.0f} msg/s, "
        f"{result.sim_seconds / 3600:.1f} simulated hours, unacked {result.unacked}"
        + (f"; truth in {truth}" if truth else "")
    )
