"""One tenant can never see or change another's data."""

from status.models import ComponentStatusChange


def status_url(page, component):
    return f"/manage/{page.code}/components/{component.code}/status/"


def test_members_see_their_pages_and_not_others(client, tenant_a, tenant_b, viewer_a):
    client.force_login(viewer_a)
    response = client.get("/manage/")
    assert "Alpha" in response.text
    assert "Bravo" not in response.text


def test_another_tenants_page_is_404(client, tenant_a, tenant_b, owner_b):
    client.force_login(owner_b)
    assert client.get(f"/manage/{tenant_a.page.code}/").status_code == 404
    assert client.get(f"/manage/{tenant_b.page.code}/").status_code == 200


def test_another_tenants_component_cannot_be_changed(client, tenant_a, tenant_b, owner_b):
    client.force_login(owner_b)
    component = tenant_a.page.components.get(name="API")
    before = ComponentStatusChange.objects.count()

    # Through A's page, and through B's own page with A's component code.
    for page in [tenant_a.page, tenant_b.page]:
        response = client.post(status_url(page, component), {"status": "major_outage"})
        assert response.status_code == 404

    component.refresh_from_db()
    assert component.status == "operational"
    assert ComponentStatusChange.objects.count() == before


def test_editor_changes_a_component_status_and_history_is_written(client, tenant_a, editor_a):
    client.force_login(editor_a)
    component = tenant_a.page.components.get(name="API")
    response = client.post(
        status_url(tenant_a.page, component),
        {"status": "partial_outage"},
        headers={"hx-request": "true"},
    )
    assert response.status_code == 200
    assert 'value="partial_outage" selected' in response.text
    assert "<html" not in response.text  # the row alone, for HTMX to swap in
    assert [c.status for c in component.status_changes.order_by("started_at")] == [
        "operational",
        "partial_outage",
    ]
    assert "Partial outage" in client.get("/p/alpha/").text


def test_viewer_reads_but_cannot_change(client, tenant_a, viewer_a):
    client.force_login(viewer_a)
    component = tenant_a.page.components.get(name="API")
    page_html = client.get(f"/manage/{tenant_a.page.code}/").text
    assert "<select" not in page_html
    response = client.post(status_url(tenant_a.page, component), {"status": "major_outage"})
    assert response.status_code == 403
    component.refresh_from_db()
    assert component.status == "operational"


def test_unknown_status_is_a_clear_400(client, tenant_a, editor_a):
    client.force_login(editor_a)
    component = tenant_a.page.components.get(name="API")
    response = client.post(status_url(tenant_a.page, component), {"status": "on_fire"})
    assert response.status_code == 400
    assert "Unknown status" in response.text


def test_console_needs_sign_in(client, tenant_a):
    response = client.get(f"/manage/{tenant_a.page.code}/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
