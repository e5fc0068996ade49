"""The public subscription pages: subscribe, confirm, manage and unsubscribe."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from incidents.models import Incident
from notifications import webhooks
from notifications.models import Delivery, Subscriber
from status.models import SUBSCRIBER_SETTINGS
from tests.factories import make_subscriber

SUBSCRIBE = "/p/alpha/subscribe/"


def link(message, kind):
    return re.search(rf"http://status\.alpha\.example(/subscribe/{kind}/[^/\s]+/)", message.body)[1]


def on_main_site(path):
    return "/p/alpha" + path


def subscribe(client, callbacks, **data):
    data = {"channel": "email", **data}
    with callbacks(execute=True):
        return client.post(SUBSCRIBE, data, REMOTE_ADDR=data.pop("ip", "192.0.2.1"))


@pytest.fixture
def public_hooks(monkeypatch):
    """Every host resolves to a public address (there is no DNS here)."""
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14"])


def test_the_status_page_links_to_the_subscribe_page(client, page):
    response = client.get("/p/alpha/")

    assert 'href="/p/alpha/subscribe/">Subscribe to updates</a>' in response.text


def test_the_subscribe_page_offers_email_webhook_groups_and_components(client, page, api, core):
    response = client.get(SUBSCRIBE)

    assert response.status_code == 200
    assert 'name="channel" value="email"' in response.text
    assert 'name="channel" value="webhook"' in response.text
    assert f'name="groups" value="{core.code}"' in response.text
    assert f'name="components" value="{api.code}"' in response.text
    assert "csrfmiddlewaretoken" in response.text


def test_subscribing_sends_only_a_confirmation_with_a_link(
    client, page, api, django_capture_on_commit_callbacks
):
    response = subscribe(
        client, django_capture_on_commit_callbacks, email="Ana@Example.COM",
        components=[api.code],
    )  # fmt: skip

    assert response.status_code == 200
    assert "Check your inbox" in response.text
    ana = Subscriber.objects.get()
    assert (ana.email, ana.state, list(ana.components.all())) == (
        "Ana@example.com",
        "pending",
        [api],
    )
    [message] = mail.outbox
    assert message.subject == "[Alpha] Confirm your subscription"
    assert message.to == ["Ana@example.com"]
    assert link(message, "confirm")

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})
    assert not Delivery.objects.exists()
    assert mail.outbox == []


def test_the_answer_is_the_same_for_a_new_a_pending_and_a_confirmed_address(
    client, page, api, django_capture_on_commit_callbacks
):
    make_subscriber(page, "known@example.com", components=[api])
    make_subscriber(page, "waiting@example.com", state="pending")

    answers = [
        subscribe(client, django_capture_on_commit_callbacks, email=email, ip=f"192.0.2.{n}")
        for n, email in enumerate(["new@example.com", "waiting@example.com", "known@example.com"])
    ]

    texts = [a.text.replace(email, "ADDRESS") for a, email in zip(answers, [
        "new@example.com", "waiting@example.com", "known@example.com"], strict=True)]  # fmt: skip
    assert {a.status_code for a in answers} == {200}
    assert texts[0] == texts[1] == texts[2]
    known = Subscriber.objects.get(email="known@example.com")
    assert known.state == "confirmed"
    assert list(known.components.all()) == [api]  # a stranger changes nothing
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects == {
        "new@example.com": "[Alpha] Confirm your subscription",
        "waiting@example.com": "[Alpha] Confirm your subscription",
        "known@example.com": "[Alpha] Your subscription",
    }
    known_mail = next(m for m in mail.outbox if m.to == ["known@example.com"])
    assert f"/subscribe/manage/{known.token}/" in known_mail.body


def test_subscribing_again_after_unsubscribing_needs_a_new_confirmation(
    client, page, django_capture_on_commit_callbacks
):
    gone = make_subscriber(page, "gone@example.com", state="unsubscribed")

    subscribe(client, django_capture_on_commit_callbacks, email="gone@example.com")

    again = Subscriber.objects.get(pk=gone.pk)
    assert again.state == "pending"
    assert again.token != gone.token  # old links stop working


def test_too_many_requests_from_one_address_get_a_clear_429(
    client, page, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_SUBSCRIBE_PER_ADDRESS = 3
    for n in range(3):
        ok = subscribe(client, django_capture_on_commit_callbacks, email="ana@example.com",
                       ip=f"192.0.2.{n}")  # fmt: skip
        assert ok.status_code == 200

    response = subscribe(client, django_capture_on_commit_callbacks, email="ana@example.com",
                         ip="192.0.2.99")  # fmt: skip

    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    assert "Too many requests" in response.text
    assert len(mail.outbox) == 3


def test_too_many_requests_from_one_ip_get_a_clear_429(
    client, page, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_SUBSCRIBE_PER_IP = 2
    for n in range(2):
        subscribe(client, django_capture_on_commit_callbacks, email=f"s{n}@example.com")

    response = subscribe(client, django_capture_on_commit_callbacks, email="s3@example.com")

    assert response.status_code == 429
    assert not Subscriber.objects.filter(email="s3@example.com").exists()


def test_an_invalid_form_says_what_is_wrong(client, page, django_capture_on_commit_callbacks):
    response = subscribe(client, django_capture_on_commit_callbacks, email="not an address")

    assert response.status_code == 200
    assert "Enter a valid email address." in response.text
    assert not Subscriber.objects.exists()


@pytest.fixture
def pending(page, client, django_capture_on_commit_callbacks):
    subscribe(client, django_capture_on_commit_callbacks, email="ana@example.com")
    confirm_path = on_main_site(link(mail.outbox[-1], "confirm"))
    mail.outbox.clear()
    return Subscriber.objects.get(), confirm_path


def test_opening_the_confirmation_link_confirms_nothing(client, pending):
    ana, confirm_path = pending

    response = client.get(confirm_path)

    assert response.status_code == 200
    assert 'method="post"' in response.text and "Confirm subscription" in response.text
    ana.refresh_from_db()
    assert ana.state == "pending"
    assert response["Cache-Control"].startswith("max-age=0")


def test_pressing_confirm_confirms(client, pending):
    ana, confirm_path = pending

    response = client.post(confirm_path)

    assert response.status_code == 200
    assert "You are subscribed" in response.text
    assert (
        "will email <strong>ana@example.com</strong> about its incidents, maintenance and"
        " component status changes." in response.text
    )
    ana.refresh_from_db()
    assert ana.state == "confirmed" and ana.confirmed_at is not None


def test_the_confirmation_says_which_events_were_chosen(
    client, page, django_capture_on_commit_callbacks
):
    subscribe(client, django_capture_on_commit_callbacks, email="bo@example.com",
              events_shown="1", events=["incidents", "component_changes"])  # fmt: skip

    response = client.post(on_main_site(link(mail.outbox[-1], "confirm")))

    assert "about its incidents and component status changes." in response.text


def test_a_confirmation_link_expires_after_7_days(client, pending):
    ana, confirm_path = pending

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        response = client.post(confirm_path)

    assert response.status_code == 410
    assert "expired" in response.text
    ana.refresh_from_db()
    assert ana.state == "pending"


def test_a_tampered_or_foreign_link_is_not_found(client, pending, tenant_b):
    ana, confirm_path = pending

    assert client.post(confirm_path[:-3] + "xx/").status_code == 404
    assert client.post(confirm_path.replace("/p/alpha/", "/p/bravo/")).status_code == 404
    assert client.get(f"/p/bravo/subscribe/manage/{ana.token}/").status_code == 404


def test_confirmation_works_on_the_pages_own_host(pending):
    ana, confirm_path = pending

    response = Client().post(
        confirm_path.removeprefix("/p/alpha"), HTTP_HOST="status.alpha.example"
    )

    assert response.status_code == 200
    ana.refresh_from_db()
    assert ana.state == "confirmed"


def test_a_webhook_subscription_is_confirmed_by_its_contact_and_then_shows_its_secret(
    client, page, public_hooks, django_capture_on_commit_callbacks
):
    response = subscribe(
        client,
        django_capture_on_commit_callbacks,
        channel="webhook",
        email="ops@example.com",
        endpoint="https://hooks.example.com/status",
    )
    assert "Check your inbox" in response.text
    hook = Subscriber.objects.get()
    assert (hook.channel, hook.endpoint, hook.email) == (
        "webhook",
        "https://hooks.example.com/status",
        "ops@example.com",
    )
    assert hook.secret.startswith("whsec_")
    [message] = mail.outbox
    assert message.to == ["ops@example.com"]

    confirmed = client.post(on_main_site(link(message, "confirm")))

    assert hook.secret in confirmed.text
    manage = client.get(f"/p/alpha/subscribe/manage/{hook.token}/")
    assert hook.secret in manage.text


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1/hook", "http://[::1]/hook", "http://169.254.169.254/", "http://10.0.0.1/",
     "http://localhost/hook", "http://[::127.0.0.1]/", "http://[::ffff:127.0.0.1]/",
     "http://[::a9fe:a9fe]/latest/meta-data/", "https://[fec0::1]/hook"],
)  # fmt: skip
def test_a_private_webhook_endpoint_is_refused_with_a_clear_message(
    client, page, endpoint, django_capture_on_commit_callbacks
):
    response = subscribe(
        client, django_capture_on_commit_callbacks, channel="webhook",
        email="ops@example.com", endpoint=endpoint,
    )  # fmt: skip

    assert "private, loopback, link-local or reserved address" in response.text
    assert not Subscriber.objects.exists()


def test_a_webhook_endpoint_on_port_0_is_refused_with_a_clear_message(
    client, page, public_hooks, django_capture_on_commit_callbacks
):
    response = subscribe(
        client, django_capture_on_commit_callbacks, channel="webhook",
        email="ops@example.com", endpoint="http://example.com:0/",
    )  # fmt: skip

    assert response.status_code == 200
    assert "The URL&#x27;s port is not a number from 1 to 65535." in response.text
    assert not Subscriber.objects.exists()


def test_a_page_without_webhooks_offers_email_only(
    client, page, public_hooks, django_capture_on_commit_callbacks
):
    page.allow_webhook_subscribers = False
    page.save()

    assert 'value="webhook"' not in client.get(SUBSCRIBE).text
    response = subscribe(
        client, django_capture_on_commit_callbacks, channel="webhook",
        email="ops@example.com", endpoint="https://hooks.example.com/",
    )  # fmt: skip
    assert "This page does not offer webhook subscriptions." in response.text
    assert not Subscriber.objects.exists()


def test_a_page_without_subscriptions_has_no_subscribe_page(client, page):
    for name in SUBSCRIBER_SETTINGS:
        setattr(page, name, False)
    page.save()

    assert client.get(SUBSCRIBE).status_code == 404
    assert "Subscribe to updates" not in client.get("/p/alpha/").text


def test_the_manage_page_changes_what_a_subscriber_hears_about(client, page, api, core):
    ana = make_subscriber(page, "ana@example.com")
    manage = f"/p/alpha/subscribe/manage/{ana.token}/"

    response = client.post(manage, {"components": [api.code], "groups": [core.code]})

    assert "Saved." in response.text
    assert list(ana.components.all()) == [api]
    assert list(ana.groups.all()) == [core]
    assert f'value="{api.code}" checked' in client.get(manage).text

    client.post(manage, {})
    assert not ana.components.exists() and not ana.groups.exists()


@pytest.fixture
def strict_client():
    """A client that, like a mail provider's one-click POST, has no cookie and no CSRF token."""
    return Client(enforce_csrf_checks=True)


def test_one_click_unsubscribe_needs_no_cookie_or_csrf_token_and_answers_200(strict_client, page):
    ana = make_subscriber(page, "ana@example.com")

    response = strict_client.post(
        f"/p/alpha/subscribe/unsubscribe/{ana.token}/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert not response.cookies
    ana.refresh_from_db()
    assert ana.state == "unsubscribed" and ana.unsubscribed_at is not None


def test_one_click_unsubscribe_also_takes_multipart_bodies(strict_client, page):
    ana = make_subscriber(page, "ana@example.com")

    response = strict_client.post(
        f"/p/alpha/subscribe/unsubscribe/{ana.token}/", {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 200
    ana.refresh_from_db()
    assert ana.state == "unsubscribed"


def test_opening_the_unsubscribe_link_only_asks(client, page):
    ana = make_subscriber(page, "ana@example.com")

    response = client.get(f"/p/alpha/subscribe/unsubscribe/{ana.token}/")

    assert response.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    ana.refresh_from_db()
    assert ana.state == "confirmed"


def test_a_post_without_the_one_click_body_unsubscribes_nobody(strict_client, page):
    ana = make_subscriber(page, "ana@example.com")

    response = strict_client.post(f"/p/alpha/subscribe/unsubscribe/{ana.token}/", {})

    assert response.status_code == 400
    ana.refresh_from_db()
    assert ana.state == "confirmed"


def test_other_subscription_pages_still_check_csrf(strict_client, page):
    ana = make_subscriber(page, "ana@example.com")

    assert strict_client.post(f"/p/alpha/subscribe/manage/{ana.token}/", {}).status_code == 403
    assert strict_client.post(SUBSCRIBE, {"email": "x@example.com"}).status_code == 403


def test_an_unsubscribed_address_gets_nothing_more(
    client, page, django_capture_on_commit_callbacks
):
    ana = make_subscriber(page, "ana@example.com")
    client.post(f"/p/alpha/subscribe/unsubscribe/{ana.token}/", {"List-Unsubscribe": "One-Click"})

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")

    assert mail.outbox == []


def test_staff_add_subscribers_confirmed_only_when_they_say_so(
    page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        vouched = Subscriber.objects.create_subscriber(
            page, channel="email", email="vip@example.com", skip_confirmation=True
        )
        asked = Subscriber.objects.create_subscriber(page, channel="email", email="ask@example.com")

    assert (vouched.state, asked.state) == ("confirmed", "pending")
    assert [m.to for m in mail.outbox] == [["ask@example.com"]]


def test_asking_for_someone_elses_webhook_never_reveals_the_secret_it_trusts(
    client, page, public_hooks, django_capture_on_commit_callbacks
):
    hook = {"channel": "webhook", "endpoint": "https://victim.example/hook"}
    subscribe(client, django_capture_on_commit_callbacks, email="ops@victim.example", **hook)
    victim = Subscriber.objects.get()
    trusted = victim.secret

    # The victim has not confirmed yet (or unsubscribed); someone else asks for the endpoint.
    subscribe(client, django_capture_on_commit_callbacks, email="evil@attacker.example", **hook)
    attacker_mail = mail.outbox[-1]
    assert attacker_mail.to == ["evil@attacker.example"]
    manage = client.post(on_main_site(link(attacker_mail, "confirm")))
    assert trusted not in manage.text
    victim.refresh_from_db()
    assert victim.secret != trusted
    # The victim's own confirmation link no longer works.
    first_link = link(mail.outbox[0], "confirm")
    assert client.post(on_main_site(first_link)).status_code == 404


def test_a_quarantined_webhook_is_not_brought_back_by_a_public_request(
    client, page, public_hooks, django_capture_on_commit_callbacks
):
    hook = {"channel": "webhook", "endpoint": "https://flaky.example/hook"}
    subscribe(client, django_capture_on_commit_callbacks, email="ops@flaky.example", **hook)
    Subscriber.objects.update(state="quarantined")
    before = Subscriber.objects.values("email", "secret", "token", "state").get()

    subscribe(client, django_capture_on_commit_callbacks, email="evil@attacker.example", **hook)

    assert Subscriber.objects.values("email", "secret", "token", "state").get() == before
    assert mail.outbox[-1].to == ["ops@flaky.example"]
