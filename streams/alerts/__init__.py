"""Alerting: rules as data, a pure engine, the ``alerts`` point, and webhook delivery.

Read in data-flow order: ``rules`` (the YAML file's models) → ``engine`` (state + message or
tick → state + :class:`Alert` changes) → ``line`` (InfluxDB point) and ``webhooks`` (formats and
the notifier). ``README.md`` beside this file lists settings and metrics.
"""

from __future__ import annotations

from core.settings.alert import AlertSettings, WebhookEndpoint
from schemas.alert import Alert, AlertStatus, Severity
from streams.alerts.engine import AlertEngine, Evaluation
from streams.alerts.line import alert_point
from streams.alerts.rules import Rule, RulesError, RuleSet, load_rules, parse_rules
from streams.alerts.state import DeviceAlerts, RuleState, fingerprint
from streams.alerts.zones import Zones, build_zones

__all__ = [
    "Alert",
    "AlertEngine",
    "AlertSettings",
    "AlertStatus",
    "DeviceAlerts",
    "Evaluation",
    "Rule",
    "RuleSet",
    "RuleState",
    "RulesError",
    "Severity",
    "WebhookEndpoint",
    "Zones",
    "alert_point",
    "build_zones",
    "fingerprint",
    "load_rules",
    "parse_rules",
]
