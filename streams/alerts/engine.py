"""The alert engine: pure functions from (state, message or tick, now) to (state, changes).

No I/O and no clock: the caller passes ``now``, the engine returns a new :class:`DeviceAlerts`
and the :class:`Alert` changes to publish. Guarantees, per (rule, subject):

* firing → resolved exactly once: a state machine (inactive → pending → firing → recovering →
  inactive) emits only on the firing and resolved transitions;
* no flapping: ``for``/``resolve_for`` durations and a separate recovery condition (hysteresis);
* replays change nothing: each state keeps a watermark of the last applied message's
  (ts ms, seq) and ignores anything not newer, so a redelivered or duplicated message (same
  dedup id) is a no-op, and two messages with the same ``ts`` but different ``seq`` both count;
* deterministic starts: ``starts_at`` comes from event or receive times, never from ``now``
  (silence: last seen + limit), so a tick replayed after a crash yields the same alert and the
  same webhook idempotency key.

Threshold, rate and geofence rules run on event time (the device's ``ts``); absence and offline
compare the collector's ``received_at`` with ``now``, because a device's clock cannot tell us
that the device stopped talking.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import NamedTuple

from schemas.alert import Alert, AlertStatus
from schemas.envelope import Envelope
from schemas.mobility import MobilityPosition
from schemas.status import DeviceStatus
from streams.alerts.rules import (
    AbsenceRule,
    GeofenceRule,
    OfflineRule,
    RateOfChangeRule,
    Rule,
    RuleSet,
    ThresholdRule,
)
from streams.alerts.state import DeviceAlerts, RuleState, fingerprint
from streams.alerts.zones import Zones, build_zones

__all__ = ["AlertEngine", "Evaluation"]


class Evaluation(NamedTuple):
    """Result of one step: the new state, the changes to publish, and whether state changed
    (the worker skips the table write, and its changelog record, when it did not)."""

    state: DeviceAlerts
    changes: list[Alert]
    changed: bool


class AlertEngine:
    """Evaluates a rule set. Construction may load district boundaries; nothing else does I/O."""

    def __init__(self, rules: RuleSet, zones: Zones | None = None) -> None:
        self._rules: list[Rule] = rules.enabled
        self._by_id = {r.id: r for r in self._rules}
        needs_zones = any(isinstance(r, GeofenceRule) for r in self._rules)
        self._zones = zones if zones is not None or not needs_zones else build_zones(rules)

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules)

    def evaluate(self, state: DeviceAlerts | None, envelope: Envelope, now: datetime) -> Evaluation:
        """Apply one message of ``envelope.device_id`` to that device's state (None: first)."""
        if state is not None and state.device_id != envelope.device_id:
            raise ValueError(f"state of {state.device_id!r} given for {envelope.device_id!r}")
        dev = state.model_copy(deep=True) if state else DeviceAlerts(device_id=envelope.device_id)
        changes = self.apply(dev, envelope, now)
        return Evaluation(dev, changes, dev != state)

    def apply(self, state: DeviceAlerts, envelope: Envelope, now: datetime) -> list[Alert]:
        """:meth:`evaluate` in place: updates ``state`` and returns the changes.

        For the owner of the state, the streams worker, which persists a device's record after
        each of its accepted messages anyway: the deep copy and the comparison that
        :meth:`evaluate` pays for cost about three times the rules themselves.
        """
        if state.device_id != envelope.device_id:
            raise ValueError(f"state of {state.device_id!r} given for {envelope.device_id!r}")
        _update_context(state, envelope)
        changes: list[Alert] = []
        key = (envelope.ts_ms, envelope.seq if envelope.seq is not None else 0)
        for rule in self._rules:
            if not rule.scope.matches(envelope):
                continue
            if isinstance(rule, ThresholdRule | RateOfChangeRule):
                self._condition(state, rule, envelope, key, changes)
            elif isinstance(rule, GeofenceRule):
                self._geofence(state, rule, envelope, key, changes)
            elif isinstance(rule, AbsenceRule):
                self._absence_seen(state, rule, envelope, changes)
            else:
                self._offline_seen(state, rule, envelope, now, changes)
        return changes

    def tick(self, state: DeviceAlerts, now: datetime) -> Evaluation:
        """Time-driven checks (absence, offline) and clean-up of rules no longer in the file."""
        dev = state.model_copy(deep=True)
        changes, _ = self.apply_tick(dev, now)
        return Evaluation(dev, changes, dev != state)

    def apply_tick(self, state: DeviceAlerts, now: datetime) -> tuple[list[Alert], bool]:
        """:meth:`tick` in place: the changes, and whether ``state`` changed at all.

        A tick changes a state only by firing or by dropping a removed rule's state, so the
        flag costs nothing here; the worker skips the changelog record of an unchanged device.
        """
        changes: list[Alert] = []
        changed = False
        for fp, st in list(state.rules.items()):
            rule = self._by_id.get(st.rule)
            if rule is None:
                if st.firing:
                    changes.append(_orphan_resolved(state, fp, st, now))
                del state.rules[fp]
                changed = True
            elif isinstance(rule, OfflineRule):
                self._offline_check(state, rule, st, now, changes)
            elif isinstance(rule, AbsenceRule):
                self._absence_check(state, rule, st, now, changes)
        return changes, changed or bool(changes)

    # --- event-time rules ------------------------------------------------------------------

    def _condition(
        self,
        dev: DeviceAlerts,
        rule: ThresholdRule | RateOfChangeRule,
        envelope: Envelope,
        key: tuple[int, int],
        changes: list[Alert],
    ) -> None:
        if envelope.body.kind != rule.kind:
            return
        for item, raw in rule.path.values(envelope.body):
            subject = {"device_id": dev.device_id}
            if item is not None:
                subject[rule.item_label] = item
            st = _state(dev, rule, subject)
            if st.watermark is not None and key <= st.watermark:
                continue
            st.watermark = key
            at, value = envelope.ts, raw
            if isinstance(rule, RateOfChangeRule):
                prev, prev_at = st.prev_value, st.prev_at
                st.prev_value, st.prev_at = raw, at
                gap = (at - prev_at).total_seconds() if prev_at else 0.0
                if prev is None or not 0 < gap <= rule.max_gap:
                    continue  # no rate across a gap, or between two readings of the same instant
                value = (raw - prev) / gap * rule.per
            st.value = value
            status = _step(
                st,
                rule.fire_when(value),
                rule.should_resolve(value),
                at,
                rule.for_,
                rule.resolve_for,
            )
            if status:
                changes.append(_change(dev, rule, st, status, at))

    def _geofence(
        self,
        dev: DeviceAlerts,
        rule: GeofenceRule,
        envelope: Envelope,
        key: tuple[int, int],
        changes: list[Alert],
    ) -> None:
        body = envelope.body
        if not isinstance(body, MobilityPosition) or body.fix == "none" or self._zones is None:
            return  # fix "none" repeats the last known position: no news about where it is
        if rule.max_hdop is not None and body.hdop is not None and body.hdop > rule.max_hdop:
            return
        asset = body.asset_type or (envelope.enrichment.asset_type if envelope.enrichment else None)
        if rule.asset_types is not None and asset not in rule.asset_types:
            return
        st = _state(dev, rule, {"device_id": dev.device_id})
        if st.watermark is not None and key <= st.watermark:
            return
        st.watermark = key
        inside = self._zones.contains(rule.zone, body.lat, body.lon)
        outside_allowed = inside if rule.mode == "stay_inside" else not inside
        status = _step(
            st, not outside_allowed, outside_allowed, envelope.ts, rule.for_, rule.resolve_for
        )
        if status:
            where = {"lat": f"{body.lat:.6f}", "lon": f"{body.lon:.6f}"}
            changes.append(_change(dev, rule, st, status, envelope.ts, where))

    # --- receive-time rules ----------------------------------------------------------------

    def _absence_seen(
        self, dev: DeviceAlerts, rule: AbsenceRule, envelope: Envelope, changes: list[Alert]
    ) -> None:
        st = _state(dev, rule, {"device_id": dev.device_id})
        received = envelope.received_at
        if st.last_seen is None:
            st.last_seen = received  # first sight of the device starts the count
        if envelope.body.kind != rule.kind or (received <= st.last_seen and not st.firing):
            return
        st.last_seen = max(st.last_seen, received)
        if st.firing and st.starts_at is not None and received > st.starts_at:
            st.phase = "inactive"
            changes.append(_change(dev, rule, st, "resolved", received))

    def _absence_check(
        self, dev: DeviceAlerts, rule: AbsenceRule, st: RuleState, now: datetime, ch: list[Alert]
    ) -> None:
        if st.firing or st.last_seen is None:
            return
        if any(
            s.firing and isinstance(self._by_id.get(s.rule), OfflineRule)
            for s in dev.rules.values()
        ):
            return  # the offline alert already explains the silence: one page, not two
        hours = rule.active_hours
        due = hours.advance(st.last_seen, rule.for_) if hours else st.last_seen + _s(rule.for_)
        if now >= due:
            st.phase, st.starts_at, st.value = "firing", due, rule.for_ / 60
            ch.append(_change(dev, rule, st, "firing", due))

    def _offline_seen(
        self,
        dev: DeviceAlerts,
        rule: OfflineRule,
        envelope: Envelope,
        now: datetime,
        changes: list[Alert],
    ) -> None:
        st = _state(dev, rule, {"device_id": dev.device_id})
        received = envelope.received_at
        if st.last_seen is not None and received <= st.last_seen:
            return  # a replay, or older than what we know
        st.last_seen = received
        body = envelope.body
        says_offline = isinstance(body, DeviceStatus) and body.state == "offline"
        st.offline_since = received if says_offline else None
        if st.firing and not says_offline and st.starts_at is not None and received > st.starts_at:
            st.phase = "inactive"
            changes.append(_change(dev, rule, st, "resolved", received))
        self._offline_check(dev, rule, st, now, changes)

    def _offline_check(
        self, dev: DeviceAlerts, rule: OfflineRule, st: RuleState, now: datetime, ch: list[Alert]
    ) -> None:
        if st.firing or st.last_seen is None:
            return
        if st.offline_since is not None:
            due = st.offline_since + _s(rule.grace)
        else:
            due = st.last_seen + _s(rule.silence_limit(dev.expected_interval_s))
        if now >= due:
            st.phase, st.starts_at = "firing", due
            st.value = max(0.0, (now - st.last_seen).total_seconds() / 60)
            ch.append(_change(dev, rule, st, "firing", due))


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _state(dev: DeviceAlerts, rule: Rule, subject: dict[str, str]) -> RuleState:
    fp = fingerprint(rule.id, subject)
    st = dev.rules.get(fp)
    if st is None:
        st = dev.rules[fp] = RuleState(rule=rule.id, subject=subject)
    return st


def _step(
    st: RuleState, fire: bool, resolve: bool, at: datetime, for_s: float, resolve_for_s: float
) -> AlertStatus | None:
    """Advance the state machine by one observation; return the transition to publish, if any.

    A value between the two conditions (the hysteresis band) cancels a pending alert and
    keeps a firing one firing.
    """
    if not st.firing:
        if not fire:
            st.phase, st.since = "inactive", None
            return None
        if st.phase == "inactive" or st.since is None:
            st.phase, st.since = "pending", at
        if at - st.since >= _s(for_s):
            st.phase, st.since, st.starts_at = "firing", None, at
            return "firing"
        return None
    if not resolve:
        st.phase, st.since = "firing", None
        return None
    if st.phase == "firing" or st.since is None:
        st.phase, st.since = "recovering", at
    if at - st.since >= _s(resolve_for_s):
        st.phase, st.since = "inactive", None
        return "resolved"
    return None


def _update_context(dev: DeviceAlerts, envelope: Envelope) -> None:
    dev.facility = envelope.facility.value
    enrichment = envelope.enrichment
    dev.vendor = (enrichment.vendor if enrichment else None) or envelope.vendor
    if enrichment is not None:
        if enrichment.district_adcode is not None:
            dev.district = enrichment.district_adcode
            dev.district_zh = enrichment.district_name
            dev.district_en = enrichment.district_name_en
        if enrichment.expected_interval_s is not None:
            dev.expected_interval_s = enrichment.expected_interval_s


def _labels(dev: DeviceAlerts, rule: Rule, subject: dict[str, str]) -> dict[str, str]:
    labels = {"alertname": rule.id, "severity": rule.severity.value, "rule_type": rule.type}
    context = {"facility": dev.facility, "vendor": dev.vendor, "district": dev.district}
    labels.update({k: v for k, v in context.items() if v})
    labels.update(subject)
    labels.update(rule.labels)
    return labels


def _render(template: str, rule: Rule, dev: DeviceAlerts, st: RuleState, lang: str) -> str:
    district = (dev.district_zh if lang == "zh" else dev.district_en) or dev.district
    items = [v for k, v in st.subject.items() if k != "device_id"]
    context = {
        "rule": rule.id,
        "device_id": dev.device_id,
        "facility": dev.facility or "?",
        "vendor": dev.vendor or "?",
        "district": district or ("未知区县" if lang == "zh" else "unknown district"),
        "item": items[0] if items else "",
        "value": st.value if st.value is not None else math.nan,
    }
    try:
        return template.format_map(context)
    except (ValueError, TypeError):  # a format spec that does not fit the value: keep the text
        return template


def _change(
    dev: DeviceAlerts,
    rule: Rule,
    st: RuleState,
    status: AlertStatus,
    at: datetime,
    annotations: dict[str, str] | None = None,
) -> Alert:
    """Build the published change; resolving reuses the labels sent when firing."""
    if status == "firing":
        st.fired_labels = _labels(dev, rule, st.subject)
    labels = st.fired_labels or _labels(dev, rule, st.subject)
    starts_at = st.starts_at or at
    alert = Alert(
        status=status,
        fingerprint=fingerprint(rule.id, st.subject),
        rule=rule.id,
        rule_type=rule.type,
        severity=rule.severity,
        device_id=dev.device_id,
        labels=labels,
        summary_zh=_render(rule.summary_zh, rule, dev, st, "zh"),
        summary_en=_render(rule.summary_en, rule, dev, st, "en"),
        annotations=annotations or {},
        starts_at=starts_at,
        ends_at=at if status == "resolved" else None,
        value=st.value if st.value is not None and math.isfinite(st.value) else None,
    )
    if status == "resolved":
        st.starts_at, st.fired_labels = None, None
    return alert


def _orphan_resolved(dev: DeviceAlerts, fp: str, st: RuleState, now: datetime) -> Alert:
    """Resolve an alert whose rule left the file, so no receiver keeps it firing forever."""
    labels = st.fired_labels or {"alertname": st.rule, "severity": "info"}
    starts_at = st.starts_at or now
    return Alert(
        status="resolved",
        fingerprint=fp,
        rule=st.rule,
        rule_type=labels.get("rule_type", "unknown"),
        severity=labels.get("severity", "info"),
        device_id=dev.device_id,
        labels=labels,
        summary_zh=f"规则 {st.rule} 已删除，告警随之恢复",
        summary_en=f"Rule {st.rule} was removed; its alert is resolved",
        starts_at=starts_at,
        ends_at=max(now, starts_at),
        value=None,
    )
