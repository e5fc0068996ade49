"""The management API's subscribers on chat channels: created in Statuspage's v1 shape with a
`mode`, listed with it, their URLs checked (422 with a message), and their choice of events."""

import json

import pytest

from notifications import webhooks
from notifications.models import Subscriber
from status.models import AuditLogEntry

URLS = {
    "slack": "https://hooks.slack.com/services/T0001/B0001/abcdefXYZ",
    "teams": "https://prod-12.westus.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sig=abc",
    "discord": "https://discord.com/api/webhooks/123456789012345678/AbC-def_123",
    "google_chat": "https://chat.googleapis.com/v1/spaces/AAAAb1c2d3/messages?key=k&token=t",
}


@pytest.fixture(autouse=True)
def public_hooks(monkeypatch):
    """Every host resolves to a public address (the test's DNS knows none of them)."""
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14"])


@pytest.mark.parametrize("mode", ["slack", "teams", "discord", "google_chat"])
def test_a_chat_subscriber_is_created_and_listed_with_its_mode(mode, api_a, page, api):
    response = api_a.post(
        "subscribers",
        {"subscriber": {"mode": mode, "endpoint": URLS[mode], "component_ids": [api.code],
                        "skip_confirmation_notification": True}},
    )  # fmt: skip

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["mode"] == mode and created["endpoint"] == URLS[mode]
    assert created["state"] == "confirmed" and created["components"] == [api.code]
    assert created["events"] == ["incidents", "maintenance", "component_changes"]
    assert "secret" not in created
    listed = api_a.get("subscribers").json()
    assert [(s["id"], s["mode"]) for s in listed] == [(created["id"], mode)]
    assert AuditLogEntry.objects.filter(action="subscriber.create").count() == 1


def test_a_chat_subscriber_left_to_confirm_is_sent_a_message_not_an_email(
    api_a, page, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    posted = []
    monkeypatch.setattr(
        "notifications.transports.http_post",
        lambda url, body, headers: posted.append((url, json.loads(body))) or (200, {}, b"ok"),
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.post(
            "subscribers", {"subscriber": {"mode": "discord", "endpoint": URLS["discord"]}}
        )

    assert response.status_code == 201, response.content
    assert response.json()["state"] == "pending"
    assert mailoutbox == []
    ((url, body),) = posted
    assert url == URLS["discord"]
    assert "/subscribe/confirm/" in body["embeds"][0]["url"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "slack", "endpoint": URLS["discord"]}, "not a Slack webhook URL"),
        ({"mode": "teams", "endpoint": "https://outlook.office.com/webhook/x"},
         "not a Microsoft Teams webhook URL"),
        ({"mode": "google_chat", "endpoint": "http://chat.googleapis.com/v1/spaces/A/messages"},
         "not a Google Chat webhook URL"),
        ({"mode": "discord"}, "needs an endpoint URL"),
        ({"mode": "fax", "endpoint": URLS["slack"]}, "not a valid choice"),
        ({"mode": "slack", "endpoint": URLS["slack"], "events": ["gossip"]}, "not a valid choice"),
    ],
)  # fmt: skip
def test_a_bad_chat_subscriber_is_refused_with_a_message(body, message, api_a, page):
    body = {**body, "skip_confirmation_notification": True}
    response = api_a.post("subscribers", {"subscriber": body})

    assert response.status_code == 422, response.content
    assert message in response.json()["message"]
    assert not Subscriber.objects.exists()


def test_a_private_address_is_refused(api_a, page, monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["169.254.169.254"])

    response = api_a.post(
        "subscribers",
        {"subscriber": {"mode": "slack", "endpoint": URLS["slack"],
                        "skip_confirmation_notification": True}},
    )  # fmt: skip

    assert response.status_code == 422
    assert "169.254.169.254" in response.json()["message"]
    assert not Subscriber.objects.exists()


def test_the_same_channel_url_twice_is_refused(api_a, page):
    body = {"subscriber": {"mode": "slack", "endpoint": URLS["slack"],
                           "skip_confirmation_notification": True}}  # fmt: skip
    assert api_a.post("subscribers", body).status_code == 201

    again = api_a.post("subscribers", body)

    assert again.status_code == 422
    assert "already a subscriber" in again.json()["message"]


def test_events_are_chosen_on_create_and_changed_later(api_a, page):
    created = api_a.post(
        "subscribers",
        {"subscriber": {"mode": "teams", "endpoint": URLS["teams"], "events": ["incidents"],
                        "skip_confirmation_notification": True}},
    ).json()  # fmt: skip
    assert created["events"] == ["incidents"]

    changed = api_a.patch(
        f"subscribers/{created['id']}",
        {"subscriber": {"events": ["maintenance", "component_changes"]}},
    )

    assert changed.status_code == 200
    assert changed.json()["events"] == ["maintenance", "component_changes"]
    subscriber = Subscriber.objects.get()
    assert (subscriber.notify_incidents, subscriber.notify_maintenance) == (False, True)
    assert AuditLogEntry.objects.filter(action="subscriber.update").count() == 1


def test_email_and_webhook_subscribers_are_created_as_before(api_a, page):
    email = api_a.post(
        "subscribers",
        {"subscriber": {"email": "ana@example.com", "skip_confirmation_notification": True}},
    )
    hook = api_a.post(
        "subscribers",
        {
            "subscriber": {
                "endpoint": "https://example.com/hook",
                "skip_confirmation_notification": True,
            }
        },
    )

    assert (email.status_code, email.json()["mode"]) == (201, "email")
    assert (hook.status_code, hook.json()["mode"]) == (201, "webhook")
    assert hook.json()["secret"].startswith("whsec_")


def test_another_tenants_key_cannot_add_a_chat_to_this_page(api_b, page):
    api_b.page_code = page.code
    response = api_b.post(
        "subscribers",
        {"subscriber": {"mode": "slack", "endpoint": URLS["slack"],
                        "skip_confirmation_notification": True}},
    )  # fmt: skip

    assert response.status_code == 404
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "Choose at least one kind of event"),
        ({"incidents": 1}, "Give a list of events"),
        ("incidents", "Give a list of events"),
    ],
)
def test_events_that_are_no_list_of_events_are_refused(events, message, api_a, page):
    body = {"mode": "slack", "endpoint": URLS["slack"], "events": events,
            "skip_confirmation_notification": True}  # fmt: skip

    created = api_a.post("subscribers", {"subscriber": body})

    assert created.status_code == 422, created.content
    assert message in created.json()["message"]
    assert not Subscriber.objects.exists()


def test_changing_events_to_none_is_refused(api_a, page):
    created = api_a.post(
        "subscribers",
        {"subscriber": {"mode": "discord", "endpoint": URLS["discord"],
                        "skip_confirmation_notification": True}},
    ).json()  # fmt: skip

    for events in ([], {"incidents": 1}):
        changed = api_a.patch(f"subscribers/{created['id']}", {"subscriber": {"events": events}})
        assert changed.status_code == 422, changed.content
    assert Subscriber.objects.get().events == ["incidents", "maintenance", "component_changes"]


def test_one_discord_channel_spelt_five_ways_is_one_subscriber(api_a, page):
    spellings = [
        "https://discord.com/api/webhooks/1/tok",
        "https://discord.com/api/webhooks/1/tok/",
        "https://discord.com/api/v10/webhooks/1/tok",
        "https://DISCORD.com/api/webhooks/1/tok",
        "https://discordapp.com/api/webhooks/1/tok?x=1",
    ]
    answers = [
        api_a.post(
            "subscribers",
            {
                "subscriber": {
                    "mode": "discord",
                    "endpoint": url,
                    "skip_confirmation_notification": True,
                }
            },
        )  # fmt: skip
        for url in spellings
    ]

    assert [answer.status_code for answer in answers] == [201, 422, 422, 422, 422]
    assert answers[0].json()["endpoint"] == "https://discord.com/api/webhooks/1/tok"
    assert all("already a subscriber" in answer.json()["message"] for answer in answers[1:])
    assert Subscriber.objects.count() == 1


def test_a_channel_the_page_does_not_offer_is_refused(api_a, page, client, editor_a):
    page.allow_slack_subscribers = False
    page.save()
    body = {"subscriber": {"mode": "slack", "endpoint": URLS["slack"],
                           "skip_confirmation_notification": True}}  # fmt: skip

    response = api_a.post("subscribers", body)

    assert response.status_code == 422
    assert response.json()["message"] == (
        "This page does not offer Slack subscriptions: an owner can allow them in the page's"
        " settings."
    )
    assert not Subscriber.objects.exists()
    client.force_login(editor_a)
    form = client.get(f"/manage/{page.code}/subscribers/new/").text
    assert 'value="slack"' not in form and 'value="teams"' in form
