"""The management API's SMS subscribers (`mode: "sms"`, `phone_number`), in Statuspage's v1
shape: created confirmed with skip_confirmation_notification, else pending and texted a code
(through a local fake of Twilio's Messages API); a bad number is a 422 with a message."""

import pytest

from notifications.models import Subscriber
from status.models import AuditLogEntry


def test_an_sms_subscriber_is_created_confirmed_and_listed_with_its_number(
    api_a, page, api, twilio
):
    response = api_a.post(
        "subscribers",
        {"subscriber": {"mode": "sms", "phone_number": "+593 99 123 4567",
                        "component_ids": [api.code], "skip_confirmation_notification": True}},
    )  # fmt: skip

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["mode"] == "sms" and created["phone_number"] == "+593991234567"
    assert created["state"] == "confirmed" and created["components"] == [api.code]
    assert created["email"] is None and created["endpoint"] is None
    assert twilio.count() == 0
    listed = api_a.get("subscribers").json()
    assert [(s["id"], s["mode"], s["phone_number"]) for s in listed] == [
        (created["id"], "sms", "+593991234567")
    ]
    assert api_a.get("subscribers", q="1234567").json()[0]["id"] == created["id"]
    assert AuditLogEntry.objects.filter(action="subscriber.create").count() == 1


def test_without_skip_it_is_pending_and_texted_a_code(
    api_a, page, twilio, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(
            "subscribers", {"subscriber": {"mode": "sms", "phone_number": "+593991234567"}}
        )

    assert response.status_code == 201, response.content
    assert response.json()["state"] == "pending"
    (message,) = twilio.to("+593991234567")
    assert "your code is" in message["Body"]
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "sms", "phone_number": "0991234567"}, "international format"),
        ({"mode": "sms", "phone_number": "+593 12"}, "international format"),
        ({"mode": "sms", "phone_number": "+44 20 7946 0958"}, "not a mobile number"),
        ({"mode": "sms"}, "needs a phone_number"),
    ],
)
def test_a_bad_number_is_refused_with_a_message(body, message, api_a, page, twilio):
    body = {**body, "skip_confirmation_notification": True}
    response = api_a.post("subscribers", {"subscriber": body})

    assert response.status_code == 422, response.content
    assert message in response.json()["message"]
    assert not Subscriber.objects.exists()


def test_the_same_number_twice_is_refused(api_a, page, twilio):
    body = {"subscriber": {"mode": "sms", "phone_number": "+593991234567",
                           "skip_confirmation_notification": True}}  # fmt: skip
    assert api_a.post("subscribers", body).status_code == 201

    spaced = {**body["subscriber"], "phone_number": "+593 99 123 4567"}
    again = api_a.post("subscribers", {"subscriber": spaced})

    assert again.status_code == 422
    assert "already a subscriber" in again.json()["message"]


def test_sms_is_refused_when_the_platform_has_no_twilio_account(api_a, page, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    response = api_a.post(
        "subscribers",
        {"subscriber": {"mode": "sms", "phone_number": "+593991234567",
                        "skip_confirmation_notification": True}},
    )  # fmt: skip

    assert response.status_code == 422
    assert "does not send SMS" in response.json()["message"]
    assert not Subscriber.objects.exists()


def test_another_tenants_key_cannot_add_an_sms_subscriber_to_this_page(api_b, page, twilio):
    api_b.page_code = page.code
    response = api_b.post(
        "subscribers",
        {"subscriber": {"mode": "sms", "phone_number": "+593991234567",
                        "skip_confirmation_notification": True}},
    )  # fmt: skip

    assert response.status_code == 404
    assert not Subscriber.objects.exists()


def test_a_number_of_a_country_not_allowed_is_a_422_with_a_message(api_a, page, twilio, settings):
    settings.SMS_ALLOWED_COUNTRIES = ["GB"]
    response = api_a.post(
        "subscribers", {"subscriber": {"mode": "sms", "phone_number": "+593991234567"}}
    )

    assert response.status_code == 422
    assert "This platform does not send SMS to numbers in Ecuador (+593)." in response.text
    assert not Subscriber.objects.exists() and twilio.count() == 0


def test_codes_asked_through_the_api_count_against_the_numbers_limit(
    api_a, page, twilio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = api_a.post(
            "subscribers", {"subscriber": {"mode": "sms", "phone_number": "+593991234567"}}
        )
    Subscriber.objects.all().delete()
    again = api_a.post(
        "subscribers", {"subscriber": {"mode": "sms", "phone_number": "+593991234567"}}
    )

    assert (first.status_code, again.status_code) == (201, 422)
    assert "Too many codes were texted to this number lately" in again.text
    assert twilio.count() == 1 and not Subscriber.objects.exists()


def test_an_untrusted_tenant_cannot_add_sms_subscribers(api_b, tenant_b, twilio):
    page = tenant_b.page
    response = api_b.post(
        f"/api/v1/pages/{page.code}/subscribers",
        {"subscriber": {"mode": "sms", "phone_number": "+593991234567"}},
    )

    assert response.status_code == 422
    assert "SMS subscribers are for organisations the platform knows" in response.text
    assert not Subscriber.objects.exists() and twilio.count() == 0
