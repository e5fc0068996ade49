"""API keys in the console: the secret is shown once, the list shows only prefixes."""

import re

import pytest

from status.models import ApiKey, AuditLogEntry, Role
from tests.html import hrefs, text_of, visible

HTMX = {"hx-request": "true"}


def keys_url(page):
    return f"/manage/{page.code}/api-keys/"


def create_url(page):
    return f"/manage/{page.code}/api-keys/new/"


def revoke_url(page, key):
    return f"/manage/{page.code}/api-keys/{key.code}/revoke/"


def secret_in(html):
    return re.search(r'value="(hg_[\w-]+)"', html).group(1)


def test_owner_creates_a_key_and_sees_its_secret_once(client, tenant_a, owner_a):
    client.force_login(owner_a)
    response = client.post(create_url(tenant_a.page), {"name": "Deploy pipeline"})
    assert response.status_code == 200
    assert "Copy it now: it is shown only this once" in response.text
    assert "no-store" in response["Cache-Control"]
    secret = secret_in(response.text)

    key = ApiKey.objects.get()
    assert (key.name, key.tenant, key.created_by) == ("Deploy pipeline", tenant_a, owner_a)
    assert ApiKey.authenticate(secret) == key

    listing = client.get(keys_url(tenant_a.page)).text
    assert "Deploy pipeline" in listing
    assert f"{key.prefix}…" in listing
    assert secret not in listing
    assert "Copy it now" not in listing
    assert "a-owner@example.com" in listing

    entry = AuditLogEntry.objects.get(action="api_key.create")
    assert entry.after == {"name": "Deploy pipeline", "prefix": key.prefix}
    assert secret not in str(entry.after)


def test_creating_with_htmx_returns_the_keys_block_with_the_secret(client, tenant_a, owner_a):
    client.force_login(owner_a)
    response = client.post(create_url(tenant_a.page), {"name": "Terraform"}, headers=HTMX)
    assert "<html" not in response.text
    assert 'id="api-keys"' in response.text
    assert ApiKey.authenticate(secret_in(response.text)).name == "Terraform"


def test_a_key_needs_a_name(client, tenant_a, owner_a):
    client.force_login(owner_a)
    for data in [{"name": ""}, {"name": "x" * 101}]:
        response = client.post(create_url(tenant_a.page), data)
        assert response.status_code == 200
        assert 'class="errors"' in response.text
        assert "hg_" not in response.text
    assert not ApiKey.objects.exists()


def test_owner_revokes_a_key_after_confirming_and_it_stops_working(client, tenant_a, owner_a):
    key, secret = ApiKey.issue(tenant_a, "CI", by=owner_a)
    client.force_login(owner_a)

    confirmation = client.get(revoke_url(tenant_a.page, key))
    assert "Revoke the key “CI”?" in confirmation.text
    assert ApiKey.authenticate(secret) == key

    response = client.post(revoke_url(tenant_a.page, key), follow=True)
    assert "Revoked the key “CI”." in response.text
    assert "Revoked" in response.text
    assert ApiKey.authenticate(secret) is None
    entry = AuditLogEntry.objects.get(action="api_key.revoke")
    assert entry.before == {"revoked_at": None}
    assert entry.after["revoked_at"]

    # Revoking again changes nothing and records nothing.
    client.post(revoke_url(tenant_a.page, key), headers=HTMX)
    assert AuditLogEntry.objects.filter(action="api_key.revoke").count() == 1


def test_revoking_with_htmx_returns_the_row(client, tenant_a, owner_a):
    key, _ = ApiKey.issue(tenant_a, "CI", by=owner_a)
    client.force_login(owner_a)
    response = client.post(revoke_url(tenant_a.page, key), headers=HTMX)
    assert "<html" not in response.text
    assert f'id="key-{key.code}"' in response.text
    assert "Revoked" in response.text


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_see_keys_without_secrets_or_controls(client, tenant_a, owner_a, role):
    key, secret = ApiKey.issue(tenant_a, "CI", by=owner_a)
    client.force_login(tenant_a.memberships.get(role=role).user)
    listing = client.get(keys_url(tenant_a.page))
    assert listing.status_code == 200
    assert "CI" in listing.text
    assert f"{key.prefix}…" in listing.text
    assert secret not in listing.text
    assert "Only owners create or revoke keys." in listing.text
    assert "Create a key" not in listing.text
    assert "/revoke/" not in listing.text

    assert client.post(create_url(tenant_a.page), {"name": "Mine"}).status_code == 403
    assert client.post(revoke_url(tenant_a.page, key)).status_code == 403
    assert client.get(revoke_url(tenant_a.page, key)).status_code == 403
    assert ApiKey.objects.count() == 1
    assert ApiKey.authenticate(secret) == key


def test_another_tenants_owner_gets_404_and_changes_nothing(
    client, tenant_a, tenant_b, owner_a, owner_b
):
    key, secret = ApiKey.issue(tenant_a, "CI", by=owner_a)
    client.force_login(owner_b)
    assert client.get(keys_url(tenant_a.page)).status_code == 404
    assert client.post(create_url(tenant_a.page), {"name": "Mine"}).status_code == 404
    for page in [tenant_a.page, tenant_b.page]:
        assert client.get(revoke_url(page, key)).status_code == 404
        assert client.post(revoke_url(page, key)).status_code == 404
    assert ApiKey.authenticate(secret) == key
    assert list(tenant_a.api_keys.all()) == [key]
    assert not tenant_b.api_keys.exists()
    # As a word of the page's text: random tokens in its markup (nonces) may hold "CI".
    assert "CI" not in text_of(client.get(keys_url(tenant_b.page)).text).split()


def test_the_page_tells_how_to_use_the_api_with_this_pages_id_and_the_docs(
    client, tenant_a, viewer_a
):
    client.force_login(viewer_a)
    body = visible(client.get(keys_url(tenant_a.page)))
    usage = body.find("section", class_="api-usage")
    assert usage.find("code", id="page-id").text == tenant_a.page.code
    assert "/api/v1/docs/" in hrefs(usage)
    assert f"http://testserver/api/v1/pages/{tenant_a.page.code}/components" in usage.text
    assert "Authorization: OAuth" in usage.text
    copy = usage.find("button", **{"data-copy": "page-id"})
    assert copy.attrs["type"] == "button"


def test_the_new_key_has_a_copy_button_that_needs_no_inline_script(client, tenant_a, owner_a):
    client.force_login(owner_a)
    response = client.post(create_url(tenant_a.page), {"name": "Deploy pipeline"})
    body = visible(response)
    button = body.find("button", **{"data-copy": "new-secret"})
    # Hidden until static/js/copy.js shows it: without JavaScript nothing offers a dead button.
    assert "hidden" in button.attrs
    assert button.attrs["data-copy-status"] == "new-secret-status"
    assert body.find("span", id="new-secret-status").attrs["role"] == "status"
    scripts = body.find_all("script")
    assert "/static/js/copy.js" in [script.attrs.get("src") for script in scripts]
    assert all(script.attrs.get("src") for script in scripts), "no inline script"
    assert not any("onclick" in element.attrs for element in body.iter())
