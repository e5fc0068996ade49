"""Findings of the security review in the console: a removed member's API keys, and logos that
are small in bytes but huge in pixels."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from status.models import ApiKey, AuditLogEntry, Membership, Page, Role

HTMX = {"HX-Request": "true"}


def remove_url(page, membership):
    return reverse(
        "manage:member-remove", kwargs={"page_code": page.code, "member_code": membership.code}
    )


def api_answer(secret, page):
    return Client().get(f"/api/v1/pages/{page.code}", HTTP_AUTHORIZATION=f"OAuth {secret}")


# A removed member's API keys go with them.


def test_removing_a_member_revokes_the_api_keys_they_created(client, tenant_a, owner_a, editor_a):
    page = tenant_a.page
    # Made while they were an owner; the owner's own key stays.
    theirs, their_secret = ApiKey.issue(tenant_a, "Deploy pipeline", by=editor_a)
    other, _ = ApiKey.issue(tenant_a, "Terraform", by=editor_a)
    mine, my_secret = ApiKey.issue(tenant_a, "Owner's", by=owner_a)
    assert api_answer(their_secret, page).status_code == 200
    editor = Membership.objects.get(tenant=tenant_a, user=editor_a)
    client.force_login(owner_a)

    confirmation = client.get(remove_url(page, editor))
    assert "the 2 API keys they created are revoked" in confirmation.text

    response = client.post(remove_url(page, editor), follow=True)

    assert "Removed a-editor@example.com from Alpha and revoked the 2 API keys they created." in (
        response.text
    )
    assert not Membership.objects.filter(pk=editor.pk).exists()
    assert api_answer(their_secret, page).status_code == 401
    assert api_answer(my_secret, page).status_code == 200
    revoked = {key.name for key in ApiKey.objects.filter(revoked_at__isnull=False)}
    assert revoked == {"Deploy pipeline", "Terraform"}
    entries = AuditLogEntry.objects.filter(action="api_key.revoke", actor=owner_a)
    assert {entry.object_code for entry in entries} == {theirs.code, other.code}


def test_removing_a_member_with_htmx_says_how_many_keys_were_revoked(
    client, tenant_a, owner_a, editor_a
):
    page = tenant_a.page
    ApiKey.issue(tenant_a, "Deploy pipeline", by=editor_a)
    editor = Membership.objects.get(tenant=tenant_a, user=editor_a)
    client.force_login(owner_a)

    response = client.post(remove_url(page, editor), headers=HTMX)

    assert response.status_code == 200
    team = client.get(response["HX-Redirect"]).text
    assert "Removed a-editor@example.com from Alpha and revoked the API key they created." in team
    assert not ApiKey.objects.active().filter(created_by=editor_a).exists()


def test_keys_of_a_member_who_has_none_change_nothing_and_the_message_stays_short(
    client, tenant_a, owner_a, viewer_a
):
    page = tenant_a.page
    mine, _ = ApiKey.issue(tenant_a, "Owner's", by=owner_a)
    viewer = Membership.objects.get(tenant=tenant_a, user=viewer_a)
    client.force_login(owner_a)

    response = client.post(remove_url(page, viewer), follow=True)

    assert "Removed a-viewer@example.com from Alpha." in response.text
    assert ApiKey.objects.get(pk=mine.pk).is_active


def test_a_member_of_two_tenants_keeps_the_keys_of_the_other(tenant_a, tenant_b, editor_a):
    Membership.objects.create(user=editor_a, tenant=tenant_b, role=Role.OWNER)
    ApiKey.issue(tenant_a, "Alpha's", by=editor_a)
    elsewhere, _ = ApiKey.issue(tenant_b, "Bravo's", by=editor_a)

    revoked = Membership.objects.get(tenant=tenant_a, user=editor_a).revoke_api_keys()

    assert [key.name for key in revoked] == ["Alpha's"]
    assert ApiKey.objects.get(pk=elsewhere.pk).is_active


def test_another_tenants_owner_cannot_remove_a_member_or_their_keys(
    client, tenant_a, tenant_b, owner_b, editor_a
):
    key, _ = ApiKey.issue(tenant_a, "Deploy pipeline", by=editor_a)
    editor = Membership.objects.get(tenant=tenant_a, user=editor_a)
    client.force_login(owner_b)

    assert client.post(remove_url(tenant_b.page, editor)).status_code == 404
    assert client.post(remove_url(tenant_a.page, editor)).status_code == 404
    assert Membership.objects.filter(pk=editor.pk).exists()
    assert ApiKey.objects.get(pk=key.pk).is_active


# Logos are capped in pixels, not only in bytes.


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def png(size):
    buffer = io.BytesIO()
    Image.new("1", size).save(buffer, "PNG", optimize=True)
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def post_logo(client, page, upload):
    return client.post(
        reverse("manage:settings", kwargs={"page_code": page.code}),
        {
            "name": page.name,
            "slug": page.slug,
            "custom_domain": page.custom_domain or "",
            "time_zone": page.time_zone,
            "accent_color": page.accent_color,
            "logo": upload,
        },
    )


@pytest.mark.parametrize("size", [(4097, 16), (16, 4097), (8000, 8000)])
def test_a_logo_larger_than_4096_pixels_either_way_is_refused(
    client, page, owner_a, tmp_path, size
):
    upload = png(size)
    assert upload.size < 1024 * 1024  # small in bytes: only its pixels are too many
    client.force_login(owner_a)

    response = post_logo(client, page, upload)

    assert response.status_code == 200
    assert "at most 4096×4096 pixels" in response.text
    assert Page.objects.get(pk=page.pk).logo.name == ""
    assert not (tmp_path / "logos").exists()


def test_a_logo_of_4096_pixels_is_accepted(client, page, owner_a):
    client.force_login(owner_a)

    response = post_logo(client, page, png((4096, 64)))

    assert response.status_code == 302
    assert Page.objects.get(pk=page.pk).logo.name == f"logos/{page.code}.png"
