"""Chat subscribers (Slack, Microsoft Teams, Discord, Google Chat): the URLs we accept, the
messages each service gets (its documented shape and limits, Markdown in its own markup, no
mention smuggled in), how each transport reads the service's answers, the choice of events,
and subscribing from the public page with a confirmation message in the channel."""

import json
import re
import signal
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from incidents.markdown import render_markdown
from incidents.models import Incident
from notifications import chat, tasks, webhooks
from notifications.models import (
    QUARANTINE_FAILURES,
    Delivery,
    NotificationEvent,
    Subscriber,
)
from status.models import Component
from tests.factories import make_delivery, make_subscriber
from tests.notifications.payloads import texts
from tests.notifications.servers import Receiver

CHATS = ["slack", "teams", "discord", "google_chat"]
GOOD_URLS = {
    "slack": "https://hooks.slack.com/services/T0001/B0001/abcdefXYZ",
    "teams": "https://prod-12.westus.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc",
    "discord": "https://discord.com/api/webhooks/123456789012345678/AbC-def_123",
    "google_chat": "https://chat.googleapis.com/v1/spaces/AAAAb1c2d3/messages?key=k&token=t",
}
MENTIONS = (
    "Heads up <!here> and <!channel> and <!everyone> and <@U024BE7LH> and <#C123> "
    "@everyone @here @channel @all <at>Ana</at> <users/all> <users/123>"
)
MARKDOWN = """# Root cause

The **database** failed _over_ at 10:02; see [the runbook](https://example.com/run?a=1&b=2).

- web: `502` errors
- api
  1. reads
  2. writes

```
SELECT 1;
```
"""


@pytest.fixture
def public_hooks(monkeypatch):
    """Every host resolves to a public address (the test's DNS knows none of them)."""
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14"])


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def local_hooks(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


def make_chat(page, channel, url, *, email="", state="confirmed", **fields):
    made = Subscriber.objects.create(
        page=page,
        channel=channel,
        email=email,
        endpoint=url,
        state=state,
        confirmed_at=timezone.now() if state == "confirmed" else None,
        **fields,
    )
    return made


def incident_event(page, api, body, callbacks, name="Checkout errors"):
    with callbacks(execute=False):
        incident = Incident.declare(
            page, name=name, body=body, component_statuses={api: "partial_outage"}
        )
    return NotificationEvent.objects.get(incident=incident, kind="incident_created")


def payload(channel, event):
    return json.loads(chat.body_bytes(channel, chat.event_message(event)))


# URLs


@pytest.mark.parametrize("channel", CHATS)
def test_each_services_own_webhook_url_is_accepted(channel, public_hooks):
    chat.validate_chat_url(channel, GOOD_URLS[channel])


@pytest.mark.parametrize(
    ("channel", "url"),
    [
        ("slack", "http://hooks.slack.com/services/T0001/B0001/abc"),
        ("slack", "https://hooks.slack.com.evil.example/services/T0001/B0001/abc"),
        ("slack", "https://hooks.slack.com/api/chat.postMessage"),
        ("slack", GOOD_URLS["discord"]),
        ("teams", "https://logic.azure.com.evil.example/workflows/x"),
        ("teams", "https://outlook.office.com/webhook/abc"),
        ("discord", "https://discord.com/channels/123/456"),
        ("discord", "https://discord.gg/api/webhooks/1/abc"),
        ("google_chat", "https://chat.googleapis.com/v1/spaces/AAAA/members"),
        ("google_chat", "https://example.com/v1/spaces/AAAA/messages"),
    ],
)
def test_a_url_that_is_not_the_services_webhook_is_refused(channel, url, public_hooks):
    with pytest.raises(ValidationError) as refused:
        chat.validate_chat_url(channel, url)

    assert "webhook URL" in refused.value.messages[0]


@pytest.mark.parametrize("channel", CHATS)
def test_a_service_host_resolving_to_a_private_address_is_refused(channel, monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["10.0.0.7"])

    with pytest.raises(ValidationError) as refused:
        chat.validate_chat_url(channel, GOOD_URLS[channel])

    assert "10.0.0.7" in refused.value.messages[0]


@pytest.mark.parametrize(
    ("channel", "spellings", "canonical"),
    [
        (
            "discord",
            [
                "https://discord.com/api/webhooks/1/tok",
                "https://discord.com/api/webhooks/1/tok/",
                "https://discord.com/api/v10/webhooks/1/tok",
                "https://DISCORD.com/api/webhooks/1/tok",
                "https://discordapp.com/api/webhooks/1/tok",
                "https://discord.com/api/webhooks/1/tok?x=1#top",
            ],
            "https://discord.com/api/webhooks/1/tok",
        ),
        (
            "slack",
            [
                "https://hooks.slack.com/services/T1/B1/abc",
                "https://Hooks.Slack.com/services/T1/B1/abc/",
                "https://hooks.slack.com/services/T1/B1/abc?x=2",
            ],
            "https://hooks.slack.com/services/T1/B1/abc",
        ),
        (
            "google_chat",
            [
                "https://chat.googleapis.com/v1/spaces/A1/messages?key=k&token=t",
                "https://chat.googleapis.com/v1/spaces/A1/messages?token=t&key=k",
                "https://CHAT.googleapis.com/v1/spaces/A1/messages?key=k&x=3&token=t",
            ],
            "https://chat.googleapis.com/v1/spaces/A1/messages?key=k&token=t",
        ),
        (
            "teams",
            [
                "https://prod-12.westus.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/"
                "invoke?api-version=2016-06-01&sig=abc",
                "https://PROD-12.westus.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/"
                "invoke?api-version=2016-06-01&sig=abc",
            ],
            "https://prod-12.westus.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/"
            "invoke?api-version=2016-06-01&sig=abc",
        ),
    ],
)
def test_every_spelling_of_a_channels_url_is_saved_as_one(
    channel, spellings, canonical, page, public_hooks, django_capture_on_commit_callbacks
):
    assert {chat.validate_chat_url(channel, url) for url in spellings} == {canonical}

    # Subscribing each spelling from the public page: one subscriber, its URL the canonical one.
    with django_capture_on_commit_callbacks(execute=False):  # no message leaves the machine
        for url in spellings:
            response = Client().post(
                "/p/alpha/subscribe/",
                {"channel": channel, "endpoint": url, "events_shown": "1", "events": ["incidents"]},
            )
            assert response.status_code == 200
    assert list(Subscriber.objects.values_list("endpoint", flat=True)) == [canonical]


def test_a_discord_thread_stays_a_place_of_its_own(public_hooks):
    url = "https://discord.com/api/v10/webhooks/1/tok/?wait=true&thread_id=77"

    assert chat.validate_chat_url("discord", url) == (
        "https://discord.com/api/webhooks/1/tok?thread_id=77"
    )


def test_allowing_private_addresses_also_allows_local_http_receivers(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    with pytest.raises(ValidationError):
        chat.validate_chat_url("slack", "http://127.0.0.1:8080/slack")

    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    chat.validate_chat_url("slack", "http://127.0.0.1:8080/slack")


# Messages


def test_slack_gets_block_kit_with_header_status_text_components_button_and_colour(
    page, api, django_capture_on_commit_callbacks
):
    event = incident_event(page, api, MARKDOWN, django_capture_on_commit_callbacks)
    body = payload("slack", event)

    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": f"{page.name}: Checkout errors", "emoji": False},
    }
    assert blocks[1]["text"]["text"] == "*New incident* · Investigating · Impact: Major"
    text = blocks[2]["text"]
    assert text["type"] == "mrkdwn"
    assert text["text"].startswith("*Root cause*\n\nThe *database* failed _over_ at 10:02;")
    assert "<https://example.com/run?a=1&amp;b=2|the runbook>" in text["text"]
    assert "• web: `502` errors\n• api\n    1. reads\n    2. writes" in text["text"]
    assert "```\nSELECT 1;\n```" in text["text"]
    assert blocks[3]["text"]["text"] == "*Affected components*\n• API: *Partial outage*"
    button = blocks[-1]["elements"][0]
    assert blocks[-1]["type"] == "actions" and button["type"] == "button"
    assert button["url"] == page.public_url(f"incidents/{event.incident.code}/")
    assert body["attachments"][0]["color"] == "#e67e22"
    assert body["text"]  # the notification's fallback


def test_discord_gets_an_embed_with_fields_footer_colour_and_no_mentions(
    page, api, django_capture_on_commit_callbacks
):
    event = incident_event(page, api, MARKDOWN, django_capture_on_commit_callbacks)
    body = payload("discord", event)

    assert body["allowed_mentions"] == {"parse": []}
    (embed,) = body["embeds"]
    assert embed["title"] == "Checkout errors"
    assert embed["url"] == page.public_url(f"incidents/{event.incident.code}/")
    assert embed["color"] == 0xE67E22
    assert embed["fields"] == [{"name": "API", "value": "Partial outage", "inline": True}]
    assert embed["footer"]["text"].startswith(page.name)
    description = embed["description"]
    assert description.startswith("**New incident** · Investigating · Impact: Major\n\n")
    assert "**Root cause**" in description and "The **database** failed *over*" in description
    assert "[the runbook](https://example.com/run?a=1&b=2)" in description
    assert "- web: `502` errors" in description
    assert "```\nSELECT 1;\n```" in description


def test_teams_gets_an_adaptive_card_in_the_envelope_workflows_expect(
    page, api, django_capture_on_commit_callbacks
):
    event = incident_event(page, api, MARKDOWN, django_capture_on_commit_callbacks)
    body = payload("teams", event)

    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert tuple(map(int, card["version"].split("."))) >= (1, 4)
    kinds = [element["type"] for element in card["body"]]
    assert kinds == ["TextBlock", "TextBlock", "TextBlock", "TextBlock", "FactSet"]
    assert card["body"][1]["text"] == "Checkout errors"
    assert card["body"][2]["color"] == "Attention"
    assert "**Root cause**" in card["body"][3]["text"]
    assert "[the runbook](https://example.com/run?a=1&b=2)" in card["body"][3]["text"]
    assert card["body"][4]["facts"] == [{"title": "API", "value": "Partial outage"}]
    action = card["actions"][0]
    assert action["type"] == "Action.OpenUrl"
    assert action["url"] == page.public_url(f"incidents/{event.incident.code}/")


def test_google_chat_gets_a_cards_v2_card(page, api, django_capture_on_commit_callbacks):
    event = incident_event(page, api, MARKDOWN, django_capture_on_commit_callbacks)
    body = payload("google_chat", event)

    (card,) = body["cardsV2"]
    assert card["cardId"]
    assert card["card"]["header"] == {"title": "Checkout errors", "subtitle": page.name}
    first, components, links = card["card"]["sections"]
    update = first["widgets"][1]["textParagraph"]["text"]
    assert update.startswith("<b>Root cause</b><br><br>The <b>database</b> failed <i>over</i>")
    assert '<a href="https://example.com/run?a=1&amp;b=2">the runbook</a>' in update
    assert components["widgets"] == [
        {"decoratedText": {"text": "API", "bottomLabel": "Partial outage"}}
    ]
    button = links["widgets"][0]["buttonList"]["buttons"][0]
    assert button["onClick"]["openLink"]["url"] == page.public_url(
        f"incidents/{event.incident.code}/"
    )


# What a user sees broken when a cut splits markup: a partial entity, a link or tag left open,
# an odd number of ``` fences (the rest of the message becomes code).
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")
MD_LINK = re.compile(r"\[(?:\\.|[^\]\\\n])*\]\([^)\s]*\)")


def slack_problems(text):
    problems = []
    if len(text) > 3000:
        problems.append(f"{len(text)} characters")
    if ENTITY.search(text):
        problems.append("a partial entity")
    if not re.fullmatch(r"(?:[^<>]|<[^<>]*>)*", text):
        problems.append("a link left open")
    if text.count("```") % 2:
        problems.append("an odd number of ```")
    return problems


def markdown_problems(text):
    """Discord's and Teams' Markdown: links whole (every unescaped "[" starts one), fences
    paired."""
    problems = []
    if re.search(r"(?<!\\)\[", MD_LINK.sub("", text)):
        problems.append("a link cut")
    if text.count("```") % 2:
        problems.append("an odd number of ```")
    return problems


def html_problems(text):
    """Google Chat's card HTML: every entity whole, every tag whole and closed."""
    problems = []
    if ENTITY.search(text):
        problems.append("a partial entity")
    if not re.fullmatch(r"(?:[^<>]|<[^<>]*>)*", text):
        problems.append("a tag cut")
    open_tags = []
    for closing, tag in re.findall(r"<(/?)([a-z]+)\b[^<>]*>", text):
        if tag == "br":
            continue
        if not closing:
            open_tags.append(tag)
        elif not open_tags or open_tags.pop() != tag:
            problems.append(f"</{tag}> out of place")
    if open_tags:
        problems.append(f"unclosed {open_tags}")
    return problems


def limits_problems(channel, body):
    """Where a built message breaks its service's documented limits or its markup."""
    problems = []
    if channel == "slack":
        blocks = body["blocks"]
        if len(blocks) > 50 or len(blocks[0]["text"]["text"]) > 150:
            problems.append("blocks or header too long")
        for block in blocks:
            if block["type"] == "section":
                problems += slack_problems(block["text"]["text"])
    elif channel == "discord":
        (embed,) = body["embeds"]
        fields = embed["fields"]
        if len(embed["title"]) > 256 or len(embed["description"]) > 4096 or len(fields) > 25:
            problems.append("title, description or fields over their limits")
        if any(len(f["name"]) > 256 or len(f["value"]) > 1024 for f in fields):
            problems.append("a field over its limits")
        total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
        total += sum(len(f["name"]) + len(f["value"]) for f in fields)
        if total > 6000:
            problems.append(f"embed of {total} characters")
        for text in [embed["description"], *(f["name"] for f in fields)]:
            problems += markdown_problems(text)
    elif channel == "teams":
        if len(chat.dumps(body)) > 28 * 1024:
            problems.append(f"{len(chat.dumps(body))} bytes")
        for text in texts(body["attachments"][0]["content"]["body"]):
            problems += markdown_problems(text)
    else:
        if len(chat.dumps(body)) > 32_000:
            problems.append(f"{len(chat.dumps(body))} bytes")
        for section in body["cardsV2"][0]["card"]["sections"]:
            for widget in section["widgets"]:
                for text in texts({k: v for k, v in widget.items() if k != "buttonList"}):
                    if len(text) > 4096:
                        problems.append(f"a text of {len(text)} characters")
                    problems += html_problems(text)
    return problems


def built(channel, body="", components=(), title="Outage"):
    """A message built straight from its facts (no database), as each service gets it."""
    message = chat.Message(
        page_name="Acme",
        page_url="https://status.example.com/",
        title=title,
        headline="Incident update",
        status="Identified",
        impact="major",
        body_html=str(render_markdown(body)) if body else "",
        link="https://status.example.com/incidents/1/",
        link_label="View incident",
        components=list(components),
    )
    return json.loads(chat.body_bytes(channel, message))


def test_a_huge_update_keeps_within_every_services_limits(page, django_capture_on_commit_callbacks):
    components = {
        Component.objects.create(page=page, name=f"Service {n:03d} <&> " + "x" * 80): "major_outage"
        for n in range(320)
    }
    code = "```\n" + "\n".join(f"line {n:03d} " + "y" * 18 for n in range(300)) + "\n```"
    links = " ".join(f"[label {n} words here](https://example.com/{'a' * 40}/{n}?a=1&b=2)"
                     for n in range(300))  # fmt: skip
    ampersands = "R&D & QA <ops> " * 600
    parts = "\n\n".join(f"## Part {n}\n\n" + "word " * 400 for n in range(20))
    body = "\n\n".join([code, links, ampersands, parts])
    with django_capture_on_commit_callbacks(execute=False):
        incident = Incident.declare(page, name="N" * 200, body=body, component_statuses=components)
    event = NotificationEvent.objects.get(incident=incident)
    assert len(body) > 80_000

    for channel in CHATS:
        sent = payload(channel, event)
        assert limits_problems(channel, sent) == [], channel
        assert "line 000" in "\n".join(texts(sent)), channel
        assert "Service 000" in "\n".join(texts(sent)), channel
    for channel in ("teams", "google_chat"):
        assert (
            "and 280 more components"
            in chat.body_bytes(channel, chat.event_message(event)).decode()
        )
    sections = [block for block in payload("slack", event)["blocks"] if block["type"] == "section"]
    assert len(sections) == 2 + chat.SLACK_MAX_BODY_SECTIONS
    assert sections[-2]["text"]["text"].endswith("…")  # the rest is on the incident's page
    (embed,) = payload("discord", event)["embeds"]
    assert embed["fields"][-1]["value"].startswith("and ")
    assert embed["fields"][-1]["value"].endswith(" more components")


@pytest.mark.parametrize("channel", CHATS)
@pytest.mark.parametrize(
    "name",
    [
        "Region {n:03d} " + "x" * 88,
        "<&>" * 33,
        "*_" * 50,
        "@a" * 50,
        "Region {n:03d} & " + "&" * 40,
        "[a](b) `c` " * 9,
    ],
)
def test_hundreds_of_long_component_names_build_within_every_services_limits(channel, name):
    """A card's component list cannot push it over its limits (nor loop for ever: a build
    that does not end fails by the alarm)."""
    components = [(name.format(n=n), "Major outage") for n in range(300)]
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail(f"{channel} build did not end"))
    signal.alarm(60)
    try:
        body = built(channel, "Short update.", components)
    finally:
        signal.alarm(0)

    assert limits_problems(channel, body) == []
    sent = "\n".join(texts(body))
    assert "Short update." in sent
    assert "components" in sent  # how many were left out, or that there are more


def section_texts(body):
    """The update's text in Slack: the sections between the status line and the button."""
    return [block["text"]["text"] for block in body["blocks"][2:-1]]


FENCED_BODIES = {
    "code only": "```\n{code}\n```",
    "text around": "Before.\n\n```\n{code}\n```\n\nAfter.",
    "two blocks": "```\n{code}\n```\n\nBetween.\n\n```\n{code}\n```",
}


@pytest.mark.parametrize("shape", FENCED_BODIES)
@pytest.mark.parametrize("width", [20, 27, 33, 41, 59])
def test_long_code_is_split_across_slack_sections_each_a_closed_code_block(shape, width):
    lines = [f"{n:03d} " + "z" * (width - 4) for n in range(300)]
    markdown = FENCED_BODIES[shape].format(code="\n".join(lines))

    sections = section_texts(built("slack", markdown))

    assert len(sections) > 1
    for text in sections:
        assert slack_problems(text) == []
    # Read in order, the sections show every line once, each code line inside a code block.
    shown, in_code = [], False
    for text in sections:
        for line in text.split("\n"):
            if line == "```":
                in_code = not in_code
            elif line.strip():
                shown.append((line, in_code))
        assert not in_code  # each section closes what it opens
    expected = [(line, True) for line in lines]
    expected = {
        "code only": expected,
        "text around": [("Before.", False), *expected, ("After.", False)],
        "two blocks": [*expected, ("Between.", False), *expected],
    }[shape]
    assert shown == expected


def test_code_longer_than_all_slack_sections_is_cut_and_still_closed():
    lines = [f"{n:04d} " + "z" * 22 for n in range(3000)]

    sections = section_texts(built("slack", "```\n" + "\n".join(lines) + "\n```"))

    assert len(sections) == chat.SLACK_MAX_BODY_SECTIONS
    for text in sections:
        assert slack_problems(text) == []
        assert text.startswith("```\n") and text.endswith("\n```")
    assert sections[-1].endswith("…\n```")


CUT_BODIES = [
    lambda n: " ".join(
        f"[label {i} wo rds](https://example.com/{'a' * n}/{i}?a=1&b=2)" for i in range(300)
    ),
    lambda n: "x&" * 2 + ("&x" + "x" * (n % 7)) * 3000,
    lambda n: " ".join(f"`code{i}` and `mo re{i}`" + "x" * n for i in range(600)),
    lambda n: "&" * (4000 + n) + " tail",
    lambda n: " ".join(f"**bold {i} & <b>** _it_ [x](https://e.com/{'q' * n})" for i in range(600)),
]


@pytest.mark.parametrize("channel", CHATS)
@pytest.mark.parametrize("shift", range(0, 60, 11))
def test_cutting_a_long_update_never_splits_an_entity_a_link_or_a_tag(channel, shift):
    for make_body in CUT_BODIES:
        body = built(channel, make_body(shift))

        assert limits_problems(channel, body) == [], make_body(shift)[:60]


@pytest.mark.parametrize("channel", CHATS)
def test_a_link_the_sanitiser_emptied_is_shown_as_its_label(channel):
    body = built(channel, "See [the docs](javascript:alert(1)) now.")
    sent = "\n".join(texts(body))

    assert "the docs" in sent
    for empty_link in ("<|", "]()", 'href=""', "javascript"):
        assert empty_link not in sent


def test_discord_field_names_are_escaped_like_the_text():
    components = [("**Bold** _it_ `db` [x](y) @everyone", "Major outage")]

    (embed,) = built("discord", "Down.", components)["embeds"]

    assert embed["fields"][0]["name"] == (
        r"\*\*Bold\*\* \_it\_ \`db\` \[x\]\(y\) @" + chat.WORD_JOINER + "everyone"
    )


@pytest.mark.parametrize("channel", CHATS)
def test_nothing_in_an_update_can_mention_anyone(
    channel, page, api, django_capture_on_commit_callbacks
):
    page.name = "Acme @everyone <!here>"
    page.save()
    event = incident_event(
        page, api, MENTIONS, django_capture_on_commit_callbacks, name="Down <!channel> @here"
    )
    body = payload(channel, event)
    sent = "\n".join(texts(body))

    for mention in ("@everyone", "@here", "@channel", "@all"):
        assert mention not in sent
    for markup in ("<!here>", "<!channel>", "<!everyone>", "<@U024BE7LH>", "<#C123>",
                   "<at>", "<users/all>", "<users/123>"):  # fmt: skip
        assert markup not in sent
    # The words are still there for people to read.
    assert "everyone" in sent and "U024BE7LH" in sent
    if channel == "discord":
        assert body["allowed_mentions"] == {"parse": []}


# Transports, against a local receiver


def deliver(delivery):
    tasks.deliver([delivery.pk])
    delivery.refresh_from_db()
    return delivery


@pytest.mark.parametrize("channel", CHATS)
def test_a_failing_chat_is_retried_and_then_sent(
    channel, page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    target = make_chat(page, channel, receiver.url(f"/{channel}"))
    event = incident_event(page, api, "Looking.", django_capture_on_commit_callbacks)
    receiver.script(f"/{channel}", [500, 200])

    delivery = deliver(make_delivery(event, target))
    assert delivery.status == "failed" and delivery.response_code == 500
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=50)

    Delivery.objects.filter(pk=delivery.pk).update(status="pending", next_attempt_at=timezone.now())
    delivery = deliver(delivery)
    assert delivery.status == "sent" and delivery.response_code == 200
    bodies = [json.loads(body) for _headers, body in receiver.to(f"/{channel}")]
    assert len(bodies) == 2 and bodies[0] == bodies[1]


@pytest.mark.parametrize(
    "answer", ["channel_not_found", "no_service", "no_team", "team_disabled", "action_prohibited"]
)
def test_slack_saying_the_channel_is_gone_disables_the_subscriber_and_tells_its_contact(
    answer, page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    target = make_chat(page, "slack", receiver.url("/slack"), email="ops@example.com")
    event = incident_event(page, api, "Looking.", django_capture_on_commit_callbacks)
    receiver.script("/slack", [(404 if answer != "action_prohibited" else 403, {},
                                answer.encode())])  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        delivery = deliver(make_delivery(event, target))

    assert delivery.status == "dead"
    assert answer in delivery.last_error
    target.refresh_from_db()
    assert target.state == "disabled"
    (notice,) = mail.outbox
    assert notice.to == ["ops@example.com"]
    assert "Slack channel stopped" in notice.subject
    assert target.endpoint in notice.body


def test_slack_refusing_the_payload_fails_that_message_only(
    page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    target = make_chat(page, "slack", receiver.url("/slack"))
    event = incident_event(page, api, "Looking.", django_capture_on_commit_callbacks)
    receiver.script("/slack", [(400, {}, b"invalid_payload")])

    delivery = deliver(make_delivery(event, target))

    assert delivery.status == "dead" and "invalid_payload" in delivery.last_error
    target.refresh_from_db()
    assert target.state == "confirmed"


def test_discord_429_waits_as_long_as_its_retry_after_says(
    page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    target = make_chat(page, "discord", receiver.url("/discord"))
    event = incident_event(page, api, "Looking.", django_capture_on_commit_callbacks)
    answer = json.dumps({"message": "You are being rate limited.", "retry_after": 42.5,
                         "global": False}).encode()  # fmt: skip
    receiver.script("/discord", [(429, {"content-type": "application/json"}, answer)])

    before = timezone.now()
    delivery = deliver(make_delivery(event, target))

    assert delivery.status == "failed" and delivery.response_code == 429
    wait = delivery.next_attempt_at - before
    assert timedelta(seconds=42.5) <= wait < timedelta(seconds=60)
    target.refresh_from_db()
    assert target.consecutive_failures == 0  # being slowed down is not failing


def test_a_chat_429_without_retry_after_waits_a_minute_and_never_quarantines(
    page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    target = make_chat(page, "google_chat", receiver.url("/gchat"), email="ops@example.com")
    receiver.script("/gchat", [429] * (QUARANTINE_FAILURES + 1))
    for n in range(QUARANTINE_FAILURES + 1):
        event = incident_event(
            page, api, "Looking.", django_capture_on_commit_callbacks, name=f"Outage {n}"
        )
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            delivery = deliver(make_delivery(event, target))
        assert delivery.status == "failed" and delivery.response_code == 429
        assert delivery.next_attempt_at - before >= timedelta(seconds=59)

    target.refresh_from_db()
    assert target.state == "confirmed" and target.consecutive_failures == 0
    assert mail.outbox == []


@pytest.mark.parametrize("channel", ["teams", "discord", "google_chat"])
def test_a_chat_webhook_that_is_gone_disables_the_subscriber(
    channel, page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    target = make_chat(page, channel, receiver.url(f"/{channel}"))
    event = incident_event(page, api, "Looking.", django_capture_on_commit_callbacks)
    receiver.script(f"/{channel}", [404])

    delivery = deliver(make_delivery(event, target))

    assert delivery.status == "dead"
    target.refresh_from_db()
    assert target.state == "disabled"


def test_a_chat_failing_again_and_again_is_quarantined(
    page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    target = make_chat(page, "google_chat", receiver.url("/gchat"), email="ops@example.com")
    receiver.script("/gchat", [503] * QUARANTINE_FAILURES)
    for n in range(QUARANTINE_FAILURES):
        event = incident_event(
            page, api, "Looking.", django_capture_on_commit_callbacks, name=f"Outage {n}"
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(make_delivery(event, target)).status == "failed"

    target.refresh_from_db()
    assert target.state == "quarantined"
    assert [message.to for message in mail.outbox] == [["ops@example.com"]]


# Choice of events


def test_each_subscriber_hears_only_about_the_events_it_chose(
    page, api, website, django_capture_on_commit_callbacks
):
    everything = make_subscriber(page, "all@example.com")
    incidents_only = make_chat(
        page,
        "slack",
        "http://127.0.0.1:9/slack",  # refused at connect time: nothing leaves the machine
        notify_maintenance=False,
        notify_component_changes=False,
    )
    components_only = make_chat(
        page,
        "discord",
        "http://127.0.0.1:9/discord",
        notify_incidents=False,
        notify_maintenance=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})
        Incident.schedule(
            page,
            name="Upgrade",
            scheduled_for=timezone.now() + timedelta(days=1),
            scheduled_until=timezone.now() + timedelta(days=1, hours=1),
        )
        website.set_status("major_outage", notify=True)

    got = {}
    for delivery in Delivery.objects.select_related("event"):
        got.setdefault(delivery.subscriber_id, set()).add(delivery.event.kind)
    assert got[everything.pk] == {"incident_created", "maintenance_scheduled", "component_status"}
    assert got[incidents_only.pk] == {"incident_created"}
    assert got[components_only.pk] == {"component_status"}
    # Every kind of event makes a message on every chat.
    for event in NotificationEvent.objects.all():
        for channel in CHATS:
            assert list(texts(payload(channel, event)))
    component_event = NotificationEvent.objects.get(kind="component_status")
    (embed,) = payload("discord", component_event)["embeds"]
    assert embed["title"] == website.name
    assert embed["fields"] == [{"name": website.name, "value": "Major outage", "inline": True}]


# Subscribing on the public page


def test_the_subscribe_page_offers_each_chat_with_how_to_get_its_url(client, page):
    response = client.get("/p/alpha/subscribe/")

    for channel, label in [("slack", "Slack"), ("teams", "Microsoft Teams"),
                           ("discord", "Discord"), ("google_chat", "Google Chat")]:  # fmt: skip
        assert f'name="channel" value="{channel}"' in response.text
        assert f"<strong>{label}</strong>:" in response.text
    assert 'name="events" value="component_changes"' in response.text


def test_each_chat_is_offered_only_while_the_page_allows_it(client, page):
    page.allow_slack_subscribers = page.allow_webhook_subscribers = False
    page.save()

    response = client.get("/p/alpha/subscribe/")

    assert 'value="slack"' not in response.text
    assert 'value="webhook"' not in response.text
    assert "<strong>Slack</strong>" not in response.text
    assert 'value="teams"' in response.text and "<strong>Microsoft Teams</strong>" in response.text
    assert "(chats)" in response.text  # the URL field, for chats only

    for name in ("teams", "discord", "google_chat"):
        setattr(page, f"allow_{name}_subscribers", False)
    page.save()

    response = client.get("/p/alpha/subscribe/")
    assert "chat-instructions" not in response.text
    assert 'name="endpoint"' not in response.text


def test_a_chat_subscription_is_confirmed_from_the_message_posted_in_the_channel(
    page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    visitor = Client()
    url = receiver.url("/slack/T1/B1/x")
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.post(
            "/p/alpha/subscribe/",
            {"channel": "slack", "endpoint": url, "events_shown": "1", "events": ["incidents"]},
            REMOTE_ADDR="192.0.2.9",
        )

    assert response.status_code == 200
    assert "Check your Slack channel" in response.text
    subscriber = Subscriber.objects.get(endpoint=url)
    assert subscriber.state == "pending" and subscriber.channel == "slack"
    assert subscriber.events == ["incidents"]
    assert mail.outbox == []
    ((_headers, body),) = receiver.to("/slack/T1/B1/x")
    message = json.loads(body)
    button = message["blocks"][-1]["elements"][0]
    assert button["text"]["text"] == "Confirm"
    confirm = re.search(r"/subscribe/confirm/[^/]+/", button["url"])[0]

    # Nothing reaches the channel before somebody confirms.
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Before", component_statuses={api: "major_outage"})
    assert Delivery.objects.filter(subscriber=subscriber).count() == 0

    assert visitor.post("/p/alpha" + confirm).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.state == "confirmed"
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="After", component_statuses={api: "major_outage"})
    assert Delivery.objects.get(subscriber=subscriber).status == "sent"
    assert len(receiver.to("/slack/T1/B1/x")) == 2


def test_each_message_carries_its_subscribers_own_manage_link(
    client, page, api, receiver, local_hooks, django_capture_on_commit_callbacks
):
    first = make_chat(page, "slack", receiver.url("/slack/T1/B1/one"))
    second = make_chat(page, "discord", receiver.url("/discord/1/two"))
    third = make_chat(page, "teams", receiver.url("/teams/three"))
    fourth = make_chat(page, "google_chat", receiver.url("/gchat/four"))

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})

    ((_h, slack),) = receiver.to("/slack/T1/B1/one")
    ((_h, discord),) = receiver.to("/discord/1/two")
    ((_h, teams),) = receiver.to("/teams/three")
    ((_h, gchat),) = receiver.to("/gchat/four")
    context = json.loads(slack)["attachments"][0]["blocks"][0]["elements"][0]["text"]
    assert f"|{chat.MANAGE_LABEL}>" in context
    assert f"/subscribe/manage/{first.token}/|" in context
    description = json.loads(discord)["embeds"][0]["description"]
    assert description.endswith(f"[Manage subscription]({second.manage_url})")
    actions = json.loads(teams)["attachments"][0]["content"]["actions"]
    assert actions[1] == {
        "type": "Action.OpenUrl",
        "title": "Manage subscription",
        "url": third.manage_url,
    }
    buttons = json.loads(gchat)["cardsV2"][0]["card"]["sections"][-1]["widgets"][0]
    assert buttons["buttonList"]["buttons"][1]["onClick"]["openLink"]["url"].endswith(
        f"/subscribe/manage/{fourth.token}/"
    )
    assert chat.MANAGE_STAND_IN.encode() not in slack + discord + teams + gchat
    # The link opens the channel's manage page (events, components, unsubscribe).
    manage = client.get(f"/p/alpha/subscribe/manage/{second.token}/")
    assert manage.status_code == 200 and "Unsubscribe" in manage.text


def test_a_channel_subscribed_already_is_posted_its_manage_link(
    page, receiver, local_hooks, django_capture_on_commit_callbacks
):
    url = receiver.url("/slack/T1/B1/again")
    subscriber = make_chat(page, "slack", url)

    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            "/p/alpha/subscribe/",
            {"channel": "slack", "endpoint": url, "events_shown": "1", "events": ["incidents"]},
            REMOTE_ADDR="192.0.2.9",
        )

    assert "Check your Slack channel" in response.text
    ((_headers, body),) = receiver.to("/slack/T1/B1/again")
    button = json.loads(body)["blocks"][-1]["elements"][0]
    assert button["text"]["text"] == "Manage subscription"
    assert button["url"].endswith(f"/subscribe/manage/{subscriber.token}/")
    subscriber.refresh_from_db()
    assert subscriber.state == "confirmed"
    assert subscriber.events == ["incidents", "maintenance", "component_changes"]  # unchanged


def test_a_chat_the_page_stopped_offering_is_refused_by_its_name(client, page, public_hooks):
    page.allow_google_chat_subscribers = False
    page.save()

    response = client.post(
        "/p/alpha/subscribe/",
        {"channel": "google_chat", "endpoint": GOOD_URLS["google_chat"], "events_shown": "1",
         "events": ["incidents"]},
    )  # fmt: skip

    assert "This page does not offer Google Chat subscriptions." in response.text
    assert not Subscriber.objects.exists()


def test_a_url_that_is_no_chat_webhook_is_refused_on_the_subscribe_page(
    client, page, public_hooks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/p/alpha/subscribe/",
            {
                "channel": "discord",
                "endpoint": "https://example.com/hook",
                "events_shown": "1",
                "events": ["incidents"],
            },  # fmt: skip
        )

    assert response.status_code == 200
    assert "This is not a Discord webhook URL" in response.text
    assert not Subscriber.objects.exists()


def test_choosing_no_event_is_refused(client, page, public_hooks):
    response = client.post(
        "/p/alpha/subscribe/",
        {"channel": "slack", "endpoint": GOOD_URLS["slack"], "events_shown": "1"},
    )

    assert "Choose at least one kind of event." in response.text
    assert not Subscriber.objects.exists()


def test_staff_confirm_a_chat_waiting_for_confirmation_in_the_console(client, page, editor_a):
    target = make_chat(page, "teams", GOOD_URLS["teams"], state="pending")
    client.force_login(editor_a)
    detail = f"/manage/{page.code}/subscribers/{target.code}/"

    assert ">Confirm</button>" in client.get(detail).text
    client.post(f"{detail}reactivate/")

    target.refresh_from_db()
    assert target.state == "confirmed"


def test_the_console_lists_filters_and_exports_chat_subscribers(client, page, editor_a):
    make_chat(page, "discord", GOOD_URLS["discord"])
    make_subscriber(page, "ana@example.com")
    client.force_login(editor_a)

    listed = client.get(f"/manage/{page.code}/subscribers/?channel=discord").text
    exported = b"".join(
        client.get(f"/manage/{page.code}/subscribers/export.csv?channel=discord").streaming_content
    ).decode()

    assert GOOD_URLS["discord"] in listed and "ana@example.com" not in listed
    assert "Discord" in listed
    assert f",discord,,{GOOD_URLS['discord']}," in exported
    assert "ana@example.com" not in exported


def test_the_manage_page_changes_which_events_a_subscriber_hears_about(client, page):
    target = make_chat(page, "google_chat", GOOD_URLS["google_chat"])
    manage = f"/p/alpha/subscribe/manage/{target.token}/"
    shown = client.get(manage).text
    assert "Google Chat webhook" in shown
    assert 'name="events" value="maintenance" checked' in shown

    client.post(manage, {"events_shown": "1", "events": ["maintenance"]})
    target.refresh_from_db()
    assert target.events == ["maintenance"]
    assert 'name="events" value="incidents" checked' not in client.get(manage).text

    refused = client.post(manage, {"events_shown": "1"})
    assert "Choose at least one kind of event." in refused.text
    target.refresh_from_db()
    assert target.events == ["maintenance"]


def test_an_existing_subscriber_keeps_hearing_about_everything(page):
    old = make_subscriber(page, "old@example.com")

    assert old.events == ["incidents", "maintenance", "component_changes"]
