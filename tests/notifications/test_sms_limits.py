"""SMS: what bounds the codes and messages the platform pays for (per number across pages, a
daily budget of codes, countries, trusted tenants only, the page's cap for notifications only),
what the code form says (nothing about who is subscribed), Twilio's shared-key signatures and
its error codes. Against the local fake of Twilio (tests/notifications/servers.py)."""

import logging

import pytest
from django.http import QueryDict
from django.test import Client
from twilio.request_validator import RequestValidator

from incidents.models import Incident
from notifications.models import Delivery, SmsDay, Subscriber
from status.models import SendingDay
from tests.notifications.test_sms import NUMBER, OTHER, code_in, make_sms, signature

NUMBER_REFUSED = "Too many codes were texted to this number lately. Wait a while and try again."
CODE_REFUSED = (
    "That code does not work. Check the SMS; codes work for 15 minutes and 5 tries. "
    "Subscribe again for a new one."
)


def ask(slug, number, capture, address="192.0.2.7"):
    with capture(execute=True):
        return Client().post(
            f"/p/{slug}/subscribe/",
            {"channel": "sms", "phone_number": number, "events_shown": "1",
             "events": ["incidents"]},
            REMOTE_ADDR=address,
        )  # fmt: skip


@pytest.fixture
def bravo(tenant_b):
    tenant_b.trusted = True
    tenant_b.save(update_fields=["trusted"])
    return tenant_b.page


# 1. Limits on codes


def test_one_number_gets_at_most_three_codes_an_hour_across_all_pages(
    page, bravo, twilio, settings, django_capture_on_commit_callbacks
):
    # The minute's limit aside (the hour's is what spans pages here).
    settings.SMS_CODES_PER_NUMBER = ((3600, 3), (86400, 5))
    answers = []
    for slug in ("alpha", bravo.slug):
        for i in range(3):
            answers.append(
                ask(slug, NUMBER, django_capture_on_commit_callbacks, f"192.0.2.{i + 10}")
            )

    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429, 429]
    assert NUMBER_REFUSED in answers[3].text
    assert len(twilio.to(NUMBER)) == 3


def test_a_second_code_within_a_minute_is_refused_whether_or_not_the_number_is_subscribed(
    page, bravo, twilio, django_capture_on_commit_callbacks
):
    make_sms(page, OTHER)  # subscribed already: gets no code, and is refused the same way
    first = [ask("alpha", n, django_capture_on_commit_callbacks) for n in (NUMBER, OTHER)]
    again = [
        ask(bravo.slug, n, django_capture_on_commit_callbacks, "192.0.2.99")
        for n in (NUMBER, OTHER)
    ]

    assert [a.status_code for a in first] == [302, 302]
    assert [a.status_code for a in again] == [429, 429]
    assert NUMBER_REFUSED in again[0].text and NUMBER_REFUSED in again[1].text
    assert len(twilio.to(NUMBER)) == 1 and twilio.to(OTHER) == []
    assert not Subscriber.objects.filter(page=bravo).exists()


def test_the_platform_sends_at_most_its_daily_budget_of_codes(
    page, twilio, settings, django_capture_on_commit_callbacks
):
    settings.SMS_CODES_PER_DAY = 2
    numbers = ["+593991234561", "+593991234562", "+593991234563"]
    answers = [ask("alpha", n, django_capture_on_commit_callbacks) for n in numbers]

    assert [a.status_code for a in answers] == [302, 302, 429]
    assert (
        "This platform has sent all the codes it sends today. Try again tomorrow."
        in answers[2].text
    )
    assert twilio.count() == 2
    assert not Subscriber.objects.filter(phone_number=numbers[2]).exists()


def test_numbers_of_countries_not_allowed_are_refused_with_a_message(
    page, twilio, settings, django_capture_on_commit_callbacks
):
    settings.SMS_ALLOWED_COUNTRIES = ["GB"]
    refused = ask("alpha", NUMBER, django_capture_on_commit_callbacks)
    british = "+447400123456"  # (OTHER, +44 7911, is Guernsey's: GG, not GB)
    guernsey = ask("alpha", OTHER, django_capture_on_commit_callbacks)
    allowed = ask("alpha", british, django_capture_on_commit_callbacks)

    assert refused.status_code == 200
    assert "This platform does not send SMS to numbers in Ecuador (+593)." in refused.text
    assert "This platform does not send SMS to numbers in Guernsey (+44)." in guernsey.text
    assert allowed.status_code == 302
    assert [m["To"] for m in twilio.messages] == [british]


def test_sms_is_offered_only_on_pages_of_tenants_the_platform_trusts(
    page, tenant_b, twilio, django_capture_on_commit_callbacks
):
    assert 'name="channel" value="sms"' in Client().get("/p/alpha/subscribe/").text
    untrusted = tenant_b.page.slug
    assert 'value="sms"' not in Client().get(f"/p/{untrusted}/subscribe/").text

    ask(untrusted, NUMBER, django_capture_on_commit_callbacks)
    assert twilio.count() == 0
    assert not Subscriber.objects.filter(channel="sms").exists()
    assert Client().get(f"/p/{untrusted}/subscribe/sms/").status_code == 404


# 2. Codes do not use up the page's cap


def test_codes_do_not_use_up_the_pages_cap_for_notifications(
    page, twilio, settings, django_capture_on_commit_callbacks
):
    settings.SMS_DAILY_CAP_PER_PAGE = 1
    make_sms(page, "+593991234500")
    for i in range(3):
        ask("alpha", f"+59399123451{i}", django_capture_on_commit_callbacks, f"192.0.2.{i + 1}")
    assert twilio.count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")

    assert Delivery.objects.get().status == "sent"
    assert SmsDay.objects.get(page=page).sent == 1


# 3. Twilio's signatures


def test_a_stop_signed_with_a_shared_key_unsubscribes_when_its_secret_is_set(
    client, page, twilio, settings, caplog
):
    subscriber = make_sms(page)
    params = {"From": NUMBER, "Body": "STOP"}
    url = "http://testserver/hooks/twilio/inbound/"
    header = "key=webhooks_sharedkey_k1,algorithm=HMAC_SHA256"
    signed = RequestValidator("shared-secret").compute_signature(url, params, "HMAC_SHA256")

    with caplog.at_level(logging.WARNING, logger="notifications.sms_hooks"):
        unset = client.post("/hooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=signed,
                            HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS=header)  # fmt: skip
    assert unset.status_code == 403
    assert any(
        r.levelno == logging.ERROR and "TWILIO_WEBHOOK_SIGNING_SECRET" in r.getMessage()
        for r in caplog.records
    )
    assert Subscriber.objects.get(pk=subscriber.pk).state == "confirmed"

    settings.TWILIO_WEBHOOK_SIGNING_SECRET = "shared-secret"
    # The auth token's signature under a shared-key header is not the key's.
    token_signed = signature(url, params)
    wrong = client.post("/hooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=token_signed,
                        HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS=header)  # fmt: skip
    assert wrong.status_code == 403
    answer = client.post("/hooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=signed,
                         HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS=header)  # fmt: skip
    assert answer.status_code == 200
    assert Subscriber.objects.get(pk=subscriber.pk).state == "unsubscribed"


def test_every_refused_callback_is_logged_as_a_warning(client, page, twilio, caplog):
    with caplog.at_level(logging.WARNING, logger="notifications.sms_hooks"):
        forged = client.post("/hooks/twilio/inbound/", {"From": NUMBER, "Body": "STOP"},
                             HTTP_X_TWILIO_SIGNATURE="bm90IGl0")  # fmt: skip
        unsigned = client.post("/hooks/twilio/inbound/", {"From": NUMBER, "Body": "STOP"})
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    refusals = [r for r in caplog.records if r.name == "notifications.sms_hooks"]
    assert len(refusals) == 2 and all(r.levelno >= logging.WARNING for r in refusals)


def test_every_value_of_a_repeated_parameter_is_signed(client, page, twilio):
    subscriber = make_sms(page)
    params = QueryDict(mutable=True)
    params.setlist("From", [NUMBER])
    params.setlist("Body", ["STOP"])
    params.setlist("MediaUrl", ["https://a.example/1", "https://a.example/2"])
    signed = signature("http://testserver/hooks/twilio/inbound/", params)

    answer = client.post("/hooks/twilio/inbound/", params.urlencode(),
                         content_type="application/x-www-form-urlencoded",
                         HTTP_X_TWILIO_SIGNATURE=signed)  # fmt: skip

    assert answer.status_code == 200
    assert Subscriber.objects.get(pk=subscriber.pk).state == "unsubscribed"


def test_the_url_signed_is_site_url_whatever_host_the_request_came_to(
    client, page, twilio, settings
):
    settings.SITE_URL = "https://status.example"
    subscriber = make_sms(page)
    params = {"From": NUMBER, "Body": "STOP"}

    received = signature("http://testserver/hooks/twilio/inbound/", params)
    as_received = client.post("/hooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=received)
    assert as_received.status_code == 403
    assert Subscriber.objects.get(pk=subscriber.pk).state == "confirmed"

    configured = signature("https://status.example/hooks/twilio/inbound/", params)
    as_configured = client.post(
        "/hooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=configured
    )
    assert as_configured.status_code == 200
    assert Subscriber.objects.get(pk=subscriber.pk).state == "unsubscribed"


# 4. The code form tells nothing


def test_the_numberless_code_form_answers_the_same_for_any_number(
    page, twilio, django_capture_on_commit_callbacks
):
    ask("alpha", NUMBER, django_capture_on_commit_callbacks)  # pending, a code texted
    make_sms(page, OTHER)  # confirmed
    answers = {
        number: Client().post("/p/alpha/subscribe/sms/", {"phone_number": number, "code": "000000"},
                              REMOTE_ADDR="203.0.113.9")
        for number in (NUMBER, OTHER, "+593991234568")
    }  # fmt: skip

    for answer in answers.values():
        assert answer.status_code == 422
        assert CODE_REFUSED in answer.text
    pending, confirmed, unknown = (a.text for a in answers.values())
    assert "expired" not in pending and "Too many" not in pending


def test_a_stranger_burning_a_numbers_tries_is_rate_limited(
    page, twilio, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_SUBSCRIBE_PER_IP = 100
    ask("alpha", NUMBER, django_capture_on_commit_callbacks)
    stranger = Client()
    tries = [
        stranger.post("/p/alpha/subscribe/sms/", {"phone_number": NUMBER, "code": "000000"},
                      REMOTE_ADDR="203.0.113.9").status_code
        for _ in range(6)
    ]  # fmt: skip
    assert tries == [422] * 5 + [429]
    # Another number from the same address is not limited by it.
    other = stranger.post("/p/alpha/subscribe/sms/", {"phone_number": OTHER, "code": "000000"},
                          REMOTE_ADDR="203.0.113.9")  # fmt: skip
    assert other.status_code == 422


# 6. Twilio's errors and subscribing again


@pytest.mark.parametrize(
    ("code", "status", "state"),
    [(21408, "dead", "confirmed"), (21612, "dead", "confirmed"), (21611, "failed", "confirmed"),
     (21614, "dead", "disabled")],
)  # fmt: skip
def test_twilios_refusals_end_or_retry_the_delivery_and_disable_only_for_the_number(
    page, twilio, code, status, state, caplog, django_capture_on_commit_callbacks
):
    subscriber = make_sms(page)
    twilio.script(NUMBER, [(400, code)])
    with (
        caplog.at_level(logging.ERROR, logger="notifications.transports"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        Incident.declare(page, name="Outage")

    delivery = Delivery.objects.get(subscriber=subscriber)
    assert delivery.status == status and f"error {code}" in delivery.last_error
    assert Subscriber.objects.get(pk=subscriber.pk).state == state
    platform_errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert bool(platform_errors) == (code == 21408)


@pytest.mark.parametrize("state", ["disabled", "unsubscribed"])
def test_a_number_that_subscribes_again_is_sent_a_new_code_and_can_confirm(
    page, twilio, state, django_capture_on_commit_callbacks
):
    subscriber = make_sms(page, state=state)
    visitor = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.post(
            "/p/alpha/subscribe/",
            {
                "channel": "sms",
                "phone_number": NUMBER,
                "events_shown": "1",
                "events": ["incidents"],
            },
            REMOTE_ADDR="192.0.2.7",
        )

    assert response.status_code == 302
    assert Subscriber.objects.get(pk=subscriber.pk).state == "pending"
    (message,) = twilio.to(NUMBER)
    confirmed = visitor.post(response["Location"], {"code": code_in(message)})
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert Subscriber.objects.get(pk=subscriber.pk).state == "confirmed"


# 8. The tenant's quota


def test_an_sms_over_the_pages_cap_is_not_charged_to_the_tenants_quota(
    page, twilio, settings, django_capture_on_commit_callbacks
):
    settings.SMS_DAILY_CAP_PER_PAGE = 1
    for number in ("+593991234561", "+593991234562", "+593991234563"):
        make_sms(page, number)
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")

    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["capped", "capped", "sent"]
    assert SendingDay.objects.get(tenant=page.tenant).sent == 1
    assert twilio.count() == 1
