"""One incident update to a subscriber on each of the seven channels (email, webhook, Slack,
Microsoft Teams, Discord, Google Chat, SMS), end to end with real parts: PostgreSQL, Redis, a
Celery worker process, the SMTP sink, the HTTP receiver standing in for the webhook and the four
chat services, the fake of Twilio's Messages API. Each gets one message in the shape its
service documents, within its limits, with the update's Markdown in the service's own markup and
no mention smuggled in; then the faults the other end-to-end modules leave out: a channel that
fails once is retried and delivered once, one that keeps failing is quarantined or given up, one
that is gone is disabled."""

import json
from datetime import timedelta

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from incidents.models import Incident
from notifications.models import MAX_ATTEMPTS, QUARANTINE_FAILURES, Delivery, Subscriber
from status.models import Component
from tests.factories import make_subscriber
from tests.notifications.payloads import texts
from tests.notifications.real import REAL_PARTS, attempted, sent
from tests.notifications.servers import FakeTwilio, wait_for

pytestmark = REAL_PARTS

CHATS = ("slack", "teams", "discord", "google_chat")
NUMBER = "+593991234567"
READER = "reader@example.com"
MENTIONS = "Heads up @channel @everyone @here <!here> <!channel> <@U024BE7LH> <users/all>"
MARKDOWN = f"""## What happened

Checkout calls failed for **EU** customers; see [the runbook](https://example.com/run?a=1&b=2).

- web: `502` errors
- api
  1. reads
  2. writes

```
SELECT 1;
```

{MENTIONS}
"""
# A long tail, so that every service's limits are reached.
TEXT = MARKDOWN + "\n\n".join(f"## Finding {n}\n\n" + "detail " * 250 for n in range(40))
# GSM 03.38: its basic characters take one of an SMS's 160 septets, its extension's two.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
# What a mention looks like to each service; a word joiner after "@" or "<" keeps the words.
RAW_MENTIONS = ("@channel", "@everyone", "@here", "<!here>", "<!channel>", "<@U024BE7LH>",
                "<users/all>")  # fmt: skip


def chat(page, channel, url, **fields):
    return Subscriber.objects.create(
        page=page, channel=channel, endpoint=url, state="confirmed", confirmed_at=timezone.now(),
        **fields,
    )  # fmt: skip


def phone(page, number=NUMBER):
    return Subscriber.objects.create(
        page=page, channel="sms", phone_number=number, state="confirmed",
        confirmed_at=timezone.now(),
    )  # fmt: skip


def no_mention_in(body):
    shown = "\n".join(texts(body))
    assert not [mention for mention in RAW_MENTIONS if mention in shown], shown[:3000]
    # The words are still there for people to read.
    assert "everyone" in shown and "U024BE7LH" in shown
    return shown


def septets(text):
    assert all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text), text
    return len(text) + sum(c in GSM7_EXTENSION for c in text)


def first_attempts(real, page, targets):
    """A worker started and an incident declared: {channel: its target's delivery} once each
    has had its first attempt."""
    real.worker()
    with real.broker():
        Incident.declare(page, name="Outage")
    return {
        channel: wait_for(attempted(target, 1), message=f"{channel}'s first attempt")
        for channel, target in targets.items()
    }


def test_one_update_reaches_each_of_the_seven_channels_once_in_its_documented_shape(page, real):
    components = {
        Component.objects.create(page=page, name=f"Region {n:02d}"): "partial_outage"
        for n in range(30)
    }
    reader = make_subscriber(page, READER)
    hook = make_subscriber(page, real.receiver.url("/webhook"))
    for channel in CHATS:
        chat(page, channel, real.receiver.url(f"/{channel}"))
    phone(page)
    real.worker()

    with real.broker():
        incident = Incident.declare(
            page, name="Checkout errors", body=TEXT, component_statuses=components
        )

    wait_for(sent(7), timeout=60, message="7 deliveries")
    # Later (any lease run out), the sweeper finds nothing more to send.
    assert real.sweep(later=timedelta(minutes=30)) == {"events": 0, "deliveries": 0}
    assert Delivery.objects.count() == 7
    assert sorted(Delivery.objects.values_list("channel", flat=True)) == sorted(
        ["email", "webhook", *CHATS, "sms"]
    )
    assert real.sink.count() == 1 and real.receiver.count() == 5 and real.twilio.count() == 1
    link = page.public_url(f"incidents/{incident.code}/")

    # Email: one message to the reader, the incident's name in its subject, the Markdown as
    # HTML (its mentions mere escaped text) and as plain text.
    (message,) = real.sink.parsed()
    assert message["To"] == reader.email
    assert message["Subject"] == "[Alpha] Investigating: Checkout errors"
    text, html = (part.get_content() for part in message.get_payload())
    assert "<h4>What happened</h4>" in html and "<strong>EU</strong>" in html
    assert '<a href="https://example.com/run?a=1&amp;b=2"' in html
    assert "<li>web: <code>502</code> errors</li>" in html and "<ol>" in html
    assert "<pre><code>SELECT 1;" in html
    assert "&lt;!here&gt;" in html and "<!here>" not in html and "<users/all>" not in html
    assert "see the runbook (https://example.com/run?a=1&b=2)." in text
    assert "Finding 39" in text and link in text

    # Webhook: our Standard Webhooks body, its signature valid; the text is data, kept as typed.
    ((headers, body),) = real.receiver.to("/webhook")
    payload = Webhook(hook.secret).verify(body, headers)
    assert headers["webhook-id"] == Delivery.objects.get(subscriber=hook).webhook_id
    assert payload["meta"]["event"] == "incident_created"
    assert payload["incident"]["id"] == incident.code
    (update,) = payload["incident"]["incident_updates"]
    assert update["body"] == TEXT

    # Slack: Block Kit, at most 50 blocks and 3,000 characters a text; Markdown as mrkdwn.
    ((headers, body),) = real.receiver.to("/slack")
    assert headers["content-type"].startswith("application/json")
    slack = json.loads(body)
    blocks = slack["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text",
                         "text": "Alpha: Checkout errors", "emoji": False}}  # fmt: skip
    assert 1 < len(blocks) <= 50
    block_texts = list(texts(blocks)) + list(texts(slack["attachments"]))
    assert all(len(each) <= 3000 for each in block_texts)
    assert blocks[-1]["type"] == "actions" and blocks[-1]["elements"][0]["url"] == link
    assert slack["attachments"][0]["color"].startswith("#")
    shown = no_mention_in(slack)
    assert "*What happened*" in shown and "*EU*" in shown
    assert "<https://example.com/run?a=1&amp;b=2|the runbook>" in shown
    assert "• web: `502` errors" in shown and "```\nSELECT 1;\n```" in shown
    assert "&lt;!here&gt;" in shown

    # Teams: the envelope Workflows expect around an Adaptive Card 1.4+, within 28 KB.
    ((_headers, body),) = real.receiver.to("/teams")
    assert len(body) <= 28 * 1024
    teams = json.loads(body)
    assert teams["type"] == "message"
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert tuple(map(int, card["version"].split("."))) >= (1, 4)
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "View incident",
                                  "url": link}  # fmt: skip
    assert "Checkout errors" in [block.get("text") for block in card["body"]]
    shown = no_mention_in(card)
    assert "**What happened**" in shown and "**EU**" in shown
    assert "[the runbook](https://example.com/run?a=1&b=2)" in shown
    assert "- web: 502 errors" in shown and "    1. reads" in shown

    # Discord: one embed of at most 6,000 characters with title, description, fields and
    # footer; mentions off whatever the text says.
    ((_headers, body),) = real.receiver.to("/discord")
    discord = json.loads(body)
    assert discord["allowed_mentions"] == {"parse": []}
    (embed,) = discord["embeds"]
    assert embed["title"] == "Checkout errors" and embed["url"] == link
    assert len(embed["description"]) <= 4096 and len(embed["fields"]) == 25  # of 30
    assert embed["fields"][0] == {"name": "Region 00", "value": "Partial outage", "inline": True}
    assert embed["footer"]["text"].startswith("Alpha")
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(field["name"]) + len(field["value"]) for field in embed["fields"])
    assert total <= 6000
    shown = no_mention_in(embed)
    assert "**What happened**" in shown and "**EU**" in shown
    assert "[the runbook](https://example.com/run?a=1&b=2)" in shown
    assert "- web: `502` errors" in shown and "```\nSELECT 1;\n```" in shown

    # Google Chat: a cardsV2 card; Markdown as the little HTML its text paragraphs take.
    ((_headers, body),) = real.receiver.to("/google_chat")
    assert len(body) <= 32_000
    google = json.loads(body)
    (entry,) = google["cardsV2"]
    card = entry["card"]
    assert card["header"] == {"title": "Checkout errors", "subtitle": "Alpha"}
    buttons = card["sections"][-1]["widgets"][0]["buttonList"]["buttons"]
    assert buttons[0]["onClick"]["openLink"]["url"] == link
    shown = no_mention_in(google)
    assert "<b>What happened</b>" in shown and "<b>EU</b>" in shown
    assert '<a href="https://example.com/run?a=1&amp;b=2">the runbook</a>' in shown
    assert "• web: " in shown and "&lt;!here&gt;" in shown

    # SMS: one message to the number, within one GSM-7 SMS: page, status, name, link; none of
    # the update's text.
    (sms,) = real.twilio.to(NUMBER)
    assert sms["From"] == FakeTwilio.FROM and sms["_status"] == 201
    assert sms["Body"] == f"Alpha: Investigating (major) - Checkout errors {link}"
    assert septets(sms["Body"]) <= 160
    assert "@" not in sms["Body"] and "<" not in sms["Body"]


def test_slack_discord_google_chat_and_email_failing_once_are_retried_and_delivered_once(
    page, real
):
    # Webhook, Teams and SMS: test_real_delivery.py, test_chat_delivery.py, test_sms_delivery.py.
    targets = {channel: chat(page, channel, real.receiver.url(f"/{channel}"))
               for channel in ("slack", "discord", "google_chat")}  # fmt: skip
    for channel in targets:
        real.receiver.script(f"/{channel}", [500])
    targets["email"] = make_subscriber(page, READER)
    real.sink.script(READER, ["451 4.3.0 Try again later"])

    for channel, first in first_attempts(real, page, targets).items():
        assert (first.status, first.response_code) == ("failed", 451 if channel == "email" else 500)
        assert first.next_attempt_at > timezone.now() + timedelta(seconds=30)
    assert real.sink.count() == 0
    # The retries are due (instead of in a minute): the sweeper hands them to the worker.
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert real.sweep() == {"events": 0, "deliveries": 4}

    for channel, target in targets.items():
        retried = wait_for(attempted(target, 2), message=f"{channel}'s retry")
        assert (retried.status, retried.attempts) == ("sent", 2)
        assert Subscriber.objects.get(pk=target.pk).state == "confirmed"
    for channel in ("slack", "discord", "google_chat"):
        bodies = [body for _headers, body in real.receiver.to(f"/{channel}")]
        assert len(bodies) == 2 and bodies[0] == bodies[1]
    (message,) = real.sink.parsed()
    assert message["To"] == READER
    assert message["Message-ID"] == Delivery.objects.get(channel="email").message_id
    assert real.sweep(later=timedelta(minutes=30)) == {"events": 0, "deliveries": 0}


def test_every_chat_and_webhook_failing_again_and_again_is_quarantined_and_its_contact_told(
    page, real
):
    channels = ("webhook", *CHATS)
    contacts = {channel: f"{channel}-ops@example.com" for channel in channels}
    targets = {
        channel: chat(page, channel, real.receiver.url(f"/{channel}"), email=contacts[channel])
        for channel in channels
    }
    for channel in channels:
        real.receiver.script(f"/{channel}", [503] * QUARANTINE_FAILURES)
    real.worker()
    incident = Incident.declare(page, name="Outage", notify=False)

    with real.broker():
        for n in range(QUARANTINE_FAILURES):
            incident.post_update("identified", f"Update {n}.")

    deliveries = len(channels) * QUARANTINE_FAILURES
    wait_for(lambda: Delivery.objects.filter(status="failed").count() == deliveries, timeout=60,
             message=f"{deliveries} failed deliveries")  # fmt: skip
    for target in targets.values():
        target.refresh_from_db()
        assert (target.state, target.consecutive_failures) == ("quarantined", QUARANTINE_FAILURES)
        assert target.quarantined_at is not None
    # Each contact is told, once.
    wait_for(lambda: real.sink.count() == len(channels), message="the notices to the contacts")
    notices = real.sink.parsed()
    assert sorted(notice["To"] for notice in notices) == sorted(contacts.values())
    assert sorted(notice["Subject"] for notice in notices) == sorted(
        f"[Alpha] {label} deliveries paused"
        for label in ("Webhook", "Slack", "Microsoft Teams", "Discord", "Google Chat")
    )

    # A quarantined subscriber gets nothing more until staff reactivate it: the next update
    # reaches only a new subscriber.
    newcomer = make_subscriber(page, READER)
    with real.broker():
        incident.post_update("resolved", "Fixed.")
    wait_for(attempted(newcomer, 1), message="the newcomer's email")
    resolved = Delivery.objects.filter(event__update__body="Fixed.")
    assert list(resolved.values_list("subscriber", flat=True)) == [newcomer.pk]
    assert real.receiver.count() == deliveries


def test_teams_discord_google_chat_and_sms_gone_disable_their_subscriber(page, real):
    # Webhook (410) and Slack (channel_not_found): test_real_delivery.py, test_chat_delivery.py.
    targets = {
        channel: chat(page, channel, real.receiver.url(f"/{channel}"), email=f"{channel}@ex.com")
        for channel in ("teams", "discord", "google_chat")
    }
    for channel in targets:
        real.receiver.script(f"/{channel}", [404])
    targets["sms"] = phone(page)
    real.twilio.script(NUMBER, [(400, 21211)])  # not a valid phone number

    for channel, dead in first_attempts(real, page, targets).items():
        assert (dead.status, dead.response_code) == ("dead", 400 if channel == "sms" else 404)
        assert Subscriber.objects.get(pk=dead.subscriber_id).state == "disabled"
    # Each chat's contact is told (an SMS subscriber has none).
    wait_for(lambda: real.sink.count() == 3, message="the notices to the chats' contacts")
    subjects = {notice["To"]: notice["Subject"] for notice in real.sink.parsed()}
    assert subjects == {
        "teams@ex.com": "[Alpha] Notifications to your Microsoft Teams channel stopped",
        "discord@ex.com": "[Alpha] Notifications to your Discord channel stopped",
        "google_chat@ex.com": "[Alpha] Notifications to your Google Chat channel stopped",
    }
    # Nothing is tried again.
    assert real.sweep(later=timedelta(days=2)) == {"events": 0, "deliveries": 0}


def test_email_and_sms_failing_on_every_attempt_are_given_up_after_the_last(page, real):
    reader, texted = make_subscriber(page, READER), phone(page)
    real.sink.script(READER, ["451 4.3.0 Try again later"] * MAX_ATTEMPTS)
    real.twilio.script(NUMBER, [503] * MAX_ATTEMPTS)
    real.worker()

    with real.broker():
        Incident.declare(page, name="Outage")

    for attempt in range(1, MAX_ATTEMPTS + 1):
        for target in (reader, texted):
            wait_for(attempted(target, attempt), timeout=60, message=f"attempt {attempt}")
        # The next retry is due now rather than after its wait.
        Delivery.objects.filter(status="failed").update(next_attempt_at=timezone.now())
        real.sweep()

    for target, code in ((reader, 451), (texted, 503)):
        delivery = Delivery.objects.get(subscriber=target)
        assert (delivery.status, delivery.attempts, delivery.response_code) == (
            "dead", MAX_ATTEMPTS, code
        )  # fmt: skip
        # Neither channel is quarantined: a mailbox or a number is not an endpoint of its own.
        assert Subscriber.objects.get(pk=target.pk).state == "confirmed"
    assert real.sink.count() == 0
    assert [m["_status"] for m in real.twilio.to(NUMBER)] == [503] * MAX_ATTEMPTS
