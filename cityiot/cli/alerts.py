"""``cityiot alerts``: check a rules file, send a test alert, and run the webhook notifier."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from cityiot.cli.startup import log_settings
from core.errors import CityiotError
from core.settings import Settings
from core.settings.alert import AlertSettings
from core.signals import async_stop_on_signals
from streams.alerts.relay import relay
from streams.alerts.rules import load_rules
from streams.alerts.webhooks.notifier import JsonLinesDeadLetter, JsonLinesDeliveryLog
from streams.alerts.webhooks.probe import send_test
from streams.alerts.zones import build_zones

__all__ = ["app"]

app = typer.Typer(help="Alert rules and webhook notifications.", no_args_is_help=True)


def _alert_settings(settings: Settings) -> AlertSettings:
    return settings.alert


@app.command("check")
def check(
    rules: Annotated[
        Path | None, typer.Argument(help="Rules YAML file; default: the shipped rules.")
    ] = None,
    zones: Annotated[
        bool, typer.Option(help="Also resolve geofence zones (loads district boundaries).")
    ] = True,
) -> None:
    """Validate a rules file and list its rules; exit 1 naming the rule and field at fault."""
    rule_set = load_rules(rules)
    if zones:
        build_zones(rule_set)
    for rule in rule_set.rules:
        state = "" if rule.enabled else " (disabled)"
        typer.echo(f"{rule.id}\t{rule.type}\t{rule.severity.value}{state}\t{rule.summary_en}")
    typer.echo(f"ok: {len(rule_set.rules)} rules, {len(rule_set.zones)} zones")


@app.command("notify")
def notify(
    endpoint: Annotated[
        list[str] | None, typer.Option(help="Only this endpoint (repeatable); default: all.")
    ] = None,
    resolve: Annotated[bool, typer.Option(help="Also send the resolved notification.")] = True,
) -> None:
    """Send a test alert to the configured webhook endpoints and report every attempt."""
    settings = Settings()
    alerts = _alert_settings(settings)
    endpoints = [e for e in alerts.endpoints() if not endpoint or e.name in endpoint]
    if not endpoints:
        raise CityiotError("no webhook endpoint configured (CITYIOT_ALERT_WEBHOOKS)")
    dead_letter = alerts.dead_letter_path or settings.run_dir / "alerts" / "deadletter.jsonl"
    records = send_test(
        endpoints,
        dead_letter_path=dead_letter,
        delivery_log_path=alerts.delivery_log_path,
        resolve=resolve,
    )
    for r in records:
        typer.echo(
            f"{r.endpoint}\t{r.status}\tattempt={r.attempt}\t{r.outcome}"
            f"\thttp_status={r.http_status}\terror={r.error or '-'}"
        )
    if any(r.outcome == "dead_letter" for r in records):
        raise CityiotError(f"some notifications failed; see {dead_letter}")


@app.command("run")
def run(
    loglevel: Annotated[str, typer.Option(help="error, warning, info or debug.")] = "warning",
) -> None:
    """Deliver city.alerts.v1 to the webhook endpoints until Ctrl-C / SIGTERM.

    Offsets are committed after each fetch is delivered or dead-lettered (at least once; the
    Idempotency-Key header lets receivers drop repeats). A stop finishes the fetch in hand.
    """
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings = Settings()
    alerts = _alert_settings(settings)
    endpoints = alerts.endpoints()
    if not endpoints:
        raise CityiotError("no webhook endpoint configured (CITYIOT_ALERT_WEBHOOKS)")
    log_settings(settings, ("kafka", "alert"))
    dead_letter = alerts.dead_letter_path or settings.run_dir / "alerts" / "deadletter.jsonl"

    async def main() -> int:
        async with async_stop_on_signals() as stop:
            return await relay(
                bootstrap_servers=settings.kafka.bootstrap_servers,
                topic=settings.kafka.alerts_topic,
                group=alerts.notifier_group,
                endpoints=endpoints,
                dead_letter=JsonLinesDeadLetter(dead_letter),
                delivery_log=JsonLinesDeliveryLog(alerts.delivery_log_path),
                stop=stop,
                security=settings.kafka.aiokafka_security(),
            )

    submitted = asyncio.run(main())
    typer.echo(f"stopped: {submitted} notifications submitted; dead letters: {dead_letter}")
