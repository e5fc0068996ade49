"""A page's settings: owners change them; editors and viewers read them."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from status.models import SUBSCRIBER_SETTINGS, AuditLogEntry, Page, Role

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def settings_url(page):
    return reverse("manage:settings", kwargs={"page_code": page.code})


def current(page):
    """The page's settings as the form sends them."""
    return {
        "name": page.name,
        "slug": page.slug,
        "custom_domain": page.custom_domain or "",
        "time_zone": page.time_zone,
        "company_url": page.company_url,
        "support_url": page.support_url,
        "accent_color": page.accent_color,
        **{name: "on" if getattr(page, name) else "" for name in SUBSCRIBER_SETTINGS},
    }


def saved(page):
    fresh = Page.objects.get(pk=page.pk)
    return {**current(fresh), "logo": fresh.logo.name}


def image(fmt="PNG", size=(8, 8), name="logo.png", noise=False):
    picture = Image.new("RGB", size, "#336699")
    if noise:
        picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def test_owner_changes_the_settings_and_the_public_page_follows(client, page, owner_a):
    client.force_login(owner_a)
    form = client.get(settings_url(page)).text
    assert 'type="color"' in form
    assert '<option value="Europe/Paris">Paris (Europe/Paris)</option>' in form

    response = client.post(
        settings_url(page),
        {
            **current(page),
            "name": "Alpha Inc.",
            "slug": "alpha-inc",
            "time_zone": "America/Guayaquil",
            "company_url": "https://alpha.example/",
            "support_url": "https://alpha.example/help",
            "accent_color": "#aa3300",
            "allow_webhook_subscribers": "",
        },
    )
    assert response.status_code == 302
    assert response.url == settings_url(page)
    page.refresh_from_db()
    assert (page.name, page.slug, page.time_zone, page.accent_color) == (
        "Alpha Inc.",
        "alpha-inc",
        "America/Guayaquil",
        "#aa3300",
    )
    assert page.allow_email_subscribers and not page.allow_webhook_subscribers
    assert "Settings saved." in client.get(settings_url(page)).text

    public = client.get("/p/alpha-inc/").text
    assert "--accent: #aa3300" in public
    assert 'href="https://alpha.example/help">Support' in public
    assert "America/Guayaquil" in public
    assert client.get("/p/alpha/").status_code == 404

    entry = AuditLogEntry.objects.get(action="page.update")
    assert entry.actor == owner_a and entry.page == page
    assert (entry.before["slug"], entry.after["slug"]) == ("alpha", "alpha-inc")
    assert entry.before["allow_webhook_subscribers"] is True
    assert entry.after["allow_webhook_subscribers"] is False


def test_each_subscription_channel_is_a_setting_the_subscribe_page_follows(client, page, owner_a):
    client.force_login(owner_a)
    form = client.get(settings_url(page)).text
    for label in ("by SMS", "in Slack", "in Microsoft Teams", "in Discord", "in Google Chat"):
        assert f"Visitors may subscribe {label}" in form

    response = client.post(
        settings_url(page),
        {**current(page), "allow_slack_subscribers": "", "allow_discord_subscribers": ""},
    )

    assert response.status_code == 302
    page.refresh_from_db()
    assert not page.allow_slack_subscribers and not page.allow_discord_subscribers
    assert page.allow_teams_subscribers and page.allow_webhook_subscribers
    subscribe = client.get("/p/alpha/subscribe/").text
    assert 'value="slack"' not in subscribe and 'value="discord"' not in subscribe
    assert 'value="teams"' in subscribe and 'value="webhook"' in subscribe
    entry = AuditLogEntry.objects.get(action="page.update")
    assert (entry.before["allow_slack_subscribers"], entry.after["allow_slack_subscribers"]) == (
        True,
        False,
    )
    assert "Slack subscriptions" in client.get(f"/manage/{page.code}/audit/").text


def test_saving_unchanged_settings_writes_no_audit_entry(client, page, owner_a):
    client.force_login(owner_a)
    client.post(settings_url(page), current(page))
    assert not AuditLogEntry.objects.exists()


def test_the_dns_instructions_point_the_custom_domain_at_the_pages_host(
    client, page, owner_a, settings
):
    client.force_login(owner_a)
    settings.PUBLIC_BASE_DOMAIN = "status.example.net"
    html = client.get(settings_url(page)).text
    assert "<td>CNAME</td><td><code>status.alpha.example</code></td>" in html
    assert "bare domain" in html
    assert "<code>alpha.status.example.net</code>" in html

    settings.PUBLIC_BASE_DOMAIN = ""
    html = client.get(settings_url(page)).text
    assert "<td><code>testserver</code></td>" in html  # the SITE_URL's host

    Page.objects.filter(pk=page.pk).update(custom_domain=None)
    html = client.get(settings_url(page)).text
    assert "add a <strong>CNAME</strong> record from it to <code>testserver</code>" in html


def test_with_an_ip_address_for_a_site_the_record_is_an_a_record(client, page, owner_a, settings):
    settings.SITE_URL = "http://192.0.2.10:8000"
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "192.0.2.10"]
    client.force_login(owner_a)
    html = client.get(settings_url(page)).text
    assert "<td>A</td><td><code>status.alpha.example</code></td><td><code>192.0.2.10</code>" in html


def test_the_preview_link_opens_the_public_page(client, page, owner_a):
    client.force_login(owner_a)
    html = client.get(settings_url(page)).text
    page.refresh_from_db()
    link = (
        f'href="/p/alpha/?v={page.version}" target="_blank" rel="noopener">Preview the public page'
    )
    assert link in html
    # The version in the link is a fresh address for browsers that kept the page.
    assert client.get(f"/p/alpha/?v={page.version}").status_code == 200


def test_a_custom_domain_is_stored_lowercase_without_its_final_dot(client, page, owner_a):
    client.force_login(owner_a)
    client.post(settings_url(page), {**current(page), "custom_domain": "Status.Alpha.COM."})
    assert saved(page)["custom_domain"] == "status.alpha.com"
    client.post(settings_url(page), {**current(page), "custom_domain": ""})
    assert Page.objects.get(pk=page.pk).custom_domain is None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"name": ""}, "This field is required."),
        ({"slug": "bravo"}, "This address is taken; choose another."),
        ({"slug": "static"}, "&#x27;static&#x27; is reserved"),
        ({"slug": "Not a slug!"}, "Enter a valid"),
        ({"custom_domain": "status.bravo.example"}, "Another status page has proved this domain"),
        ({"custom_domain": "https://status.alpha.com/"}, "Enter a domain name"),
        ({"custom_domain": "testserver"}, "one of our own addresses"),
        ({"time_zone": "Mars/Olympus_Mons"}, "Select a valid choice"),
        ({"accent_color": "red"}, "Enter a colour as #RRGGBB."),
        ({"company_url": "not a url"}, "Enter a valid URL."),
    ],
)
def test_bad_settings_are_refused_inline_and_nothing_is_saved(
    client, page, tenant_b, owner_a, change, error
):
    Page.objects.filter(pk=tenant_b.page.pk).update(
        custom_domain="status.bravo.example", domain_verified_at=timezone.now()
    )
    client.force_login(owner_a)
    before = saved(page)
    response = client.post(settings_url(page), {**current(page), **change})
    assert response.status_code == 200
    assert error in response.text
    # The console around the form still shows the page as saved.
    assert "<strong>Alpha</strong>" in response.text

    fragment = client.post(settings_url(page), {**current(page), **change}, headers=HTMX)
    assert error in fragment.text
    assert "<html" not in fragment.text
    assert fragment.text.lstrip().startswith("<form")
    assert saved(page) == before
    assert not AuditLogEntry.objects.exists()


def test_a_subdomain_of_the_public_base_domain_is_not_a_custom_domain(
    client, page, owner_a, settings
):
    settings.PUBLIC_BASE_DOMAIN = "status.example.net"
    client.force_login(owner_a)
    response = client.post(
        settings_url(page), {**current(page), "custom_domain": "bravo.status.example.net"}
    )
    assert "one of our own addresses" in response.text
    assert saved(page)["custom_domain"] == "status.alpha.example"


def test_with_htmx_saved_settings_reload_the_page(client, page, owner_a):
    client.force_login(owner_a)
    response = client.post(settings_url(page), {**current(page), "name": "Alpha 2"}, headers=HTMX)
    assert response["HX-Redirect"] == settings_url(page)
    assert saved(page)["name"] == "Alpha 2"


def test_owner_uploads_a_logo_and_then_removes_it(
    client, page, owner_a, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(owner_a)
    client.post(settings_url(page), {**current(page), "logo": image()})
    logo = saved(page)["logo"]
    assert logo == f"logos/{page.code}.png"
    assert (tmp_path / logo).exists()
    assert f'<img src="/media/{logo}" alt="Alpha">' in client.get("/p/alpha/").text
    assert f'Current logo: <a href="/media/{logo}">' in client.get(settings_url(page)).text

    with django_capture_on_commit_callbacks(execute=True):
        client.post(settings_url(page), {**current(page), "logo": image("JPEG", name="new.jpg")})
    new_logo = saved(page)["logo"]
    assert new_logo == f"logos/{page.code}.jpg"
    assert not (tmp_path / logo).exists()  # the replaced file goes

    with django_capture_on_commit_callbacks(execute=True):
        client.post(settings_url(page), {**current(page), "logo-clear": "on"})
    assert saved(page)["logo"] == ""
    assert not (tmp_path / new_logo).exists()
    assert "<img" not in client.get("/p/alpha/").text
    actions = list(AuditLogEntry.objects.order_by("id").values_list("before", "after"))
    assert [(b["logo"], a["logo"]) for b, a in actions] == [
        ("", logo),
        (logo, new_logo),
        (new_logo, ""),
    ]


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (lambda: image(size=(800, 800), noise=True), "larger than 1 MB"),
        (
            lambda: SimpleUploadedFile("logo.png", b"not an image", content_type="image/png"),
            "Upload a valid image",
        ),
        (
            lambda: SimpleUploadedFile(
                "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"
            ),
            "Upload a valid image",
        ),
        (lambda: image("TIFF", name="logo.tiff"), "Upload a PNG, JPEG, GIF or WebP image."),
    ],
)
def test_a_too_large_or_foreign_logo_is_refused(client, page, owner_a, tmp_path, upload, error):
    client.force_login(owner_a)
    response = client.post(settings_url(page), {**current(page), "logo": upload()})
    assert error in response.text
    assert saved(page)["logo"] == ""
    assert not (tmp_path / "logos").exists()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_read_the_settings_but_cannot_change_them(client, tenant_a, role):
    page = tenant_a.page
    client.force_login(tenant_a.memberships.get(role=role).user)
    html = client.get(settings_url(page)).text
    assert "Only the team's owners can change these." in html
    assert "status.alpha.example" in html
    assert "Save settings" not in html and 'name="slug"' not in html

    before = saved(page)
    response = client.post(settings_url(page), {**current(page), "name": "Taken over"})
    assert response.status_code == 403
    assert saved(page) == before


def test_another_tenants_owner_gets_404_and_changes_nothing(client, page, tenant_b, owner_b):
    client.force_login(owner_b)
    before = saved(page)
    assert client.get(settings_url(page)).status_code == 404
    for headers in [{}, HTMX]:
        response = client.post(
            settings_url(page), {**current(page), "name": "Taken over"}, headers=headers
        )
        assert response.status_code == 404
    assert saved(page) == before
    assert not AuditLogEntry.objects.exists()


def test_the_settings_page_offers_embed_snippets_that_point_at_the_widget(client, page, viewer_a):
    client.force_login(viewer_a)
    html = client.get(settings_url(page)).text
    assert "Show your status on your own site" in html
    assert f"f.src=&quot;{page.public_url('embed/')}&quot;" in html
    assert f"&lt;img src=&quot;{page.public_url('badge.svg')}&quot;" in html
    # The widget the snippets load is there and may be framed.
    widget = client.get("/p/alpha/embed/")
    assert widget.status_code == 200
    assert "X-Frame-Options" not in widget
