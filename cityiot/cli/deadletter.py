"""``cityiot deadletter``: list the dead-letter topic, and replay its records after a fix.

``list`` reads every record (nothing is consumed or committed) and prints one line each, or
``--summary`` counts per reason and vendor. ``replay`` runs the selected collector records
through the collector pipeline as configured now and sends what passes to the events topic
(``cityiot/replay.py`` says what is and is not replayed, and why). Both take the same filters.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer

from cityiot.deadletters import Letter, Selection, parse_time, read_deadletters, summarise
from cityiot.replay import Outcome, Step, replay
from core.settings import Settings
from schemas import RejectReason, StreamRejectReason

__all__ = ["app"]

app = typer.Typer(
    help="The dead-letter topic: list what was rejected, replay it after a fix.",
    no_args_is_help=True,
)

REASONS = sorted([r.value for r in RejectReason] + [r.value for r in StreamRejectReason])
# Detail text is a validation error or InfluxDB's message: cut so a line stays a line.
DETAIL_CHARS = 160

ReasonOption = Annotated[
    list[str] | None,
    typer.Option("--reason", help="Only this reason code (repeatable), e.g. unknown_device."),
]
VendorOption = Annotated[
    list[str] | None,
    typer.Option("--vendor", help="Only this vendor, the MQTT topic's vendor level (repeatable)."),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only records received at or after: ISO-8601 (2026-05-01T08:00+08:00; no offset "
        "is UTC) or a span back from now (30m, 2h, 1d).",
    ),
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Only records received before; same forms.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON lines instead of text.")]


def _bad(option: str, problem: str) -> NoReturn:
    """One line naming the option, exit 2: the CLI's way with bad input (cli/main.py)."""
    typer.echo(f"error: {option}: {problem}", err=True)
    raise typer.Exit(2)


def _selection(
    settings: Settings,
    reasons: list[str] | None,
    vendors: list[str] | None,
    since: str | None,
    until: str | None,
) -> Selection:
    for reason in reasons or []:
        if reason not in REASONS:
            _bad(
                "--reason", f"{reason!r} is not a reason code; expected one of {', '.join(REASONS)}"
            )
    now = datetime.now(UTC)
    times: dict[str, datetime | None] = {}
    for option, text in (("--since", since), ("--until", until)):
        try:
            times[option] = parse_time(text, now=now) if text is not None else None
        except ValueError:
            _bad(option, "expected an ISO-8601 time (2026-05-01T08:00+08:00) or 30m, 2h, 1d")
    return Selection(
        reasons=frozenset(reasons or ()),
        vendors=frozenset(vendors or ()),
        since=times["--since"],
        until=times["--until"],
        prefix=settings.mqtt.topic_prefix,
    )


def _fields(letter: Letter, prefix: str) -> dict[str, Any]:
    record = letter.record
    return {
        "partition": letter.partition,
        "offset": letter.offset,
        "source": letter.source,
        "reason": letter.reason,
        "vendor": letter.vendor(prefix),
        "device_id": record.device_id if record is not None else None,
        "topic": record.topic if record is not None else None,
        "received_at": record.received_at.isoformat() if record is not None else None,
        "detail": record.detail if record is not None else "",
        "redelivered": record.redelivered if record is not None else False,
        "payload_b64": record.payload_b64 if record is not None else None,
    }


def _line(letter: Letter, prefix: str) -> str:
    f = _fields(letter, prefix)
    detail = str(f["detail"])[:DETAIL_CHARS]
    return (
        f"{f['received_at'] or '-'}  {letter.where}  {f['source']}  {f['reason']}  "
        f"vendor={f['vendor'] or '-'}  device={f['device_id'] or '-'}  "
        f"topic={f['topic'] or '-'}  {detail!r}"
    )


@app.command("list")
def list_(
    reason: ReasonOption = None,
    vendor: VendorOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Counts per reason and vendor instead of records.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the dead letters (oldest first per partition), or --summary counts."""
    settings = Settings()
    selection = _selection(settings, reason, vendor, since, until)
    prefix = settings.mqtt.topic_prefix
    letters = selection.select(read_deadletters(settings.kafka))
    if summary:
        counts = summarise(letters, prefix=prefix)
        if as_json:
            rows = [{"reason": r, "vendor": v, "count": n} for (r, v), n in counts.counts.items()]
            typer.echo(json.dumps({"counts": rows, "total": counts.total}))
            return
        typer.echo(f"{'reason':<20} {'vendor':<24} {'count':>8}")
        for (r, v), n in counts.counts.items():
            typer.echo(f"{r:<20} {v:<24} {n:>8}")
        typer.echo(f"{'total':<45} {counts.total:>8}")
        return
    for letter in letters:
        typer.echo(json.dumps(_fields(letter, prefix)) if as_json else _line(letter, prefix))


def _step_line(step: Step, prefix: str, *, dry_run: bool) -> str:
    letter = step.letter
    head = f"{letter.where}  {letter.reason}  vendor={letter.vendor(prefix) or '-'}"
    device = letter.record.device_id if letter.record is not None else None
    head += f"  device={device or '-'}"
    if step.outcome is Outcome.REPLAYED:
        late = "  (late: its 1-minute window has closed, raw points only)" if step.late else ""
        return f"{'would replay' if dry_run else 'replayed'}  {head}{late}"
    if step.outcome is Outcome.FAILING:
        return f"still failing  {head}  now={step.reason}  {step.detail[:DETAIL_CHARS]!r}"
    return f"skipped  {head}  ({step.reason}: {step.detail})"


@app.command("replay")
def replay_(
    reason: ReasonOption = None,
    vendor: VendorOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Route and report, send nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the selected collector dead letters through the collector pipeline as configured
    now (registry, schemas) and send what passes to the events topic. What still fails is
    reported with its new reason and left in place (no new dead letter is written). Records of
    the streams worker are listed but not replayed: they are no device messages (a record the
    worker could not read, a point InfluxDB refused). Replaying twice stores nothing twice: the
    stream drops a message it already has."""
    settings = Settings()
    selection = _selection(settings, reason, vendor, since, until)
    prefix = settings.mqtt.topic_prefix
    steps, sent = replay(
        settings, selection.select(read_deadletters(settings.kafka)), dry_run=dry_run
    )
    counts = {outcome: sum(1 for s in steps if s.outcome is outcome) for outcome in Outcome}
    if as_json:
        for step in steps:
            fields = {**_fields(step.letter, prefix), "outcome": step.outcome.value}
            if step.outcome is Outcome.REPLAYED:
                fields["late"] = step.late
            elif step.outcome is Outcome.FAILING:
                fields |= {"reason_now": step.reason, "detail_now": step.detail}
            elif step.outcome is Outcome.SKIPPED:
                fields["skipped"] = step.reason
            typer.echo(json.dumps(fields))
        typer.echo(json.dumps({"summary": {o.value: n for o, n in counts.items()}, "sent": sent}))
        return
    for step in steps:
        typer.echo(_step_line(step, prefix, dry_run=dry_run))
    verb = "would replay" if dry_run else "replayed"
    target = "" if dry_run else f" ({sent} sent to {settings.kafka.events_topic})"
    typer.echo(
        f"total: {verb} {counts[Outcome.REPLAYED]}{target}, "
        f"still failing {counts[Outcome.FAILING]}, "
        f"skipped {counts[Outcome.SKIPPED]}"
    )
