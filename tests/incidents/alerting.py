"""What the alert tests share: the documentation's payloads (tests/fixtures/alerts), posting
to a hook, and the Alertmanager integration most of them use."""

import json
from pathlib import Path

from incidents.models import Integration
from status.models import ComponentStatus

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alerts"


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def post(client, secret, body, **headers):
    """POST `body` (JSON, or bytes/str as they are) to the hook of `secret`."""
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(f"/hooks/{secret}/", data=data, content_type="application/json",
                       headers=headers)  # fmt: skip


def error_rate_rule(component, **options):
    """HighErrorRate → `component`: critical → major outage, warning → degraded performance,
    anything else partial outage; `options` add to the rule (open_incident, template, …)."""
    return {
        "match": {"alertname": "HighErrorRate"},
        "component": component,
        "status": ComponentStatus.PARTIAL_OUTAGE,
        "severity_statuses": {
            "critical": ComponentStatus.MAJOR_OUTAGE,
            "warning": ComponentStatus.DEGRADED_PERFORMANCE,
        },
        **options,
    }


def make_alertmanager(page, component, **rule_options):
    """(integration, secret): an Alertmanager integration with error_rate_rule(component) and
    no hold-down."""
    return Integration.create(
        page,
        kind="alertmanager",
        name="Prometheus",
        hold_down_seconds=0,
        rules=[error_rate_rule(component, **rule_options)],
    )
