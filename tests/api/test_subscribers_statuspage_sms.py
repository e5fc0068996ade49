"""SMS subscribers created through the management API in Statuspage's own shape: no `mode`, a
`phone_number` as dialled in its `phone_country`; listed with the number's country and its
display form beside the E.164 number."""

from notifications.models import Subscriber


def test_a_number_and_its_country_make_an_sms_subscriber(api_a, page, twilio):
    response = api_a.post(
        "subscribers",
        {"subscriber": {"phone_country": "ec", "phone_number": "099 123 4567",
                        "skip_confirmation_notification": True}},
    )  # fmt: skip

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["mode"] == "sms"
    assert created["phone_number"] == "+593991234567"
    assert created["phone_country"] == "EC"
    assert created["display_phone_number"] == "+593 99 123 4567"
    listed = api_a.get("subscribers").json()
    assert [(s["phone_country"], s["display_phone_number"]) for s in listed] == [
        ("EC", "+593 99 123 4567")
    ]


def test_a_number_without_its_country_is_dialled_as_in_the_us(api_a, page, twilio):
    response = api_a.post(
        "subscribers",
        {"subscriber": {"phone_number": "(201) 555-0123", "skip_confirmation_notification": True}},
    )

    assert response.status_code == 201, response.content
    assert response.json()["phone_number"] == "+12015550123"
    assert response.json()["phone_country"] == "US"


def test_an_unknown_country_is_refused_with_a_message(api_a, page, twilio):
    response = api_a.post(
        "subscribers", {"subscriber": {"phone_country": "XX", "phone_number": "0991234567"}}
    )

    assert response.status_code == 422
    assert (
        response.json()["message"] == "'XX' is not a country code: give two letters, e.g. EC or US."
    )
    assert not Subscriber.objects.exists()


def test_the_same_number_twice_is_refused_by_its_name(api_a, page, twilio):
    body = {"subscriber": {"mode": "sms", "phone_number": "+593991234567",
                           "skip_confirmation_notification": True}}  # fmt: skip
    assert api_a.post("subscribers", body).status_code == 201

    again = api_a.post("subscribers", body)

    assert again.status_code == 422
    assert again.json()["message"] == "This phone number is already a subscriber of the page."


def test_email_and_webhook_subscribers_have_no_phone_fields(api_a, page):
    response = api_a.post(
        "subscribers",
        {"subscriber": {"email": "ana@example.com", "skip_confirmation_notification": True}},
    )

    assert response.status_code == 201
    created = response.json()
    assert created["mode"] == "email"
    assert (created["phone_country"], created["display_phone_number"]) == (None, None)
