"""The subscribers list in the console: search, filters, removal and CSV export."""

import csv
import io

import pytest
from django.core import mail
from django.utils import timezone

from notifications import webhooks
from notifications.models import Subscriber
from status.models import AuditLogEntry, Role

HTMX = {"hx-request": "true"}


def list_url(page, query=""):
    return f"/manage/{page.code}/subscribers/{query}"


def export_url(page, query=""):
    return f"/manage/{page.code}/subscribers/export.csv{query}"


def remove_url(page, subscriber):
    return f"/manage/{page.code}/subscribers/{subscriber.code}/remove/"


@pytest.fixture
def subscribers(tenant_a):
    page = tenant_a.page
    api = page.components.get(name="API")
    website = page.components.get(name="Website")
    ana = Subscriber.objects.create(
        page=page,
        channel="email",
        email="ana@example.com",
        state="confirmed",
        confirmed_at=timezone.now(),
    )
    ana.components.set([api, website])
    hook = Subscriber.objects.create(
        page=page,
        channel="webhook",
        email="ops@example.com",
        endpoint="https://hooks.example.com/status",
    )
    gone = Subscriber.objects.create(
        page=page, channel="email", email="gone@example.com", state="unsubscribed"
    )
    return {"ana": ana, "hook": hook, "gone": gone}


def read_csv(response):
    content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


def test_members_see_each_subscriber_with_channel_components_and_state(
    client, tenant_a, viewer_a, subscribers
):
    client.force_login(viewer_a)
    response = client.get(list_url(tenant_a.page))
    assert response.status_code == 200
    text = response.text
    assert "3 subscribers." in text
    assert "ana@example.com" in text
    assert "API, Website" in text
    assert "https://hooks.example.com/status" in text
    assert "All components" in text
    assert "Webhook" in text
    assert "Confirmed" in text
    assert "Waiting for confirmation" in text
    assert "Unsubscribed" in text


def test_search_and_filters_narrow_the_list_without_javascript(
    client, tenant_a, viewer_a, subscribers
):
    client.force_login(viewer_a)

    def shown(query):
        text = client.get(list_url(tenant_a.page, query)).text
        return {name for name in ["ana@", "hooks.example.com", "gone@"] if name in text}

    assert shown("?q=ANA") == {"ana@"}
    assert shown("?q=hooks.example") == {"hooks.example.com"}
    assert shown("?channel=webhook") == {"hooks.example.com"}
    assert shown("?channel=email") == {"ana@", "gone@"}
    assert shown("?state=unsubscribed") == {"gone@"}
    assert shown("?channel=email&state=confirmed&q=example") == {"ana@"}
    assert shown("?q=nobody") == set()
    assert "No subscribers match." in client.get(list_url(tenant_a.page, "?q=nobody")).text


def test_a_bad_filter_is_shown_as_an_error_and_filters_nothing(
    client, tenant_a, viewer_a, subscribers
):
    client.force_login(viewer_a)
    response = client.get(list_url(tenant_a.page, "?channel=pigeon&state=confirmed&page=x"))
    assert response.status_code == 200
    assert "Select a valid choice." in response.text
    assert "ana@example.com" in response.text
    assert "gone@example.com" not in response.text


def test_live_search_returns_only_the_results(client, tenant_a, viewer_a, subscribers):
    client.force_login(viewer_a)
    response = client.get(
        list_url(tenant_a.page, "?q=gone"), headers={**HTMX, "hx-target": "subscriber-results"}
    )
    assert "<html" not in response.text
    assert 'id="subscriber-results"' in response.text
    assert "gone@example.com" in response.text
    assert "ana@example.com" not in response.text


def test_editor_removes_a_subscriber_after_confirming(client, tenant_a, editor_a, subscribers):
    client.force_login(editor_a)
    ana = subscribers["ana"]
    back = list_url(tenant_a.page, "?channel=email")
    confirmation = client.get(remove_url(tenant_a.page, ana) + f"?back={back}")
    assert "Remove ana@example.com?" in confirmation.text
    assert Subscriber.objects.filter(pk=ana.pk).exists()

    response = client.post(remove_url(tenant_a.page, ana), {"back": back})
    assert response.url == back
    assert "Removed ana@example.com." in client.get(response.url).text
    assert not Subscriber.objects.filter(pk=ana.pk).exists()
    entry = AuditLogEntry.objects.get(action="subscriber.remove")
    assert entry.actor == editor_a
    assert entry.before["email"] == "ana@example.com"
    assert entry.before["components"] == ["API", "Website"]


def test_removal_goes_back_only_to_the_subscribers_list(client, tenant_a, editor_a, subscribers):
    client.force_login(editor_a)
    response = client.post(
        remove_url(tenant_a.page, subscribers["gone"]), {"back": "https://evil.example/"}
    )
    assert response.url == list_url(tenant_a.page)


def test_removing_with_htmx_swaps_the_row_out(client, tenant_a, editor_a, subscribers):
    client.force_login(editor_a)
    response = client.post(remove_url(tenant_a.page, subscribers["hook"]), headers=HTMX)
    assert response.status_code == 200
    assert response.text == ""
    assert Subscriber.objects.count() == 2


def test_viewers_cannot_remove_or_export_and_see_no_such_controls(
    client, tenant_a, viewer_a, subscribers
):
    client.force_login(viewer_a)
    text = client.get(list_url(tenant_a.page)).text
    assert "/remove/" not in text
    assert "export.csv" not in text
    assert client.post(remove_url(tenant_a.page, subscribers["ana"])).status_code == 403
    assert client.get(remove_url(tenant_a.page, subscribers["ana"])).status_code == 403
    assert client.get(export_url(tenant_a.page)).status_code == 403
    assert Subscriber.objects.count() == 3


def test_the_export_names_an_sms_subscribers_number_and_events(client, tenant_a, editor_a):
    Subscriber.objects.create(
        page=tenant_a.page, channel="sms", phone_number="+593991234567", state="confirmed",
        confirmed_at=timezone.now(), notify_component_changes=False,
    )  # fmt: skip
    client.force_login(editor_a)
    (row,) = read_csv(client.get(export_url(tenant_a.page, "?channel=sms")))
    # Quoted as every cell starting with "+" is (a spreadsheet shows it as text, not a formula).
    assert (row["channel"], row["phone_number"]) == ("sms", "'+593991234567")
    assert row["events"] == "incidents; maintenance"


def test_export_is_a_csv_of_the_filtered_list(client, tenant_a, editor_a, subscribers):
    client.force_login(editor_a)
    assert "export.csv?channel=email" in client.get(list_url(tenant_a.page, "?channel=email")).text

    response = client.get(export_url(tenant_a.page, "?channel=email"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="alpha-subscribers-')
    rows = read_csv(response)
    assert [row["email"] for row in rows] == ["ana@example.com", "gone@example.com"]
    ana = rows[0]
    assert list(ana) == [
        "code", "channel", "email", "endpoint", "phone_number", "state", "components", "events",
        "created_at", "confirmed_at",
    ]  # fmt: skip
    assert ana["events"] == "incidents; maintenance; component_changes"
    assert ana["phone_number"] == ""
    assert ana["code"] == subscribers["ana"].code
    assert ana["components"] == "API; Website"
    assert ana["state"] == "confirmed"
    assert ana["created_at"] == subscribers["ana"].created_at.isoformat()
    assert ana["confirmed_at"] == subscribers["ana"].confirmed_at.isoformat()
    assert rows[1]["components"] == ""
    assert rows[1]["confirmed_at"] == ""
    assert AuditLogEntry.objects.get(action="subscriber.export").after == {"channel": "email"}


def test_export_defuses_spreadsheet_formulas(client, tenant_a, editor_a):
    page = tenant_a.page
    page.components.filter(name="API").update(name='=HYPERLINK("http://x")')
    evil = Subscriber.objects.create(page=page, channel="email", email="=cmd@example.com")
    evil.components.set(page.components.filter(name__startswith="="))
    Subscriber.objects.create(page=page, channel="email", email="+1@example.com")
    Subscriber.objects.create(page=page, channel="email", email="-x@example.com")
    Subscriber.objects.create(page=page, channel="email", email="@x@example.com")

    client.force_login(editor_a)
    rows = read_csv(client.get(export_url(page)))
    assert [row["email"] for row in rows] == [
        "'=cmd@example.com", "'+1@example.com", "'-x@example.com", "'@x@example.com",
    ]  # fmt: skip
    assert rows[0]["components"] == '\'=HYPERLINK("http://x")'


def test_another_tenants_owner_gets_404_and_changes_nothing(
    client, tenant_a, tenant_b, owner_b, subscribers
):
    client.force_login(owner_b)
    assert client.get(list_url(tenant_a.page)).status_code == 404
    assert client.get(export_url(tenant_a.page)).status_code == 404
    for page in [tenant_a.page, tenant_b.page]:
        assert client.get(remove_url(page, subscribers["ana"])).status_code == 404
        assert client.post(remove_url(page, subscribers["ana"])).status_code == 404
    assert Subscriber.objects.filter(page=tenant_a.page).count() == 3
    assert "ana@example.com" not in client.get(list_url(tenant_b.page)).text
    assert read_csv(client.get(export_url(tenant_b.page))) == []
    assert not AuditLogEntry.objects.filter(tenant=tenant_a).exists()


def test_an_empty_list_says_where_people_subscribe(client, tenant_a, viewer_a):
    client.force_login(viewer_a)
    text = client.get(list_url(tenant_a.page)).text
    assert "No one has subscribed yet." in text
    assert "0 subscribers." in text


@pytest.mark.parametrize("role", [Role.OWNER, Role.EDITOR])
def test_owners_and_editors_see_the_export_link(client, tenant_a, subscribers, role):
    client.force_login(tenant_a.memberships.get(role=role).user)
    assert "Export all as CSV" in client.get(list_url(tenant_a.page)).text


# Adding subscribers


def create_url(page):
    return f"/manage/{page.code}/subscribers/new/"


def test_editor_adds_an_email_subscriber_who_must_confirm(
    client, tenant_a, editor_a, django_capture_on_commit_callbacks
):
    client.force_login(editor_a)
    page = tenant_a.page
    form = client.get(create_url(page)).text
    assert "Skip confirmation" in form
    assert 'name="skip_confirmation"' in form
    assert 'name="skip_confirmation" checked' not in form
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            create_url(page),
            {"channel": "email", "email": "new@Example.com"},
        )
    subscriber = Subscriber.objects.get(page=page)
    assert response.url == f"/manage/{page.code}/subscribers/{subscriber.code}/"
    assert subscriber.email == "new@example.com"
    assert subscriber.state == "pending"
    assert [message.to for message in mail.outbox] == [["new@example.com"]]
    assert "subscribe/confirm/" in mail.outbox[0].body
    text = client.get(response.url).text
    assert "sent a confirmation email" in text
    assert "Waiting for confirmation" in text
    entry = AuditLogEntry.objects.get(action="subscriber.create")
    assert entry.actor == editor_a
    assert entry.after["skip_confirmation"] is False


def test_editor_adds_a_confirmed_subscriber_for_a_group_without_email(
    client, tenant_a, editor_a, django_capture_on_commit_callbacks
):
    client.force_login(editor_a)
    page = tenant_a.page
    core = page.groups.get(name="Core")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            create_url(page),
            {
                "channel": "email",
                "email": "vip@example.com",
                "groups": [core.code],
                "skip_confirmation": "on",
            },
        )
    subscriber = Subscriber.objects.get(page=page)
    assert subscriber.state == "confirmed"
    assert subscriber.confirmed_at is not None
    assert list(subscriber.groups.all()) == [core]
    assert mail.outbox == []
    assert "vip@example.com is subscribed." in client.get(response.url).text
    listing = client.get(list_url(page)).text
    assert "All of Core" in listing
    assert "All components" not in listing


def test_editor_adds_a_webhook_and_is_shown_its_secret(client, tenant_a, editor_a, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    client.force_login(editor_a)
    page = tenant_a.page
    api = page.components.get(name="API")
    response = client.post(
        create_url(page),
        {
            "channel": "webhook",
            "email": "ops@example.com",
            "endpoint": "https://hooks.example.com/new",
            "components": [api.code],
            "skip_confirmation": "on",
        },
    )
    hook = Subscriber.objects.get(page=page)
    assert hook.endpoint == "https://hooks.example.com/new"
    assert hook.email == "ops@example.com"
    assert hook.secret.startswith("whsec_")
    text = client.get(response.url).text
    assert "signing secret" in text
    assert hook.secret in text
    assert 'id="new-secret"' in text
    again = client.get(response.url).text
    assert hook.secret in again  # still on its page, no longer announced as new
    assert 'id="new-secret"' not in again


def test_adding_with_htmx_redirects_to_the_new_subscriber(client, tenant_a, editor_a):
    client.force_login(editor_a)
    page = tenant_a.page
    response = client.post(
        create_url(page), {"channel": "email", "email": "x@example.com"}, headers=HTMX
    )
    subscriber = Subscriber.objects.get(page=page)
    assert response["HX-Redirect"] == f"/manage/{page.code}/subscribers/{subscriber.code}/"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"channel": "email", "email": ""}, "Enter an email address."),
        ({"channel": "email", "email": "not an address"}, "Enter a valid email address."),
        ({"channel": "pigeon", "email": "a@example.com"}, "Select a valid choice."),
        ({"channel": "email", "email": "ana@example.com"}, "already a subscriber of this page"),
        (
            {"channel": "webhook", "email": "ops@example.com", "endpoint": ""},
            "Enter the URL to send notifications to.",
        ),
        (
            {"channel": "webhook", "email": "ops@example.com", "endpoint": "ftp://x.example/"},
            "Enter an http:// or https:// URL",
        ),
        (
            {
                "channel": "webhook",
                "email": "ops@example.com",
                "endpoint": "https://hooks.example.com/status",
            },
            "already a subscriber of this page",
        ),
        (
            {"channel": "email", "email": "b@example.com", "components": ["nope"]},
            "Select a valid choice.",
        ),
    ],
)
def test_invalid_or_duplicate_subscribers_show_errors_and_save_nothing(
    client, tenant_a, editor_a, subscribers, data, error, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True  # no DNS in tests; refusal is tested below
    client.force_login(editor_a)
    response = client.post(create_url(tenant_a.page), data)
    assert response.status_code == 200
    assert error in response.text
    assert Subscriber.objects.count() == 3
    assert not AuditLogEntry.objects.exists()


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1/hook", "https://[::1]/", "http://10.0.0.5/", "http://[::127.0.0.1]/",
     "http://[::ffff:127.0.0.1]/", "https://[fec0::1]/hook"],
)  # fmt: skip
def test_a_webhook_to_a_private_address_is_refused_unless_allowed(
    client, tenant_a, editor_a, settings, endpoint
):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    client.force_login(editor_a)
    data = {"channel": "webhook", "email": "ops@example.com", "endpoint": endpoint}
    response = client.post(create_url(tenant_a.page), data)
    assert "private, loopback" in response.text
    assert not Subscriber.objects.exists()

    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    assert client.post(create_url(tenant_a.page), data).status_code == 302
    assert Subscriber.objects.get().endpoint == endpoint


def test_a_webhook_on_port_0_is_refused(client, tenant_a, editor_a, settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14"])
    client.force_login(editor_a)
    data = {"channel": "webhook", "email": "ops@example.com", "endpoint": "http://example.com:0/"}

    response = client.post(create_url(tenant_a.page), data)

    assert response.status_code == 200
    assert "port is not a number from 1 to 65535" in response.text
    assert not Subscriber.objects.exists()


def test_another_tenants_components_cannot_be_chosen(client, tenant_a, tenant_b, editor_a):
    client.force_login(editor_a)
    theirs = tenant_b.page.components.get(name="API")
    response = client.post(
        create_url(tenant_a.page),
        {"channel": "email", "email": "a@example.com", "components": [theirs.code]},
    )
    assert "Select a valid choice." in response.text
    assert not Subscriber.objects.exists()


def test_viewers_cannot_add_subscribers(client, tenant_a, viewer_a):
    client.force_login(viewer_a)
    assert "/subscribers/new/" not in client.get(list_url(tenant_a.page)).text
    assert client.get(create_url(tenant_a.page)).status_code == 403
    response = client.post(create_url(tenant_a.page), {"channel": "email", "email": "a@b.example"})
    assert response.status_code == 403
    assert not Subscriber.objects.exists()


def test_another_tenants_owner_cannot_add_to_the_page(client, tenant_a, owner_b):
    client.force_login(owner_b)
    assert client.get(create_url(tenant_a.page)).status_code == 404
    response = client.post(create_url(tenant_a.page), {"channel": "email", "email": "a@b.example"})
    assert response.status_code == 404
    assert not Subscriber.objects.exists()
