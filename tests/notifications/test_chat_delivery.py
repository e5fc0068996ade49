"""Chat deliveries end to end with real parts: PostgreSQL, Redis, a Celery worker process, an
SMTP sink and an HTTP receiver standing in for Slack, Teams, Discord and Google Chat. One update
reaches an email, a webhook and every chat once each, in each service's documented shape and
limits; failures are retried, a gone channel disabled, Discord's retry_after obeyed."""

import json
from datetime import timedelta

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from incidents.models import Incident
from notifications.models import Delivery, Subscriber
from status.models import Component
from tests.factories import make_subscriber
from tests.notifications.real import REAL_PARTS, attempted
from tests.notifications.servers import wait_for

pytestmark = REAL_PARTS


def chat(page, channel, url, **fields):
    return Subscriber.objects.create(
        page=page, channel=channel, endpoint=url, state="confirmed", confirmed_at=timezone.now(),
        **fields,
    )  # fmt: skip


def one(receiver, path):
    ((_headers, body),) = receiver.to(path)
    return json.loads(body)


def test_one_update_reaches_email_webhook_and_every_chat_exactly_once(page, real):
    components = {
        Component.objects.create(page=page, name=f"Region {n:02d}"): "partial_outage"
        for n in range(30)
    }
    reader = make_subscriber(page, "reader@example.com")
    hook = make_subscriber(page, real.receiver.url("/hook"))
    for channel in ("slack", "teams", "discord", "google_chat"):
        chat(page, channel, real.receiver.url(f"/{channel}"))
    # Two Slack channels: a batch of them goes through the concurrent path.
    chat(page, "slack", real.receiver.url("/slack-2"))
    real.worker()
    text = "\n\n".join(f"## Finding {n}\n\n- item **{n}**\n\n" + "detail " * 250 for n in range(50))

    incident = Incident.declare(page, name="Database failover", notify=False)
    with real.broker():
        incident.post_update("identified", text, component_statuses=components)

    wait_for(lambda: Delivery.objects.filter(status="sent").count() >= 7, timeout=60,
             message="7 deliveries")  # fmt: skip
    assert Delivery.objects.count() == 7
    assert real.sink.count() == 1 and real.sink.parsed()[0]["To"] == reader.email
    assert real.receiver.count() == 6
    ((headers, body),) = real.receiver.to("/hook")
    assert Webhook(hook.secret).verify(body, headers)["incident"]["id"] == incident.code

    link = page.public_url(f"incidents/{incident.code}/")
    for path in ("/slack", "/slack-2"):
        slack = one(real.receiver, path)
        assert slack["blocks"][0]["type"] == "header"
        assert "Database failover" in slack["blocks"][0]["text"]["text"]
        assert len(slack["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in slack["blocks"] if b.get("text"))
        assert slack["blocks"][-1]["elements"][0]["url"] == link
        assert slack["attachments"][0]["color"].startswith("#")

    teams = real.receiver.to("/teams")[0][1]
    assert len(teams) <= 28 * 1024
    card = json.loads(teams)["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["version"] == "1.4"
    assert card["content"]["actions"][0]["url"] == link

    discord = one(real.receiver, "/discord")
    (embed,) = discord["embeds"]
    assert embed["title"] == "Database failover" and embed["url"] == link
    assert len(embed["fields"]) == 25 and len(embed["description"]) <= 4096
    total = sum(map(len, [embed["title"], embed["description"], embed["footer"]["text"]]))
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000
    assert discord["allowed_mentions"] == {"parse": []}

    google = real.receiver.to("/google_chat")[0][1]
    assert len(google) <= 32_000
    card = json.loads(google)["cardsV2"][0]["card"]
    assert card["header"]["title"] == "Database failover"
    assert "<b>Finding 0</b>" in card["sections"][0]["widgets"][1]["textParagraph"]["text"]


def test_chat_failures_are_retried_a_gone_channel_disabled_and_discord_obeyed(page, real):
    flaky = chat(page, "teams", real.receiver.url("/teams"))
    gone = chat(page, "slack", real.receiver.url("/slack"), email="ops@example.com")
    slowed = chat(page, "discord", real.receiver.url("/discord"))
    real.receiver.script("/teams", [500, 200])
    real.receiver.script("/slack", [(404, {}, b"channel_not_found")])
    rate_limited = json.dumps({"message": "You are being rate limited.", "retry_after": 1.5,
                               "global": False}).encode()  # fmt: skip
    real.receiver.script("/discord", [(429, {"content-type": "application/json"}, rate_limited)])
    real.worker()

    with real.broker():
        Incident.declare(page, name="Outage")

    first = wait_for(attempted(flaky, 1), message="Teams' first attempt")
    assert (first.status, first.response_code) == ("failed", 500)
    limited = wait_for(attempted(slowed, 1), message="Discord's first attempt")
    assert (limited.status, limited.response_code) == ("failed", 429)
    wait = limited.next_attempt_at - limited.last_attempt_at
    assert timedelta(seconds=1.5) <= wait < timedelta(seconds=30)
    dead = wait_for(attempted(gone, 1), message="Slack's answer")
    assert (dead.status, dead.response_code) == ("dead", 404)
    assert Subscriber.objects.get(pk=gone.pk).state == "disabled"
    # Its contact is told.
    wait_for(lambda: real.sink.count() == 1, message="the notice to the Slack contact")
    assert "Slack channel stopped" in real.sink.parsed()[0]["Subject"]

    # Teams' retry is made due now; Discord's is due once its 1.5 s have passed.
    Delivery.objects.filter(subscriber=flaky).update(next_attempt_at=timezone.now())
    wait_for(lambda: timezone.now() > limited.next_attempt_at, message="Discord's wait")
    real.sweep()
    sent = wait_for(attempted(flaky, 2), message="Teams' second attempt")
    assert (sent.status, sent.response_code) == ("sent", 200)
    retried = wait_for(attempted(slowed, 2), message="Discord's second attempt")
    assert retried.status == "sent"
    bodies = [body for _headers, body in real.receiver.to("/teams")]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert len(real.receiver.to("/slack")) == 1
