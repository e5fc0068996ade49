"""The console's system metrics page: list, add, edit, show or hide, clear data, delete; form
errors for bad input with nothing saved; viewers read only; other tenants get 404 (the whole
matrix is tests/console/test_tenant_matrix.py)."""

from django.urls import reverse

from status.models import AuditLogEntry, Metric, MetricPoint, MetricRollup
from tests.html import visible


def url(name, page, **kwargs):
    return reverse(f"manage:{name}", kwargs={"page_code": page.code, **kwargs})


def test_an_editor_adds_a_metric_and_sees_it_listed_and_on_the_public_page(
    client, tenant_a, editor_a
):
    page = tenant_a.page
    client.force_login(editor_a)
    response = client.post(
        url("metric-create", page),
        {"name": "Queue wait", "suffix": "s", "decimal_places": "2", "display": "on"},
    )
    assert response.status_code == 302, response.content
    metric = Metric.objects.get(page=page, name="Queue wait")
    assert (metric.suffix, metric.decimal_places, metric.display) == ("s", 2, True)
    assert AuditLogEntry.objects.filter(action="metric.create", actor=editor_a).exists()
    row = visible(client.get(url("metrics", page))).find("tr", id=f"metric-{metric.code}")
    assert "Queue wait" in row.text and metric.code in row.text and "No data" in row.text
    metric.record(1.5)
    row = visible(client.get(url("metrics", page))).find("tr", id=f"metric-{metric.code}")
    assert "1.50 s" in row.text
    public = visible(client.get(f"/p/{page.slug}/"))
    assert "Queue wait" in public.find("section", class_="metrics").text


def test_editing_hiding_clearing_and_deleting(client, tenant_a, editor_a):
    page = tenant_a.page
    client.force_login(editor_a)
    metric = Metric.add(by=None, page=page, name="Latency", suffix="ms")
    metric.record(10.0)
    code = metric.code
    response = client.post(
        url("metric-edit", page, metric_code=code),
        {"name": "API latency", "suffix": "ms", "decimal_places": "1", "y_axis_min": "0",
         "y_axis_max": "500", "display": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.name, metric.y_axis_max, metric.decimal_places) == ("API latency", 500, 1)

    client.post(url("metric-display", page, metric_code=code), {})
    metric.refresh_from_db()
    assert metric.display is False
    assert "API latency" not in client.get(f"/p/{page.slug}/").text
    client.post(url("metric-display", page, metric_code=code), {"display": "on"})
    metric.refresh_from_db()
    assert metric.display is True

    confirm = visible(client.get(url("metric-clear", page, metric_code=code)))
    assert "Clear the data of API latency?" in confirm.text
    assert client.post(url("metric-clear", page, metric_code=code)).status_code == 302
    assert not MetricPoint.objects.exists() and not MetricRollup.objects.exists()
    assert Metric.objects.filter(pk=metric.pk).exists()

    assert client.post(url("metric-delete", page, metric_code=code)).status_code == 302
    assert not Metric.objects.filter(pk=metric.pk).exists()
    assert AuditLogEntry.objects.filter(action="metric.delete", object_code=code).exists()


def test_bad_input_shows_form_errors_and_saves_nothing(client, tenant_a, editor_a):
    page = tenant_a.page
    client.force_login(editor_a)
    for data in [
        {"name": "", "decimal_places": "0"},
        {"name": "X", "decimal_places": "9"},
        {"name": "X", "decimal_places": "0", "y_axis_min": "10", "y_axis_max": "5"},
        {"name": "X", "decimal_places": "0", "y_axis_max": "lots"},
        {"name": "Line\nbreak", "decimal_places": "0"},
    ]:
        response = client.post(url("metric-create", page), data)
        assert response.status_code == 200, data
        assert visible(response).find_all(class_="errors"), data
    assert not Metric.objects.exists()


def test_a_viewer_reads_the_list_but_cannot_change_it(client, tenant_a, viewer_a):
    page = tenant_a.page
    metric = Metric.add(by=None, page=page, name="Latency")
    client.force_login(viewer_a)
    body = visible(client.get(url("metrics", page)))
    assert "Latency" in body.text and "Add a metric" not in body.text
    assert client.post(url("metric-delete", page, metric_code=metric.code)).status_code == 403
    assert Metric.objects.filter(pk=metric.pk).exists()


def test_another_tenants_owner_gets_404(client, tenant_a, tenant_b):
    metric = Metric.add(by=None, page=tenant_a.page, name="Latency")
    client.force_login(tenant_b.memberships.get().user)
    assert client.get(url("metrics", tenant_a.page)).status_code == 404
    path = url("metric-delete", tenant_b.page, metric_code=metric.code)
    assert client.post(path).status_code == 404
    assert Metric.objects.filter(pk=metric.pk).exists()


def test_a_monitors_metric_cannot_be_deleted_on_its_own(client, tenant_a, editor_a):
    metric = Metric.add(by=None, page=tenant_a.page, name="Check response time", source="monitor")
    client.force_login(editor_a)
    response = client.post(f"/manage/{tenant_a.page.code}/metrics/{metric.code}/delete/",
                           follow=True)  # fmt: skip
    assert response.status_code == 200
    assert "it is deleted with its monitor" in response.text
    assert Metric.objects.filter(pk=metric.pk).exists()
