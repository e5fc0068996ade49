"""The OpenAPI schema is valid and served with its docs, and schemathesis, fuzzing every
operation with a valid key on a real page with real objects, finds no server error and no
response that the schema does not describe (status code, content type, body)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from incidents import monitors
from incidents.models import Incident, IncidentDraft, IncidentStatus, Integration
from notifications.models import Channel, Subscriber
from status.models import ApiKey, ComponentStatus, Metric

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_schema_is_served_as_openapi_3(client, db):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    data = response.json()
    assert data["openapi"].startswith("3.")
    assert "/api/v1/pages/{page_code}/incidents" in data["paths"]


def test_the_docs_use_local_assets_only(client, db):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "unpkg" not in html


def test_every_operation_describes_its_responses_precisely():
    """No bare `object` bodies: every 2xx with content refers to a described schema, and every
    operation documents its errors."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/pages"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"400", "401", "404", "422", "429"} <= set(responses), (method, path)
            for code, response in responses.items():
                if code == "204":
                    assert "content" not in response, (method, path)
                    continue
                body = response["content"]["application/json"]["schema"]
                body = body.get("items", body)
                assert "$ref" in body, (method, path, code, body)


@pytest.fixture
def keep_connection():
    """Schemathesis calls the WSGI app directly, whose request signals would close the test's
    database connection (inside the test's transaction, on PostgreSQL); Django's test client
    detaches them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_key(tenant_a, settings):
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "localhost"]
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True  # monitors' fuzzed URLs: no DNS look-ups
    return ApiKey.issue(tenant_a, "Fuzzer")[1]


@pytest.fixture
def objects(tenant_a):
    """Real objects for the path parameters, so that fuzzing reaches past the 404s."""
    page = tenant_a.page
    component = page.components.order_by("position").first()
    incident = Incident.declare(
        page,
        name="Errors on the API",
        body="We are looking into it.",
        component_statuses={component: ComponentStatus.PARTIAL_OUTAGE},
        notify=False,
    )
    incident.post_update(IncidentStatus.RESOLVED, "Fixed.", notify=False)
    subscriber = Subscriber.objects.create_subscriber(
        page, channel=Channel.EMAIL, email="ops@example.com", skip_confirmation=True
    )
    integration, _secret = Integration.create(page, kind="generic", name="Alerts")
    draft = IncidentDraft.objects.create(
        page=page, integration=integration, name="Errors", component_statuses={}
    )
    return {
        "page_code": page.code,
        "component_code": component.code,
        "group_code": page.groups.first().code,
        "incident_code": incident.code,
        "update_code": incident.updates.first().code,
        "subscriber_code": subscriber.code,
        "draft_code": draft.code,
        "monitor_code": monitors.create(
            page, kind="heartbeat", name="Cron", component=component
        ).code,
        "metric_code": Metric.add(by=None, page=page, name="Latency", suffix="ms").code,
    }


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_operation_answers_what_the_schema_says(case, keep_connection, fuzz_key, objects):
    for name in case.path_parameters or {}:
        if name in objects:
            case.path_parameters[name] = objects[name]
    # The valid key always (schemathesis would otherwise fuzz the header too, mostly into 401s).
    case.headers = {**(case.headers or {}), "Authorization": f"OAuth {fuzz_key}"}
    case.call_and_validate(checks=CHECKS)
