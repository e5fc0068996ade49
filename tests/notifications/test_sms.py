"""SMS subscribers through Twilio's Messages API, against a local fake of it
(tests/notifications/servers.py FakeTwilio): numbers checked and kept in E.164, double opt-in
by a code texted to the number, the short message, Twilio's answers, the signed callbacks (STOP
unsubscribes, a failed status is recorded) and the daily per-page cap."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import resolve
from django.utils import timezone
from twilio.request_validator import RequestValidator

from incidents.models import Incident
from notifications import sms, tasks
from notifications.models import Delivery, SmsDay, Subscriber
from tests.notifications.servers import FakeTwilio

NUMBER = "+593991234567"  # a mobile number in Ecuador
OTHER = "+447911123456"  # a UK mobile number


def make_sms(page, number=NUMBER, state="confirmed", **fields):
    return Subscriber.objects.create(
        page=page,
        channel="sms",
        phone_number=number,
        state=state,
        confirmed_at=timezone.now() if state == "confirmed" else None,
        **fields,
    )


def subscribe(client, number, capture, **extra):
    with capture(execute=True):
        return client.post(
            "/p/alpha/subscribe/",
            {"channel": "sms", "phone_number": number, "events_shown": "1",
             "events": ["incidents", "maintenance"], **extra},
            REMOTE_ADDR="192.0.2.7",
        )  # fmt: skip


def code_in(message):
    return next(word for word in message["Body"].replace(".", " ").split() if word.isdigit())


def signature(url, params):
    return RequestValidator(FakeTwilio.AUTH_TOKEN).compute_signature(url, params)


def twilio_post(client, path, params, signed=True, **headers):
    if signed:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature("http://testserver" + path, params)
    return client.post(path, params, **headers)


# Numbers and texts


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("+593 99 123 4567", NUMBER), ("+593-99-123-4567", NUMBER), ("+44 7911 123456", OTHER),
     (" +1 (415) 555-2671 ", "+14155552671")],
)  # fmt: skip
def test_numbers_are_kept_in_e164(typed, kept):
    assert sms.normalise_phone_number(typed) == kept


FORMAT = (
    "Enter a mobile number in international format, with its country code, e.g. +593 99 123 4567."
)


@pytest.mark.parametrize(
    ("typed", "said"),
    [("0991234567", FORMAT),
     ("+593 12", f"+593 12 is not a valid phone number. {FORMAT}"),
     ("call me", FORMAT),
     ("+44 20 7946 0958",
      "+44 20 7946 0958 is not a mobile number: text messages cannot reach it."),
     ("", "Enter a mobile number.")],
)  # fmt: skip
def test_a_bad_number_is_refused_with_a_message_that_says_what_to_type(typed, said):
    with pytest.raises(ValidationError) as refused:
        sms.normalise_phone_number(typed)
    assert refused.value.messages == [said]


def test_a_notification_fits_one_sms_and_keeps_its_link_whole():
    link = "https://status.alpha.example/incidents/ab12cd34ef56/"
    normal = sms.notification_text("Alpha", "Investigating (major)", "Database failover", link)
    assert normal == f"Alpha: Investigating (major) - Database failover {link}"

    long = sms.notification_text("Alpha Cloud Platform " * 5, "Identified", "Very long " * 30, link)
    assert len(long) <= 160 and long.endswith(" " + link)
    assert "Identified" in long and "..." in long

    typographic = sms.notification_text("Alpha", "Identified", "“Login” — broken…", link)
    assert set(typographic) <= sms.GSM7 | sms.GSM7_EXTENDED
    assert '"Login" - broken...' in typographic


def test_accents_are_transliterated_and_letters_gsm7_has_are_kept():
    link = "https://status.alpha.example/incidents/ab12cd34ef56/"
    text = sms.notification_text("Alpha", "Identified", "Conexión lenta en São Paulo", link)
    assert text == f"Alpha: Identified - Conexion lenta en Sao Paulo {link}"
    assert sms.segments(text) == ("GSM-7", 1)
    kept = "é è à ù ì ò ñ ü Ä Ö Ñ Ü Å å æ Æ ø Ø ß É Ç"
    assert sms.plain(kept) == kept
    assert sms.plain("Zürich, Kraków, Łódź, Ærøskøbing") == "Zürich, Krakow, Lodz, Ærøskøbing"


def test_text_gsm7_cannot_carry_goes_as_it_is_in_ucs2_within_70_characters():
    link = "https://s.example/i/1/"
    short = sms.notification_text("Альфа", "Сбой", "База данных", link)
    assert short == f"Альфа: Сбой - База данных {link}"
    assert sms.segments(short) == ("UCS-2", 1)

    long = sms.notification_text("Альфа", "Сбой", "Очень длинное название " * 10, link)
    assert len(long) <= 70 and long.endswith(" " + link) and "..." in long
    assert sms.segments(long) == ("UCS-2", 1)
    assert "?" not in long


@pytest.mark.parametrize(
    ("text", "counted"),
    [("a" * 160, ("GSM-7", 1)), ("a" * 161, ("GSM-7", 2)), ("a" * 306, ("GSM-7", 2)),
     ("a" * 307, ("GSM-7", 3)), ("€" * 80, ("GSM-7", 1)), ("€" * 81, ("GSM-7", 2)),
     ("д" * 70, ("UCS-2", 1)), ("д" * 71, ("UCS-2", 2)), ("д" * 134, ("UCS-2", 2)),
     ("д" * 135, ("UCS-2", 3)), ("a" * 69 + "😀", ("UCS-2", 2))],
)  # fmt: skip
def test_segments_count_as_carriers_do(text, counted):
    assert sms.segments(text) == counted


# The subscribe page and double opt-in


def test_the_subscribe_page_offers_sms_only_when_twilio_is_set_up(client, page, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    assert 'value="sms"' not in client.get("/p/alpha/subscribe/").text

    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_FROM = "+15005550006"
    response = client.get("/p/alpha/subscribe/")
    assert 'name="channel" value="sms"' in response.text
    assert 'name="phone_number"' in response.text


def test_an_sms_subscription_is_confirmed_by_the_code_texted_to_the_number(
    page, api, twilio, django_capture_on_commit_callbacks
):
    visitor = Client()
    response = subscribe(visitor, "+593 99 123 4567", django_capture_on_commit_callbacks)

    assert response.status_code == 302
    subscriber = Subscriber.objects.get(phone_number=NUMBER)
    assert subscriber.state == "pending" and subscriber.channel == "sms"
    (message,) = twilio.to(NUMBER)
    assert message["From"] == FakeTwilio.FROM
    code = code_in(message)
    assert len(code) == 6 and "Alpha" in message["Body"] and len(message["Body"]) <= 160
    # Only a keyed hash of the code is kept.
    subscriber.refresh_from_db()
    assert code not in subscriber.sms_code_hash and subscriber.sms_code_hash
    form = visitor.get(response["Location"])
    assert "+593 •••• 4567" in form.text and 'name="code"' in form.text

    # Nothing is texted before the code is typed.
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Before", component_statuses={api: "major_outage"})
    assert len(twilio.to(NUMBER)) == 1

    wrong = "000000" if code != "000000" else "111111"
    refused = visitor.post(response["Location"], {"code": wrong})
    assert refused.status_code == 422
    assert "That code does not work" in refused.text
    assert Subscriber.objects.get(pk=subscriber.pk).state == "pending"

    confirmed = visitor.post(response["Location"], {"code": code[:3] + " " + code[3:]})
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert Subscriber.objects.get(pk=subscriber.pk).state == "confirmed"
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="After", component_statuses={api: "major_outage"})
    assert len(twilio.to(NUMBER)) == 2
    assert "After" in twilio.to(NUMBER)[1]["Body"]
    assert mail.outbox == []


def test_an_expired_code_is_refused(page, twilio, django_capture_on_commit_callbacks):
    visitor = Client()
    response = subscribe(visitor, NUMBER, django_capture_on_commit_callbacks)
    code = code_in(twilio.to(NUMBER)[0])

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        refused = visitor.post(response["Location"], {"code": code})

    assert refused.status_code == 422 and "That code does not work" in refused.text
    assert Subscriber.objects.get(phone_number=NUMBER).state == "pending"


def test_five_wrong_codes_use_the_code_up(page, twilio, django_capture_on_commit_callbacks):
    visitor = Client()
    response = subscribe(visitor, NUMBER, django_capture_on_commit_callbacks)
    code = code_in(twilio.to(NUMBER)[0])
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert visitor.post(response["Location"], {"code": wrong}).status_code == 422

    refused = visitor.post(response["Location"], {"code": code})

    assert refused.status_code == 422 and "That code does not work" in refused.text
    assert Subscriber.objects.get(phone_number=NUMBER).state == "pending"


def test_the_confirmation_link_does_not_confirm_an_sms_subscription(
    page, twilio, django_capture_on_commit_callbacks
):
    visitor = Client()
    response = subscribe(visitor, NUMBER, django_capture_on_commit_callbacks)
    token = response["Location"].rstrip("/").rsplit("/", 1)[1]

    assert visitor.post(f"/p/alpha/subscribe/confirm/{token}/").status_code == 404
    assert Subscriber.objects.get(phone_number=NUMBER).state == "pending"


def test_a_bad_number_is_refused_on_the_subscribe_page(
    page, twilio, django_capture_on_commit_callbacks
):
    response = subscribe(Client(), "0991234567", django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert "international format, with its country code" in response.text
    assert not Subscriber.objects.filter(channel="sms").exists()
    assert twilio.count() == 0


def test_the_code_form_is_rate_limited_like_the_other_public_forms(
    page, twilio, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_SUBSCRIBE_PER_IP = 3
    visitor = Client()
    location = subscribe(visitor, NUMBER, django_capture_on_commit_callbacks)["Location"]
    for _ in range(3):
        visitor.post(location, {"code": "123"}, REMOTE_ADDR="198.51.100.4")

    assert visitor.post(location, {"code": "123"}, REMOTE_ADDR="198.51.100.4").status_code == 429


# Delivery


def test_one_update_is_one_short_sms_with_a_link_to_the_incident(
    page, api, twilio, django_capture_on_commit_callbacks
):
    subscriber = make_sms(page)
    with django_capture_on_commit_callbacks(execute=True):
        incident = Incident.declare(
            page, name="Database failover", component_statuses={api: "major_outage"}
        )

    (message,) = twilio.to(NUMBER)
    link = page.public_url(f"incidents/{incident.code}/")
    assert message["Body"].startswith("Alpha") and "Database failover" in message["Body"]
    assert message["Body"].endswith(link) and len(message["Body"]) <= 160
    assert "**" not in message["Body"]
    delivery = Delivery.objects.get(subscriber=subscriber)
    assert (delivery.status, delivery.response_code) == ("sent", 201)
    assert message["StatusCallback"] == (
        f"http://testserver/hooks/twilio/status/{delivery.pk}/{delivery.uuid}/"
    )


def test_a_twilio_server_error_is_retried_and_then_sent(
    page, twilio, django_capture_on_commit_callbacks
):
    subscriber = make_sms(page)
    twilio.script(NUMBER, [500])
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")

    delivery = Delivery.objects.get(subscriber=subscriber)
    assert (delivery.status, delivery.response_code) == ("failed", 500)
    assert "error 50000" in delivery.last_error

    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        tasks.sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert [m["_status"] for m in twilio.to(NUMBER)] == [500, 201]


@pytest.mark.parametrize("code", [21211, 21610])
def test_a_number_twilio_cannot_text_disables_its_subscriber(
    page, twilio, code, django_capture_on_commit_callbacks
):
    subscriber = make_sms(page)
    twilio.script(NUMBER, [(400, code)])
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")

    delivery = Delivery.objects.get(subscriber=subscriber)
    assert delivery.status == "dead" and f"error {code}" in delivery.last_error
    assert Subscriber.objects.get(pk=subscriber.pk).state == "disabled"


def test_the_daily_cap_stops_sms_past_it_and_says_so_in_the_delivery_log(
    client, page, twilio, settings, owner_a, django_capture_on_commit_callbacks
):
    settings.SMS_DAILY_CAP_PER_PAGE = 2
    numbers = ["+593991234561", "+593991234562", "+593991234563"]
    for number in numbers:
        make_sms(page, number)
    with django_capture_on_commit_callbacks(execute=True):
        incident = Incident.declare(page, name="Outage")

    assert twilio.count() == 2
    statuses = sorted(Delivery.objects.values_list("status", flat=True))
    assert statuses == ["capped", "sent", "sent"]
    capped = Delivery.objects.get(status="capped")
    assert "daily SMS cap (2 messages a day" in capped.last_error
    assert SmsDay.objects.get(page=page).sent == 2
    # Staff see it.
    client.force_login(owner_a)
    event = incident.events.get()
    text = client.get(f"/manage/{page.code}/deliveries/{event.code}/").text
    assert "Not sent (daily SMS cap)" in text or "over the SMS cap" in text

    # The next day, a resend goes.
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        with django_capture_on_commit_callbacks(execute=True):
            capped.resend()
        capped.refresh_from_db()
    assert capped.status == "sent" and twilio.count() == 3


def test_a_batch_of_sms_goes_at_once_each_delivery_keeping_its_own_message_sid(
    page, twilio, django_capture_on_commit_callbacks
):
    numbers = [f"+59399123456{n}" for n in range(6)]
    for number in numbers:
        make_sms(page, number)

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")

    deliveries = Delivery.objects.select_related("subscriber")
    assert sorted(d.status for d in deliveries) == ["sent"] * 6
    for delivery in deliveries:
        (message,) = twilio.to(delivery.subscriber.phone_number)
        assert delivery.provider_message_id == message["_sid"]
    assert len({d.provider_message_id for d in deliveries}) == 6


# Twilio's callbacks


def test_stop_from_a_number_unsubscribes_it_when_signed_and_unsigned_changes_nothing(
    client, page, tenant_b, twilio
):
    here, elsewhere = make_sms(page), make_sms(tenant_b.page)
    other = make_sms(page, OTHER)
    params = {"From": NUMBER, "To": FakeTwilio.FROM, "Body": " stop ", "MessageSid": "SM1",
              "AccountSid": FakeTwilio.ACCOUNT_SID}  # fmt: skip

    unsigned = twilio_post(client, "/hooks/twilio/inbound/", params, signed=False)
    forged = client.post("/hooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE="bm90IGl0")
    assert (unsigned.status_code, forged.status_code) == (403, 403)
    assert Subscriber.objects.get(pk=here.pk).state == "confirmed"

    answer = twilio_post(client, "/hooks/twilio/inbound/", params)
    assert answer.status_code == 200 and b"<Response>" in answer.content
    assert Subscriber.objects.get(pk=here.pk).state == "unsubscribed"
    assert Subscriber.objects.get(pk=elsewhere.pk).state == "unsubscribed"
    assert Subscriber.objects.get(pk=other.pk).state == "confirmed"


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit"])
def test_every_opt_out_word_unsubscribes(client, page, twilio, word):
    subscriber = make_sms(page)
    answer = twilio_post(client, "/hooks/twilio/inbound/", {"From": NUMBER, "Body": word})
    assert answer.status_code == 200
    assert Subscriber.objects.get(pk=subscriber.pk).state == "unsubscribed"


def test_an_opt_out_twilio_recognised_in_another_language_unsubscribes(client, page, twilio):
    # Twilio's Advanced Opt-Out reports its own keywords (here Spanish) as OptOutType=STOP.
    subscriber = make_sms(page)
    params = {"From": NUMBER, "Body": "BAJA", "OptOutType": "STOP"}
    assert "BAJA" not in sms.STOP_WORDS
    answer = twilio_post(client, "/hooks/twilio/inbound/", params)
    assert answer.status_code == 200
    assert Subscriber.objects.get(pk=subscriber.pk).state == "unsubscribed"


def test_other_messages_change_nothing(client, page, twilio):
    subscriber = make_sms(page)
    answer = twilio_post(client, "/hooks/twilio/inbound/", {"From": NUMBER, "Body": "stop it pls"})
    assert answer.status_code == 200
    assert Subscriber.objects.get(pk=subscriber.pk).state == "confirmed"


def test_an_undelivered_status_is_recorded_on_the_delivery(
    client, page, twilio, django_capture_on_commit_callbacks
):
    subscriber = make_sms(page)
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")
    delivery = Delivery.objects.get(subscriber=subscriber)
    # The sid Twilio answered is kept on the delivery; callbacks are matched on it.
    (sent,) = twilio.to(NUMBER)
    assert sent["_sid"].startswith("SM") and delivery.provider_message_id == sent["_sid"]
    path = f"/hooks/twilio/status/{delivery.pk}/{delivery.uuid}/"
    sid = sent["_sid"]
    failed = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}

    assert twilio_post(client, path, failed, signed=False).status_code == 403
    assert Delivery.objects.get(pk=delivery.pk).status == "sent"
    # Another delivery's uuid: nothing.
    wrong = f"/hooks/twilio/status/{delivery.pk}/{'0' * 8}-0000-4000-8000-{'0' * 12}/"
    assert twilio_post(client, wrong, failed).status_code == 204
    assert Delivery.objects.get(pk=delivery.pk).status == "sent"
    # Another message's sid: nothing.
    other = {**failed, "MessageSid": "SM" + "0" * 32}
    assert twilio_post(client, path, other).status_code == 204
    assert Delivery.objects.get(pk=delivery.pk).status == "sent"

    delivered = {"MessageSid": sid, "MessageStatus": "delivered"}
    assert twilio_post(client, path, delivered).status_code == 204
    assert Delivery.objects.get(pk=delivery.pk).status == "sent"
    assert twilio_post(client, path, failed).status_code == 204
    delivery.refresh_from_db()
    assert delivery.status == "dead"
    assert delivery.last_error == "Twilio reports the SMS undelivered (error 30003)."
    # 30003 (unreachable handset) is often temporary: the subscriber stays.
    assert Subscriber.objects.get(pk=subscriber.pk).state == "confirmed"


@pytest.mark.parametrize(("code", "disabled"), [(21610, True), (30005, True), (30006, True),
                                                 (30003, False), (21612, False)])  # fmt: skip
def test_a_failed_status_disables_the_subscriber_only_for_a_number_that_cannot_get_sms(
    client, page, twilio, django_capture_on_commit_callbacks, code, disabled
):
    subscriber = make_sms(page)
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")
    delivery = Delivery.objects.get(subscriber=subscriber)
    assert delivery.status == "sent"
    path = f"/hooks/twilio/status/{delivery.pk}/{delivery.uuid}/"
    params = {"MessageSid": delivery.provider_message_id, "MessageStatus": "failed",
              "ErrorCode": str(code)}  # fmt: skip

    assert twilio_post(client, path, params).status_code == 204

    assert Delivery.objects.get(pk=delivery.pk).status == "dead"
    state = Subscriber.objects.get(pk=subscriber.pk).state
    assert state == ("disabled" if disabled else "confirmed")


def test_a_late_failure_of_an_earlier_message_changes_nothing_after_a_resend(
    client, page, twilio, django_capture_on_commit_callbacks
):
    subscriber = make_sms(page)
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")
    delivery = Delivery.objects.get(subscriber=subscriber)
    first_sid = delivery.provider_message_id
    with django_capture_on_commit_callbacks(execute=True):
        delivery.resend()
    delivery.refresh_from_db()
    assert delivery.status == "sent" and len(twilio.to(NUMBER)) == 2
    assert delivery.provider_message_id == twilio.to(NUMBER)[1]["_sid"] != first_sid

    path = f"/hooks/twilio/status/{delivery.pk}/{delivery.uuid}/"
    late = {"MessageSid": first_sid, "MessageStatus": "failed", "ErrorCode": "30005"}
    assert twilio_post(client, path, late).status_code == 204

    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.last_error == ""
    assert Subscriber.objects.get(pk=subscriber.pk).state == "confirmed"


def test_callbacks_are_refused_when_sms_is_not_set_up(client, page, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    subscriber = make_sms(page)
    response = client.post("/hooks/twilio/inbound/", {"From": NUMBER, "Body": "STOP"},
                           HTTP_X_TWILIO_SIGNATURE="x")  # fmt: skip
    assert response.status_code == 403
    assert Subscriber.objects.get(pk=subscriber.pk).state == "confirmed"


def test_the_console_adds_and_lists_an_sms_subscriber(
    client, page, owner_a, twilio, django_capture_on_commit_callbacks
):
    client.force_login(owner_a)
    url = f"/manage/{page.code}/subscribers/new/"
    bad = client.post(url, {"channel": "sms", "phone_number": "12345", "events_shown": "1",
                            "events": ["incidents"]})  # fmt: skip
    assert "international format" in bad.text
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"channel": "sms", "phone_number": "+593 99 123 4567",
                          "events_shown": "1", "events": ["incidents"],
                          "skip_confirmation": "on"})  # fmt: skip
    subscriber = Subscriber.objects.get(channel="sms")
    assert subscriber.phone_number == NUMBER and subscriber.state == "confirmed"
    listed = client.get(f"/manage/{page.code}/subscribers/?q=4567")
    assert NUMBER in listed.text
    detail = client.get(f"/manage/{page.code}/subscribers/{subscriber.code}/")
    assert "Mobile number" in detail.text and NUMBER in detail.text
    again = client.post(url, {"channel": "sms", "phone_number": NUMBER, "events_shown": "1",
                              "events": ["incidents"]})  # fmt: skip
    assert "already a subscriber" in again.text


def test_the_code_page_of_one_page_is_not_found_on_another(
    page, tenant_b, twilio, django_capture_on_commit_callbacks
):
    tenant_b.page.allow_email_subscribers = True
    tenant_b.page.save()
    location = subscribe(Client(), NUMBER, django_capture_on_commit_callbacks)["Location"]
    token = location.rstrip("/").rsplit("/", 1)[1]

    assert Client().get(f"/p/bravo/subscribe/sms/{token}/").status_code == 404
    assert Client().post(f"/p/bravo/subscribe/sms/{token}/", {"code": "123456"}).status_code == 404
    assert Client().get(f"/p/alpha/subscribe/sms/{token}x/").status_code == 404


def test_the_twilio_routes_are_classified_public_and_signed():
    for path in ["/hooks/twilio/inbound/",
                 f"/hooks/twilio/status/1/{'0' * 8}-0000-4000-8000-{'0' * 12}/"]:  # fmt: skip
        assert resolve(path).func.access == "public"


def test_a_subscriber_added_by_staff_types_the_number_and_code_at_the_link_in_the_sms(
    page, twilio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = Subscriber.objects.create_subscriber(
            page, channel="sms", phone_number="+593 99 123 4567"
        )
    (message,) = twilio.to(NUMBER)
    link = page.public_url("subscribe/sms/")
    assert link in message["Body"] and len(message["Body"]) <= 160
    code = code_in(message)
    visitor = Client()
    assert 'name="phone_number"' in visitor.get("/p/alpha/subscribe/sms/").text

    # An unknown number answers as a wrong code does.
    unknown = visitor.post("/p/alpha/subscribe/sms/", {"phone_number": OTHER, "code": code})
    assert unknown.status_code == 422 and "That code does not work" in unknown.text
    bad = visitor.post("/p/alpha/subscribe/sms/", {"phone_number": "12", "code": code})
    assert bad.status_code == 422 and "international format" in bad.text

    confirmed = visitor.post(
        "/p/alpha/subscribe/sms/", {"phone_number": "+593 99 123 4567", "code": code}
    )
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert Subscriber.objects.get(pk=created.pk).state == "confirmed"
