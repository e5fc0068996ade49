"""The cross-tenant matrix of the management API: every route of /api/v1/pages/<page_code>/…,
read from the URLconf, walked with every method it accepts using tenant B's key against tenant
A's objects: 404 each time, and A's rows unchanged. Walked twice: with A's page code, and with
B's own page code and one of A's object codes (an object looked up by its code alone, not
within the page, would be found then). Controls make the same requests with each tenant's own
codes and check that they do reach its objects (a matrix failing for another reason would
prove nothing)."""

import re
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from incidents import monitors
from incidents.models import (
    Incident,
    IncidentDraft,
    IncidentStatus,
    IncidentUpdate,
    Integration,
    Monitor,
)
from notifications.models import Subscriber
from status.models import Component, ComponentGroup, Metric, MetricPoint, Page

WRITE_BODIES = {
    "page": {"page": {"name": "Taken over"}},
    "component": {"component": {"name": "Taken over", "status": "major_outage"}},
    "component_group": {"component_group": {"name": "Taken over"}},
    "incident": {"incident": {"name": "Taken over", "status": "resolved", "body": "x"}},
    "incident_update": {"incident_update": {"body": "Taken over"}},
    "postmortem": {"postmortem": {"body_draft": "Taken over"}},
    "subscriber": {"subscriber": {"email": "intruder@example.com"}},
    "integration": {"integration": {"kind": "generic", "name": "Taken over"}},
    "monitor": {"monitor": {"name": "Taken over", "enabled": False}},
    "metric": {"metric": {"name": "Taken over", "display": False}},
}


def api_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif (
                isinstance(pattern, URLPattern) and getattr(pattern.callback, "access", "") == "api"
            ):
                yield route, pattern.callback

    return [(r, c) for r, c in walk(get_resolver().url_patterns) if "<str:page_code>" in r]


def methods_of(callback):
    return sorted(m for m in callback.cls.http_method_names if hasattr(callback.cls, m)
                  and m not in ("options", "head"))  # fmt: skip


def body_for(route):
    for segment, key in [("postmortem", "postmortem"), ("incident_updates", "incident_update"),
                         ("subscribers", "subscriber"), ("component-groups", "component_group"),
                         ("integrations", "integration"), ("monitors", "monitor"),
                         ("metrics", "metric"),
                         ("incidents", "incident"), ("components", "component")]:  # fmt: skip
        if segment in route:
            return WRITE_BODIES[key]
    return WRITE_BODIES["page"]


def objects_of(page, who):
    """The codes of one object of each kind in `page`, by the route parameter they fill."""
    incident = Incident.declare(page, name=f"{who}'s incident", body=f"{who}'s words")
    incident.post_update(IncidentStatus.RESOLVED, "Resolved")
    now = timezone.now()
    Incident.schedule(page, name=f"{who}'s maintenance", scheduled_for=now + timedelta(days=1),
                      scheduled_until=now + timedelta(days=1, hours=1))  # fmt: skip
    subscriber = Subscriber.objects.create_subscriber(
        page, channel="email", email=f"{who.lower()}@example.com"
    )
    integration, _secret = Integration.create(page, kind="alertmanager", name=f"{who}'s alerts")
    draft = IncidentDraft.objects.create(page=page, integration=integration, name=f"{who}'s draft")
    monitor = monitors.create(page, kind="heartbeat", name=f"{who}'s cron",
                              component=page.components.first())  # fmt: skip
    metric = Metric.add(by=None, page=page, name=f"{who}'s latency")
    metric.record(12.5)
    return {
        "page_code": page.code,
        "integration_code": integration.code,
        "metric_code": metric.code,
        "draft_code": draft.code,
        "monitor_code": monitor.code,
        "component_code": page.components.first().code,
        "group_code": page.groups.first().code,
        "incident_code": incident.code,
        "update_code": incident.updates.first().code,
        "subscriber_code": subscriber.code,
    }


@pytest.fixture
def objects_a(tenant_a):
    return objects_of(tenant_a.page, "A")


@pytest.fixture
def objects_b(tenant_b):
    return objects_of(tenant_b.page, "B")


def object_params(route):
    """The route's parameters other than the page code: component_code, update_code, …"""
    return [name for name in re.findall(r"<str:(\w+)>", route) if name != "page_code"]


def fill(route, objects):
    path = "/" + route
    for name, value in objects.items():
        path = path.replace(f"<str:{name}>", value)
    assert "<" not in path, path
    return path


def state_of(page):
    return (
        list(Page.objects.filter(pk=page.pk).values()),
        list(Component.objects.filter(page=page).values()),
        list(ComponentGroup.objects.filter(page=page).values()),
        list(Incident.objects.filter(page=page).values()),
        list(IncidentUpdate.objects.filter(incident__page=page).values()),
        list(Subscriber.objects.filter(page=page).values()),
        list(Integration.objects.filter(page=page).values()),
        list(IncidentDraft.objects.filter(page=page).values()),
        list(Monitor.objects.filter(page=page).values()),
        list(Metric.objects.filter(page=page).values()),
        list(MetricPoint.objects.filter(metric__page=page).values()),
    )


def test_the_matrix_sees_every_api_route():
    routes = {route for route, _ in api_routes()}
    assert len(routes) == 30
    assert "api/v1/pages/<str:page_code>/subscribers/<str:subscriber_code>" in routes


def test_tenant_bs_key_gets_404_on_every_route_and_method_against_tenant_a(
    api_b, tenant_a, objects_a
):
    before = state_of(tenant_a.page)
    for route, callback in api_routes():
        path = fill(route, objects_a)
        for method in methods_of(callback):
            body = body_for(route) if method in ("post", "put", "patch") else None
            response = api_b.request(method, path, body)
            assert response.status_code == 404, (method, path, response.status_code)
            assert response.json()["error"] == "not_found"
    assert state_of(tenant_a.page) == before


def test_tenant_bs_key_and_page_code_get_404_on_every_route_and_method_with_one_of_as_codes(
    api_b, tenant_a, tenant_b, objects_a, objects_b
):
    before = state_of(tenant_a.page), state_of(tenant_b.page)
    walked = set()
    for route, callback in api_routes():
        for param in object_params(route):
            # B's own page and objects, but for one parameter A's object.
            path = fill(route, {**objects_b, param: objects_a[param]})
            for method in methods_of(callback):
                body = body_for(route) if method in ("post", "put", "patch") else None
                response = api_b.request(method, path, body)
                assert response.status_code == 404, (method, path, response.status_code)
                assert response.json()["error"] == "not_found", (method, path)
            walked.add(param)
    assert walked == {"component_code", "group_code", "incident_code", "update_code",
                      "subscriber_code", "integration_code", "monitor_code",
                      "draft_code", "metric_code"}  # fmt: skip
    assert (state_of(tenant_a.page), state_of(tenant_b.page)) == before


def test_the_same_reads_with_tenant_bs_key_and_its_own_codes_succeed(api_b, objects_b):
    """B's key and page code reach B's objects: the 404s above come from A's code alone."""
    reads = 0
    for route, callback in api_routes():
        if object_params(route) and "get" in methods_of(callback):
            response = api_b.get(fill(route, objects_b))
            assert response.status_code == 200, (route, response.content)
            reads += 1
    # A component, its uptime, a group, an incident, its postmortem, a subscriber, an integration,
    # a monitor, an incident draft, a metric.
    assert reads == 10


def test_the_same_reads_with_tenant_as_key_succeed(api_a, objects_a):
    for route, callback in api_routes():
        if "get" in methods_of(callback):
            response = api_a.get(fill(route, objects_a))
            assert response.status_code == 200, (route, response.content)


def test_the_same_writes_with_tenant_as_key_are_accepted(api_a, tenant_a, objects_a):
    """The bodies of the matrix are valid: with A's key, each write is not refused."""
    for route, callback in api_routes():
        path = fill(route, objects_a)
        for method in methods_of(callback):
            if method in ("patch", "put"):
                response = api_a.request(method, path, body_for(route))
                assert response.status_code in (200, 422), (method, path, response.content)
    assert Page.objects.get(pk=tenant_a.page.pk).name == "Taken over"
    assert Component.objects.filter(page=tenant_a.page, name="Taken over").exists()
