"""Webhook notifier against real HTTP receivers on loopback: signatures, retries, dead letters."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from http_receiver import Received, receiver
from prometheus_client import REGISTRY
from tests_support import async_eventually

from cityiot.local.ports import free_port
from core.settings.alert import WebhookEndpoint
from schemas.alert import Alert, Severity
from streams.alerts.webhooks.notifier import JsonLinesDeadLetter, JsonLinesDeliveryLog, Notifier

SECRET = "integration-secret"
STARTS = datetime(2025, 5, 1, 2, 0, tzinfo=UTC)
# A request on loopback arrives in milliseconds; this is for a loaded machine.
REQUEST_TIMEOUT_S = 5.0


def _alert(n: int = 0, status: str = "firing") -> Alert:
    return Alert.model_validate(
        {
            "status": status,
            "fingerprint": f"{n:016x}",
            "rule": "recycling-smoke-alarm",
            "rule_type": "threshold",
            "severity": Severity.CRITICAL,
            "device_id": f"RS-{n}",
            "labels": {"alertname": "recycling-smoke-alarm", "severity": "critical"},
            "summary_zh": f"回收站 RS-{n} 烟雾报警",
            "summary_en": f"Smoke alarm at RS-{n}",
            "starts_at": STARTS,
            "ends_at": STARTS + timedelta(minutes=5) if status == "resolved" else None,
        }
    )


def _endpoint(name: str, url: str, **extra: Any) -> WebhookEndpoint:
    base = {"name": name, "url": url, "secret": SECRET, "backoff_initial_s": 0.05}
    return WebhookEndpoint.model_validate(base | extra)


def _generic_valid(r: Received) -> bool:
    timestamp = r.headers["X-Cityiot-Timestamp"]
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + r.body, hashlib.sha256)
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(
        r.headers["X-Cityiot-Signature"], "sha256=" + mac.hexdigest()
    )


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_notifier_generic_signature_verifies_at_receiver(tmp_path: Path) -> None:
    """The receiver checks the HMAC itself and answers 401 on mismatch; delivery succeeds."""

    async def verify(r: Received) -> tuple[int, bytes]:
        return (200, b"{}") if _generic_valid(r) else (401, b"{}")

    async def main() -> None:
        async with receiver({"/hook": verify}) as rec:
            dead = JsonLinesDeadLetter(tmp_path / "dead.jsonl")
            async with Notifier([_endpoint("sig", rec.url("/hook"))], dead_letter=dead) as n:
                assert n.submit(_alert()) == ["sig"]
                await n.join()
            (got,) = rec.on("/hook")
            assert Alert.model_validate_json(got.body) == _alert()
            assert got.headers["Idempotency-Key"] == _alert().idempotency_key
            assert dead.read() == []

    asyncio.run(main())


def test_notifier_retries_on_500_then_delivers(tmp_path: Path) -> None:
    """Two 500s, then 200: three attempts, one idempotency key, the log records each."""
    answers = iter([500, 500, 200])

    async def flaky(_: Received) -> tuple[int, bytes]:
        return next(answers), b"{}"

    async def main() -> None:
        log = JsonLinesDeliveryLog(tmp_path / "delivery.jsonl")
        dead = JsonLinesDeadLetter(tmp_path / "dead.jsonl")
        async with receiver({"/flaky": flaky}) as rec:
            endpoint = _endpoint("flaky", rec.url("/flaky"), retries=3)
            async with Notifier([endpoint], dead_letter=dead, delivery_log=log) as n:
                n.submit(_alert())
                await n.join()
        assert len({r.headers["Idempotency-Key"] for r in rec.requests}) == 1
        assert all(_generic_valid(r) for r in rec.requests)
        records = log.read()
        assert [(r.attempt, r.outcome, r.http_status) for r in records] == [
            (1, "retry", 500),
            (2, "retry", 500),
            (3, "delivered", 200),
        ]
        assert dead.read() == []
        assert SECRET not in (tmp_path / "delivery.jsonl").read_text()

    asyncio.run(main())


def test_notifier_dead_endpoints_do_not_delay_healthy_one(tmp_path: Path) -> None:
    """Refused, always-500 and too-slow endpoints end in the dead letter; the healthy one gets
    every alert at once, while the others are still retrying."""

    async def always_500(_: Received) -> tuple[int, bytes]:
        return 500, b"{}"

    async def slow(_: Received) -> tuple[int, bytes]:
        await asyncio.sleep(5)
        return 200, b"{}"

    async def main() -> None:
        dead = JsonLinesDeadLetter(tmp_path / "dead.jsonl")
        async with receiver({"/500": always_500, "/slow": slow}) as rec:
            failing = {"retries": 2, "timeout_s": 0.3, "backoff_initial_s": 0.2}
            endpoints = [
                _endpoint("refused", f"http://127.0.0.1:{free_port()}/hook", **failing),
                _endpoint("err500", rec.url("/500"), **failing),
                _endpoint("slow", rec.url("/slow"), **failing),
                _endpoint("healthy", rec.url("/ok")),
            ]
            before = _metric("cityiot_alerts_webhook_failed_total", endpoint="err500")
            async with Notifier(endpoints, dead_letter=dead) as n:
                started = time.monotonic()
                for i in range(3):
                    n.submit(_alert(i))
                await async_eventually(
                    lambda: len(rec.on("/ok")) == 3, what="three alerts at /ok", timeout=2
                )
                healthy_done = max(r.at for r in rec.on("/ok")) - started
                assert dead.read() == []  # the others are still retrying
                await n.join()
                all_done = time.monotonic() - started
        # The healthy endpoint's three deliveries took a fraction of the others' retry time.
        assert healthy_done < 0.5, healthy_done
        assert all_done > 3 * 0.3, all_done  # the slow endpoint alone: 3 alerts × 3 timeouts
        letters = dead.read()
        by_endpoint = sorted((d.endpoint, d.alert.fingerprint) for d in letters)
        assert by_endpoint == sorted(
            (e, _alert(i).fingerprint) for e in ("refused", "err500", "slow") for i in range(3)
        )
        assert {(d.reason, d.attempts) for d in letters} == {("retries_exhausted", 3)}
        errors = {d.endpoint: d.last_error for d in letters}
        assert errors["slow"] == "timeout after 0.3s"
        assert errors["err500"] == "http_status=500"
        assert (errors["refused"] or "").startswith("connect failed")
        after = _metric("cityiot_alerts_webhook_failed_total", endpoint="err500")
        assert after - before == 3

    asyncio.run(main())


def test_notifier_permanent_4xx_goes_to_dead_letter_without_retry(tmp_path: Path) -> None:
    """A 400 will not change on retry: one attempt, then the dead letter."""

    async def bad_request(_: Received) -> tuple[int, bytes]:
        return 400, b"{}"

    async def main() -> None:
        dead = JsonLinesDeadLetter(tmp_path / "dead.jsonl")
        async with receiver({"/400": bad_request}) as rec:
            endpoint = _endpoint("bad", rec.url("/400"), retries=5)
            async with Notifier([endpoint], dead_letter=dead) as n:
                n.submit(_alert())
                await n.join()
        assert len(rec.requests) == 1
        assert [(d.reason, d.attempts) for d in dead.read()] == [("permanent_error", 1)]

    asyncio.run(main())


def test_notifier_robot_signatures_verify_at_receivers(tmp_path: Path) -> None:
    """DingTalk, Feishu and WeCom receivers check requests as the vendors do and answer 0."""

    async def dingtalk(r: Received) -> tuple[int, bytes]:
        string_to_sign = f"{r.query['timestamp']}\n{SECRET}"
        digest = hmac.new(SECRET.encode(), string_to_sign.encode(), hashlib.sha256).digest()
        ok = base64.b64encode(digest).decode() == r.query["sign"]
        return 200, b'{"errcode":0}' if ok else b'{"errcode":310000,"errmsg":"sign not match"}'

    async def feishu(r: Received) -> tuple[int, bytes]:
        body = json.loads(r.body)
        key = f"{body['timestamp']}\n{SECRET}".encode()
        ok = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode() == body["sign"]
        return 200, b'{"code":0}' if ok else b'{"code":19021,"msg":"sign match fail"}'

    async def wecom(r: Received) -> tuple[int, bytes]:
        ok = r.query.get("key") == "K" and json.loads(r.body)["msgtype"] == "markdown"
        return 200, b'{"errcode":0}' if ok else b'{"errcode":93000}'

    async def main() -> None:
        dead = JsonLinesDeadLetter(tmp_path / "dead.jsonl")
        routes = {"/robot/send": dingtalk, "/bot/v2/hook/H": feishu, "/webhook/send": wecom}
        async with receiver(routes) as rec:
            endpoints = [
                _endpoint("ding", rec.url("/robot/send?access_token=T"), format="dingtalk"),
                _endpoint("fs", rec.url("/bot/v2/hook/H"), format="feishu"),
                _endpoint("wc", rec.url("/webhook/send?key=K"), format="wecom", secret=None),
                # A wrong DingTalk secret must end in the dead letter, not count as delivered.
                _endpoint(
                    "ding-bad",
                    rec.url("/robot/send?access_token=T"),
                    format="dingtalk",
                    secret="wrong",
                    retries=0,
                ),
            ]
            async with Notifier(endpoints, dead_letter=dead) as n:
                n.submit(_alert())
                await n.join()
        assert len(rec.requests) == 4
        assert [(d.endpoint, d.last_error) for d in dead.read()] == [
            ("ding-bad", "errcode=310000 message='sign not match'")
        ]

    asyncio.run(main())


def test_notifier_queue_full_and_shutdown_go_to_dead_letter(tmp_path: Path) -> None:
    """Nothing disappears: overflow and notifications pending at close are dead-lettered."""

    async def slow(_: Received) -> tuple[int, bytes]:
        await asyncio.sleep(5)
        return 200, b"{}"

    async def main() -> None:
        dead = JsonLinesDeadLetter(tmp_path / "dead.jsonl")
        async with receiver({"/slow": slow}) as rec:
            endpoint = _endpoint("slow", rec.url("/slow"), queue_size=1, timeout_s=10)
            n = Notifier([endpoint], dead_letter=dead)
            await n.start()
            n.submit(_alert(0))  # taken by the worker
            await async_eventually(
                lambda: len(rec.requests) == 1,
                what="the first alert taken by the worker",
                timeout=REQUEST_TIMEOUT_S,
            )
            n.submit(_alert(1))  # waits in the queue
            assert n.submit(_alert(2)) == []  # queue full
            await n.close()
        reasons = sorted((d.alert.device_id, d.reason) for d in dead.read())
        assert reasons == [("RS-0", "shutdown"), ("RS-1", "shutdown"), ("RS-2", "queue_full")]

    asyncio.run(main())
