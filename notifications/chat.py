"""Chat subscribers: which incoming-webhook URLs we accept for each chat service, and the
messages we post there (Slack Block Kit, a Microsoft Teams Adaptive Card, a Discord embed, a
Google Chat cardsV2 card).

A message starts from the event's facts (`event_message`), with the update's text as the
sanitized HTML our Markdown pipeline made of it (incidents/markdown.py); each service's format
is written from that HTML, so headings, lists, links and code come out in the service's own
markup, and every piece of text is escaped for it: nothing in an update can mention a channel
(`<!here>`, `@everyone`, `<at>`, `<users/all>`) or add markup of its own. Each builder keeps to
the limits its service documents, cutting the update's text (with a link to the rest) first.

These are pure functions of the message; the transports (transports.py) post their JSON.
"""

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from incidents.markdown import render_markdown
from notifications import webhooks
from status.models import ComponentStatus

# Channel values (notifications.models.Channel), which this module cannot import.
SLACK, TEAMS, DISCORD, GOOGLE_CHAT = "slack", "teams", "discord", "google_chat"

# Where each service's incoming webhooks live: (hosts, host suffixes, path pattern, example).
URL_RULES = {
    # https://api.slack.com/messaging/webhooks
    SLACK: ({"hooks.slack.com"}, (), re.compile(r"^/services/\S+"),
            "https://hooks.slack.com/services/T000/B000/XXXX"),
    # Teams Workflows ("Post to a channel when a webhook request is received"): Power Automate
    # on Azure Logic Apps hosts, or a Power Platform environment's host.
    TEAMS: (set(), (".logic.azure.com", ".powerautomate.com", ".powerplatform.com"),
            re.compile(r"^/\S*"),
            "https://prod-00.westus.logic.azure.com:443/workflows/…/triggers/manual/paths/invoke"),
    # https://discord.com/developers/docs/resources/webhook#execute-webhook
    DISCORD: ({"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}, (),
              re.compile(r"^/api/(?:v\d+/)?webhooks/\d+/[\w-]+/?$"),
              "https://discord.com/api/webhooks/123/abc"),
    # https://developers.google.com/workspace/chat/quickstart/webhooks
    GOOGLE_CHAT: ({"chat.googleapis.com"}, (), re.compile(r"^/v1/spaces/[^/]+/messages$"),
                  "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=…&token=…"),
}  # fmt: skip

# How to get the URL, one line each (the subscribe page and the console show it).
URL_INSTRUCTIONS = {
    SLACK: "In Slack, add an app with Incoming Webhooks for the channel and paste its "
    "https://hooks.slack.com/services/… URL.",
    TEAMS: "In Teams, open the channel's ⋯ menu, Workflows, “Post to a channel when a webhook "
    "request is received”, and paste the URL it gives.",
    DISCORD: "In Discord, open the channel's settings, Integrations, Webhooks, New Webhook, and "
    "paste its https://discord.com/api/webhooks/… URL.",
    GOOGLE_CHAT: "In Google Chat, open the space's Apps & integrations, Webhooks, add one, and "
    "paste its https://chat.googleapis.com/v1/spaces/… URL.",
}


def validate_chat_url(channel, url):
    """Refuse a URL that is not the chat service's incoming webhook: https on the service's
    host and path (both lifted by settings.WEBHOOKS_ALLOW_PRIVATE_IPS, for local receivers),
    and, like every webhook, a host on public addresses only (status/addresses.py)."""
    hosts, suffixes, path, example = URL_RULES[channel]
    webhooks.validate_webhook_url(url)
    if settings.WEBHOOKS_ALLOW_PRIVATE_IPS:
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if (
        parts.scheme != "https"
        or not (host in hosts or host.endswith(suffixes or ("\0",)))
        or not path.match(parts.path)
        or parts.username
        or parts.password
    ):
        raise ValidationError(
            f"This is not a {CHANNEL_NAMES[channel]} webhook URL; it looks like {example}",
            code="not_chat_url",
        )


CHANNEL_NAMES = {
    SLACK: "Slack",
    TEAMS: "Microsoft Teams",
    DISCORD: "Discord",
    GOOGLE_CHAT: "Google Chat",
}


# What a message says, whatever the service.


@dataclass
class Message:
    page_name: str
    page_url: str
    title: str  # the incident's (or component's) name
    headline: str  # what happened, e.g. "Incident update", "Maintenance started"
    status: str  # a label, e.g. "Identified"
    impact: str  # an Impact value or "" (colours the message)
    body_html: str  # sanitized HTML of the update's Markdown
    link: str
    link_label: str
    components: list = field(default_factory=list)  # [(name, status label)]
    resolved: bool = False


HEADLINES = {
    "incident_created": "New incident",
    "incident_updated": "Incident update",
    "incident_resolved": "Incident resolved",
    "postmortem_published": "Postmortem published",
    "maintenance_scheduled": "Maintenance scheduled",
    "maintenance_updated": "Maintenance update",
    "maintenance_started": "Maintenance started",
    "maintenance_completed": "Maintenance completed",
    "maintenance_reminder": "Maintenance reminder",
    "component_status": "Component status changed",
}
CLOSED = {"resolved", "postmortem", "completed"}


def status_label(status):
    return ComponentStatus(status).label if status else ""


def event_message(event):
    """The Message of a NotificationEvent (kept on the event: a batch builds it once)."""
    cached = getattr(event, "_chat_message", None)
    if cached is not None:
        return cached
    page, incident, update = event.page, event.incident, event.update
    message = Message(
        page_name=page.name,
        page_url=page.public_url(),
        title="",
        headline=HEADLINES.get(event.kind, "Status update"),
        status="",
        impact="",
        body_html="",
        link=page.public_url(),
        link_label="View status page",
    )
    if incident is not None:
        message.title = incident.name
        message.link = page.public_url(f"incidents/{incident.code}/")
        message.link_label = "View maintenance" if incident.is_maintenance else "View incident"
        message.impact = incident.impact
        message.status = incident.get_status_display()
        message.resolved = incident.status in CLOSED
        if update is not None:
            message.status = update.get_status_display()
            message.resolved = update.status in CLOSED
            message.body_html = str(update.body_html)
            message.components = [
                (impact.component.name, status_label(impact.new_status))
                for impact in update.impacts.select_related("component").order_by(
                    "component__position", "component__id"
                )
            ]
        elif event.kind == "postmortem_published":
            message.body_html = str(incident.postmortem_html)
    elif event.component_id:
        component = event.component
        message.title = component.name
        message.status = status_label(event.new_status)
        message.resolved = event.new_status == ComponentStatus.OPERATIONAL
        message.impact = IMPACT_OF_COMPONENT_STATUS.get(event.new_status, "")
        message.body_html = format_html(
            "<p>{} changed from {} to {}.</p>",
            component.name,
            status_label(event.old_status),
            status_label(event.new_status),
        )
        message.components = [(component.name, status_label(event.new_status))]
    event._chat_message = message
    return message


IMPACT_OF_COMPONENT_STATUS = {
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
    "under_maintenance": "maintenance",
}


def confirmation_message(page_name, page_url, confirm_url):
    """The message a new chat subscription posts to its channel: confirm, or ignore it."""
    return Message(
        page_name=page_name,
        page_url=page_url,
        title=f"Subscribe this channel to {page_name}?",
        headline="Confirm the subscription",
        status="Waiting for confirmation",
        impact="",
        body_html=str(
            render_markdown(
                "Someone asked for this channel to get the status notifications of "
                f"{page_url}. Nothing more is posted here unless somebody confirms with the "
                "button below; if you did not ask, ignore this message."
            )
        ),
        link=confirm_url,
        link_label="Confirm",
    )


# Colours by impact; green once resolved.
COLOURS = {
    "none": "#8a94a6",
    "minor": "#f1c40f",
    "major": "#e67e22",
    "critical": "#e74c3c",
    "maintenance": "#3498db",
    "": "#8a94a6",
}
RESOLVED_COLOUR = "#2fcc66"


def colour(message):
    return RESOLVED_COLOUR if message.resolved else COLOURS.get(message.impact, COLOURS[""])


def impact_label(message):
    return message.impact.capitalize() if message.impact else ""


# Mentions: "@everyone", "@here", "@channel", "@all" and the like get a word joiner after the
# "@", which shows nothing and makes them plain words to every service.
WORD_JOINER = "\u2060"
_AT_WORD = re.compile(r"@(?=\w)")


def neutralise_at(text):
    return _AT_WORD.sub("@" + WORD_JOINER, text)


# From our sanitized HTML to each service's markup.


class Tree(HTMLParser):
    """The sanitized HTML as nested [tag, attrs, children] lists (text as str)."""

    VOID = {"br", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = ["root", {}, []]
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = [tag, dict(attrs), []]
        self.stack[-1][2].append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1][2].append(data)


def parse(html):
    tree = Tree()
    tree.feed(html or "")
    tree.close()
    return tree.root


class Writer:
    """Writes a tree in a service's markup; subclasses say how each element looks."""

    bullet = "- "

    def write(self, html):
        text = self.block(parse(html)[2], depth=0)
        return re.sub(r"\n{3,}", "\n\n", text).strip()

    def block(self, nodes, depth):
        return "".join(self.node(node, depth) for node in nodes)

    def node(self, node, depth):
        if isinstance(node, str):
            return self.text(node)
        tag, attrs, children = node
        if tag == "p":
            return self.inline(children, depth) + "\n\n"
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            return self.heading(self.inline(children, depth)) + "\n\n"
        if tag in {"ul", "ol"}:
            start = int(attrs.get("start") or 1) if tag == "ol" else None
            return self.list(children, depth, start) + ("\n" if depth == 0 else "")
        if tag == "pre":
            return self.pre(self.plain(children)) + "\n\n"
        if tag == "blockquote":
            inner = self.block(children, depth).strip()
            return self.quote(inner) + "\n\n"
        if tag == "hr":
            return "———\n\n"
        if tag == "br":
            return self.line_break()
        if tag == "table":
            return self.table(children) + "\n\n"
        if tag == "code":
            return self.code(self.plain(children))
        if tag == "strong":
            return self.strong(self.inline(children, depth))
        if tag == "em":
            return self.em(self.inline(children, depth))
        if tag == "s":
            return self.strike(self.inline(children, depth))
        if tag == "a":
            return self.link(attrs.get("href") or "", self.inline(children, depth))
        return self.block(children, depth)

    def inline(self, children, depth):
        return self.block(children, depth).strip()

    def list(self, items, depth, start):
        lines = []
        number = start
        for item in items:
            if isinstance(item, str):
                continue
            marker = f"{number}. " if number is not None else self.bullet
            if number is not None:
                number += 1
            parts, nested = [], []
            for child in item[2]:
                if not isinstance(child, str) and child[0] in {"ul", "ol"}:
                    nested.append(self.node(child, depth + 1))
                elif not isinstance(child, str) and child[0] == "p":
                    parts.append(self.inline(child[2], depth))
                else:
                    parts.append(self.node(child, depth + 1))
            text = " ".join(part.strip() for part in parts if part.strip())
            lines.append(self.indent(depth) + marker + text + self.line_end())
            lines.extend(nested)
        return "".join(lines)

    def table(self, rows):
        lines = []
        for section in rows:
            if isinstance(section, str):
                continue
            for row in section[2] if section[0] in {"thead", "tbody"} else [section]:
                if isinstance(row, str):
                    continue
                cells = [self.inline(cell[2], 0) for cell in row[2] if not isinstance(cell, str)]
                lines.append(" | ".join(cells) + self.line_end())
        return "".join(lines)

    def plain(self, children):
        """The text of `children`, markup dropped (code)."""
        return "".join(
            child if isinstance(child, str) else self.plain(child[2]) for child in children
        )

    def indent(self, depth):
        return "    " * depth

    def line_end(self):
        return "\n"

    def line_break(self):
        return "\n"

    # Per service.

    def text(self, text):
        raise NotImplementedError

    def heading(self, text):
        return self.strong(text)

    def strong(self, text):
        return f"**{text}**" if text else ""

    def em(self, text):
        return f"*{text}*" if text else ""

    def strike(self, text):
        return f"~~{text}~~" if text else ""

    def code(self, text):
        return f"`{self.text(text).replace('`', 'ʼ')}`" if text else ""

    def pre(self, text):
        return "```\n" + self.text(text).replace("```", "ʼʼʼ").strip("\n") + "\n```"

    def quote(self, text):
        return "\n".join("> " + line for line in text.splitlines())

    def link(self, href, label):
        return f"[{label}]({href.replace(')', '%29').replace(' ', '%20')})"


class SlackWriter(Writer):
    """Slack's mrkdwn (https://api.slack.com/reference/surfaces/formatting)."""

    bullet = "• "

    def text(self, text):
        # Slack's own escaping: with "<", ">" and "&" escaped no text can form <!here>,
        # <!channel>, <@U…> or a link.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return neutralise_at(text)

    def strong(self, text):
        return f"*{text}*" if text else ""

    def em(self, text):
        return f"_{text}_" if text else ""

    def strike(self, text):
        return f"~{text}~" if text else ""

    def link(self, href, label):
        href = href.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E")
        return f"<{href.replace('|', '%7C')}|{label.replace('|', '¦')}>" if label else ""


class DiscordWriter(Writer):
    """Discord's markdown (https://support.discord.com/hc/en-us/articles/210298617)."""

    _SPECIAL = re.compile(r"([\\*_~`|>\[\]()<])")
    _LINE_START = re.compile(r"^([#-])", re.MULTILINE)

    def text(self, text):
        text = self._LINE_START.sub(r"\\\1", self._SPECIAL.sub(r"\\\1", text))
        return neutralise_at(text)

    def code(self, text):
        return f"`{neutralise_at(text).replace('`', 'ʼ')}`" if text else ""

    def pre(self, text):
        return "```\n" + neutralise_at(text).replace("```", "ʼʼʼ").strip("\n") + "\n```"


class TeamsWriter(Writer):
    """The Markdown subset of an Adaptive Card's TextBlock in Teams: bold, italic, strike,
    lists and links (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/
    cards/cards-format); headings become bold lines, code stays as its text."""

    _SPECIAL = re.compile(r"([\\*_~`\[\]])")

    def text(self, text):
        # "<" followed by a word joiner can never open <at>…</at> (a mention).
        return neutralise_at(self._SPECIAL.sub(r"\\\1", text)).replace("<", "<" + WORD_JOINER)

    def em(self, text):
        return f"_{text}_" if text else ""

    def code(self, text):
        return self.text(text)

    def pre(self, text):
        return self.text(text.strip("\n")).replace("\n", "\n\n")

    def quote(self, text):
        return "\n\n".join("│ " + line for line in text.splitlines() if line.strip())

    def line_end(self):
        return "\n"


class GoogleChatWriter(Writer):
    """The HTML subset of a Google Chat card's textParagraph (b, i, s, a, br, font):
    https://developers.google.com/workspace/chat/format-messages#card-formatting."""

    bullet = "• "

    def write(self, html):
        return super().write(html).replace("\n", "<br>")

    def text(self, text):
        # Escaped, no text can form a tag, <users/all> (a mention) included.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return neutralise_at(text)

    def heading(self, text):
        return f"<b>{text}</b>" if text else ""

    def strong(self, text):
        return f"<b>{text}</b>" if text else ""

    def em(self, text):
        return f"<i>{text}</i>" if text else ""

    def strike(self, text):
        return f"<s>{text}</s>" if text else ""

    def code(self, text):
        return f'<font color="#5f6368">{self.text(text)}</font>' if text else ""

    def pre(self, text):
        return f'<font color="#5f6368">{self.text(text.strip(chr(10)))}</font>'

    def quote(self, text):
        return "\n".join("│ " + line for line in text.splitlines())

    def link(self, href, label):
        href = href.replace("&", "&amp;").replace('"', "%22").replace("<", "%3C")
        return f'<a href="{href}">{label}</a>' if label else ""


def plain(text):
    """Text the services show as it is (headers, titles, fields): mentions neutralised, and no
    "<" that could open a mention (Google Chat's <users/all>, Teams' <at>)."""
    return neutralise_at(text).replace("<", "<" + WORD_JOINER)


def cut(text, limit, more="…"):
    """`text` in at most `limit` characters, cut at a line or word end where one is near."""
    if len(text) <= limit:
        return text
    room = max(limit - len(more), 0)
    head = text[:room]
    for separator in ("\n", " "):
        at = head.rfind(separator)
        if at > room * 0.8:
            head = head[:at]
            break
    return head.rstrip() + more


# Slack: https://api.slack.com/reference/block-kit/blocks

SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION_TEXT = 3000
SLACK_MAX_HEADER = 150
SLACK_MAX_BUTTON_TEXT = 75
SLACK_MAX_BODY_SECTIONS = 20  # of the 50 blocks: the update's text; the rest is on the page


def slack_text(text, limit):
    """Escaped (mrkdwn) text cut within `limit` without splitting an escape."""
    text = cut(text, limit)
    return re.sub(r"&[a-z]{0,4}…$", "…", text)


def slack_message(message):
    page, title = plain(message.page_name), plain(message.title)
    header = cut(f"{page}: {title}" if title else page, SLACK_MAX_HEADER)
    writer = SlackWriter()
    status = f"*{writer.text(message.headline)}* · {writer.text(message.status)}"
    if message.impact:
        status += f" · Impact: {writer.text(impact_label(message))}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": status}},
    ]
    body = writer.write(message.body_html)
    chunks = split(body, SLACK_MAX_SECTION_TEXT, SLACK_MAX_BODY_SECTIONS)
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks]
    if message.components:
        lines = [f"• {writer.text(name)}: *{writer.text(s)}*" for name, s in message.components]
        text = slack_text("*Affected components*\n" + "\n".join(lines), SLACK_MAX_SECTION_TEXT)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": message.link_label[:75]},
                    "url": message.link,
                    "action_id": "open",
                }
            ],
        }
    )
    fallback = slack_text(writer.text(f"{header}: {message.headline}, {message.status}"), 3000)
    return {
        "text": fallback,
        "blocks": blocks[:SLACK_MAX_BLOCKS],
        # The coloured bar: the impact, in an attachment (blocks cannot have a colour).
        "attachments": [
            {
                "color": colour(message),
                "fallback": fallback,
                "blocks": [
                    {
                        "type": "context",
                        "elements": [
                            {
                                "type": "mrkdwn",
                                "text": f"{writer.text(page)} · <{slack_url(message.page_url)}"
                                f"|{writer.text(message.page_url)}>",
                            }
                        ],
                    }
                ],
            }
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def slack_url(url):
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def split(text, limit, most):
    """`text` in at most `most` pieces of at most `limit` characters each, split at line ends
    (the last piece cut when the text is longer than all of them)."""
    pieces = []
    rest = text
    while rest and len(pieces) < most:
        if len(rest) <= limit:
            pieces.append(rest)
            rest = ""
            break
        at = rest.rfind("\n", 0, limit)
        if at < limit // 2:
            at = rest.rfind(" ", 0, limit)
        if at < limit // 2:
            at = limit
        pieces.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    if rest and pieces:
        pieces[-1] = slack_text(pieces[-1] + " " + rest, limit)
    # An open ``` block at a piece's end would swallow the next one: each piece closes its own.
    return [piece + "\n```" if piece.count("```") % 2 else piece for piece in pieces]


# Discord: https://discord.com/developers/docs/resources/message#embed-object-embed-limits

DISCORD_MAX_TITLE = 256
DISCORD_MAX_DESCRIPTION = 4096
DISCORD_MAX_FIELDS = 25
DISCORD_MAX_FIELD_NAME = 256
DISCORD_MAX_FIELD_VALUE = 1024
DISCORD_MAX_FOOTER = 2048
DISCORD_MAX_TOTAL = 6000


def discord_message(message):
    title = cut(plain(message.title or message.page_name), DISCORD_MAX_TITLE)
    fields = [
        {
            "name": cut(plain(name), DISCORD_MAX_FIELD_NAME),
            "value": cut(plain(status) or "—", DISCORD_MAX_FIELD_VALUE),
            "inline": True,
        }
        for name, status in message.components[:DISCORD_MAX_FIELDS]
    ]
    footer = cut(plain(f"{message.page_name} · {message.page_url}"), DISCORD_MAX_FOOTER)
    status = f"**{plain(message.headline)}** · {plain(message.status)}"
    if message.impact:
        status += f" · Impact: {impact_label(message)}"
    body = DiscordWriter().write(message.body_html)
    used = len(title) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    room = min(DISCORD_MAX_DESCRIPTION, DISCORD_MAX_TOTAL - used)
    description = cut(f"{status}\n\n{body}".strip(), room)
    return {
        "embeds": [
            {
                "title": title,
                "url": message.link,
                "description": description,
                "color": int(colour(message).lstrip("#"), 16),
                "fields": fields,
                "footer": {"text": footer},
            }
        ],
        # Nobody is pinged, whatever the text says.
        "allowed_mentions": {"parse": []},
    }


# Microsoft Teams (Workflows): an Adaptive Card in a message's attachments.
# https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/
# connectors-using#send-adaptive-cards-using-an-incoming-webhook

TEAMS_MAX_BYTES = 28 * 1024
TEAMS_ATTENTION = {"major": "Attention", "critical": "Attention", "minor": "Warning"}


def teams_message(message):
    writer = TeamsWriter()
    status = f"**{writer.text(message.headline)}** · {writer.text(message.status)}"
    if message.impact:
        status += f" · Impact: {writer.text(impact_label(message))}"
    body_block = {"type": "TextBlock", "text": "", "wrap": True}
    card_body = [
        {
            "type": "TextBlock",
            "text": writer.text(message.page_name),
            "isSubtle": True,
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": writer.text(message.title or message.page_name),
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": status,
            "color": "Good" if message.resolved else TEAMS_ATTENTION.get(message.impact, "Default"),
            "wrap": True,
        },
        body_block,
    ]
    if message.components:
        card_body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": writer.text(name), "value": writer.text(status_)}
                    for name, status_ in message.components
                ],
            }
        )
    payload = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": card_body,
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": message.link_label,
                            "url": message.link,
                        },
                    ],  # fmt: skip
                    "msteams": {"width": "Full"},
                },
            }
        ],
    }
    # The update's text fills what the 28 KB leave, measured as sent (UTF-8 JSON).
    body = writer.write(message.body_html)
    while True:
        body_block["text"] = body
        # A little room under the limit for what Teams adds around the card.
        excess = len(dumps(payload)) - (TEAMS_MAX_BYTES - 512)
        if excess <= 0 or not body:
            break
        body = cut(body, max(len(body) - excess - 16, 0))
    if not body_block["text"] and body_block in card_body:
        card_body.remove(body_block)
    return payload


# Google Chat: a cardsV2 card. https://developers.google.com/workspace/chat/api/reference/
# rest/v1/cards ; a message is at most 32,000 bytes.

GOOGLE_CHAT_MAX_BYTES = 32_000
GOOGLE_CHAT_MAX_TEXT = 4096
GOOGLE_CHAT_MAX_WIDGETS = 100


def google_chat_message(message, card_id="status"):
    writer = GoogleChatWriter()
    status = f"<b>{writer.text(message.headline)}</b> · {writer.text(message.status)}"
    if message.impact:
        status += f' · Impact: <font color="{colour(message)}">{impact_label(message)}</font>'
    paragraph = {"textParagraph": {"text": ""}}
    sections = [{"widgets": [{"textParagraph": {"text": status}}, paragraph]}]
    if message.components:
        sections.append(
            {
                "header": "Affected components",
                "widgets": [
                    {
                        "decoratedText": {
                            "text": writer.text(name),
                            "bottomLabel": writer.text(status_),
                        }
                    }
                    for name, status_ in message.components[:GOOGLE_CHAT_MAX_WIDGETS]
                ],  # fmt: skip
            }
        )
    sections.append(
        {
            "widgets": [
                {
                    "buttonList": {
                        "buttons": [
                            {
                                "text": message.link_label,
                                "onClick": {"openLink": {"url": message.link}},
                            }
                        ]  # fmt: skip
                    }
                }
            ]
        }
    )
    payload = {
        "text": plain(f"{message.page_name}: {message.title} — {message.headline}")[:4096],
        "cardsV2": [
            {
                "cardId": card_id,
                "card": {
                    "header": {
                        "title": plain(message.title or message.page_name)[:200],
                        "subtitle": plain(message.page_name)[:200],
                    },
                    "sections": sections,
                },
            }
        ],
    }
    body = writer.write(message.body_html)
    body = re.sub(r"&[a-z]{0,4}…$", "…", cut(body, GOOGLE_CHAT_MAX_TEXT))
    while True:
        paragraph["textParagraph"]["text"] = body
        excess = len(dumps(payload)) - GOOGLE_CHAT_MAX_BYTES
        if excess <= 0 or not body:
            break
        body = cut(body, max(len(body) - excess - 16, 0))
    if not body:
        sections[0]["widgets"].remove(paragraph)
    return payload


BUILDERS = {
    SLACK: slack_message,
    TEAMS: teams_message,
    DISCORD: discord_message,
    GOOGLE_CHAT: google_chat_message,
}


def build(channel, message):
    """The JSON-ready payload of `message` for `channel`."""
    return BUILDERS[channel](message)


def dumps(payload):
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def body_bytes(channel, message):
    """The bytes POSTed for `message` on `channel`."""
    return dumps(build(channel, message))
