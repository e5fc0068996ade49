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

import html
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


# The query parameters a Google Chat webhook URL needs (the rest are dropped).
GOOGLE_CHAT_PARAMETERS = {"key", "token", "threadKey", "messageReplyOption"}


def normalise_chat_url(channel, url):
    """One spelling of each channel's webhook URL, so that one channel is one subscriber: the
    host in lower case (Discord's discordapp.com, ptb. and canary. hosts as discord.com), no
    fragment, no trailing slash or API version in a Discord path, no query for Slack and
    Discord (their URLs need none; a Discord thread_id, another place, is kept), and Google
    Chat's key and token (and thread options) only, in one order. A Teams URL keeps its query
    (its signature) as it is. A URL that does not parse is left for the validation to refuse."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or parts.username or parts.password:
        return url
    path, query = parts.path, parts.query
    if channel == DISCORD:
        if host in {"discordapp.com", "ptb.discord.com", "canary.discord.com"}:
            host = "discord.com"
        path = re.sub(r"^/api/v\d+/", "/api/", path).rstrip("/")
        # thread_id posts into a thread of the channel: a different place, kept.
        query = urlencode(sorted((k, v) for k, v in parse_qsl(query) if k == "thread_id"))
    elif channel == SLACK:
        path, query = path.rstrip("/"), ""
    elif channel == GOOGLE_CHAT:
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                if k in GOOGLE_CHAT_PARAMETERS]  # fmt: skip
        query = urlencode(sorted(kept))
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme.lower(), netloc, path, query, ""))


def validate_chat_url(channel, url):
    """The URL, normalised (`normalise_chat_url`), when it is the chat service's incoming
    webhook; ValidationError otherwise: https on the service's host and path (both lifted by
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS, for local receivers), and, like every webhook, a host
    on public addresses only (status/addresses.py)."""
    hosts, suffixes, path, example = URL_RULES[channel]
    url = normalise_chat_url(channel, url)
    webhooks.validate_webhook_url(url)
    if settings.WEBHOOKS_ALLOW_PRIVATE_IPS:
        return url
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
    return url


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
    # The subscriber's manage page (events, components, unsubscribe): in an event's message,
    # with MANAGE_STAND_IN where each subscriber's token goes (with_token(), per delivery).
    manage_url: str = ""


# Stands for the subscriber's token in an event's message, built once for all subscribers; as
# long as a token (secrets.token_urlsafe(24)), so the sizes measured against the providers'
# limits hold, and of letters only, which no escaping changes.
MANAGE_STAND_IN = "zHeliographzSubscriberzTokenzzzz"  # noqa: S105 (not a secret)
MANAGE_LABEL = "Manage subscription"


def with_token(body, token):
    """An event's message `body` (bytes) for the subscriber whose token is `token`."""
    return body.replace(MANAGE_STAND_IN.encode(), token.encode())


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
        manage_url=page.public_url(f"subscribe/manage/{MANAGE_STAND_IN}/"),
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


def subscription_notice(page_name, page_url, *, title, headline, status, text, link, label):
    """A message about the channel's own subscription (not an event): `text` is Markdown, and
    the button goes to `link`."""
    return Message(
        page_name=page_name,
        page_url=page_url,
        title=title,
        headline=headline,
        status=status,
        impact="",
        body_html=str(render_markdown(text)),
        link=link,
        link_label=label,
    )


def confirmation_message(page_name, page_url, confirm_url):
    """The message a new chat subscription posts to its channel: confirm, or ignore it."""
    return subscription_notice(
        page_name,
        page_url,
        title=f"Subscribe this channel to {page_name}?",
        headline="Confirm the subscription",
        status="Waiting for confirmation",
        text="Someone asked for this channel to get the status notifications of "
        f"{page_url}. Nothing more is posted here unless somebody follows "
        f"[this confirmation link]({confirm_url}) and confirms; if you did not ask, "
        "ignore this message.",
        link=confirm_url,
        label="Confirm",
    )


def already_subscribed_message(page_name, page_url, manage_url):
    """What a request to subscribe a channel that is subscribed already posts there: its
    manage link (which events and components, or unsubscribe), and nothing changes."""
    return subscription_notice(
        page_name,
        page_url,
        title=f"This channel gets {page_name}'s status notifications",
        headline="Subscribed already",
        status="Confirmed",
        text="Someone asked again for this channel to get the status notifications of "
        f"{page_url}. It gets them already; nothing has changed. To choose which "
        "events and components it hears about, or to unsubscribe it, use "
        f"[its manage page]({manage_url}).",
        link=manage_url,
        label=MANAGE_LABEL,
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


# The longest link (href and label) written as a link; a longer one is written as its label.
MAX_LINK = 1500


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
            href, label = attrs.get("href") or "", self.inline(children, depth)
            # A link the sanitiser took the href from, or one too long to keep whole within
            # a message's pieces (it is never cut), is its label.
            if not href or len(href) + len(label) > MAX_LINK:
                return label
            return self.link(href, label)
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
        href = href.replace(")", "%29").replace(" ", "%20")
        return f"[{label}]({href})" if label else ""


class SlackWriter(Writer):
    """Slack's mrkdwn (https://api.slack.com/reference/surfaces/formatting)."""

    bullet = "• "

    def text(self, text):
        # Slack's own escaping: with "<", ">" and "&" escaped no text can form <!here>,
        # <!channel>, <@U…> or a link.
        return neutralise_at(html.escape(text, quote=False))

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
        return neutralise_at(html.escape(text, quote=False))

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
    """Plain `text` in at most `limit` characters, cut at a line or word end where one is near
    ("" when not even `more` fits)."""
    if len(text) <= limit:
        return text
    room = limit - len(more)
    if room <= 0:
        return ""
    head = text[:room]
    for separator in ("\n", " "):
        at = head.rfind(separator)
        if at > room * 0.8:
            head = head[:at]
            break
    return head.rstrip() + more


# What a cut must not split, per markup: an entity or escape, a link or tag, a ``` fence, a
# short `code` span. (A link is at most MAX_LINK long, so there is always a place to cut.)
SLACK_UNSAFE = re.compile(r"&#?\w+;|<[^<>]*>|```|`[^`\n]{1,200}`")
DISCORD_UNSAFE = re.compile(
    r"\\.|```|\[(?:\\.|[^\]\\\n])*\]\([^)\s]*\)|`[^`\n]{1,200}`|<\u2060|@\u2060"
)
TEAMS_UNSAFE = re.compile(r"\\.|\[(?:\\.|[^\]\\\n])*\]\([^)\s]*\)|<\u2060|@\u2060")
GOOGLE_CHAT_UNSAFE = re.compile(r"&#?\w+;|<[^<>]*>|<\u2060|@\u2060")
_TAG = re.compile(r"<(/?)([a-z]+)\b[^<>]*>")
_SPAN_REACH = MAX_LINK + 600  # farther than any unsafe span reaches


def safe_cut(text, room, unsafe, separators=("\n", " ")):
    """Where to cut `text` to keep at most `room` characters of it: at a separator in the last
    half where there is one, else as late as possible, never inside an `unsafe` span."""
    spans = [
        match.span()
        for match in unsafe.finditer(text, 0, min(len(text), room + _SPAN_REACH))
        if match.end() - match.start() > 1
    ]
    starts = [start for start, _end in spans]

    def inside(at):
        index = bisect_right(starts, at - 1) - 1
        return index >= 0 and spans[index][1] > at

    def span_start(at):
        return starts[bisect_right(starts, at - 1) - 1]

    for separator in separators:
        at = text.rfind(separator, 0, room + 1)
        while at > room // 2:
            if not inside(at):
                return at
            at = text.rfind(separator, 0, span_start(at))
    at = room
    while at > 0 and inside(at):
        at = span_start(at)
    return at


def closing_tags(html):
    """The end tags of the elements `html` leaves open, innermost first."""
    open_tags = []
    for match in _TAG.finditer(html):
        closing, tag = match.groups()
        if tag == "br":
            continue
        if not closing:
            open_tags.append(tag)
        elif tag in open_tags:
            del open_tags[len(open_tags) - 1 - open_tags[::-1].index(tag) :]
    return "".join(f"</{tag}>" for tag in reversed(open_tags))


def cut_markup(text, limit, unsafe, more="…", *, fences=False, tags=False, separators=None):
    """Marked-up `text` in at most `limit` characters: cut outside every entity, escape, link
    and tag (`unsafe`), then ``` closed (`fences`) and open HTML elements closed (`tags`);
    "" when nothing fits."""
    if len(text) <= limit:
        return text
    room = limit - len(more)
    while room > 0:
        at = safe_cut(text, room, unsafe, separators or ("\n", " "))
        head = text[:at].rstrip()
        tail = more
        if fences and head.count("```") % 2:
            tail += "\n```"
        if tags:
            tail += closing_tags(head)
        if len(head) + len(tail) <= limit:
            return head + tail
        room -= len(head) + len(tail) - limit
    return ""


def fit(text, excess_of, cutter):
    """`text` cut (`cutter(text, limit)`) until `excess_of(text)` is not above 0 (every round
    cuts it shorter: this ends); None when even "" is too much."""
    while True:
        excess = excess_of(text)
        if excess <= 0:
            return text
        if not text:
            return None
        shorter = cutter(text, len(text) - excess - 16)
        text = shorter if len(shorter) < len(text) else ""


def more_components(count):
    return f"and {count} more component{'s' if count != 1 else ''}"


def affected_components(count):
    return f"{count} component{'s' if count != 1 else ''} affected: see the incident page"


# Slack: https://api.slack.com/reference/block-kit/blocks

SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION_TEXT = 3000
SLACK_MAX_HEADER = 150
SLACK_MAX_BUTTON_TEXT = 75
SLACK_MAX_BODY_SECTIONS = 20  # of the 50 blocks: the update's text; the rest is on the page
SLACK_MAX_COMPONENT_NAME = 300
FENCE = "```"


def slack_text(text, limit):
    """Escaped (mrkdwn) text cut within `limit` without splitting an escape or a link."""
    return cut_markup(text, limit, SLACK_UNSAFE, fences=True)


def slack_components(writer, components):
    """The affected components' section text: as many lines as fit, then how many more."""
    lines = ["*Affected components*"]
    size = len(lines[0])
    for index, (name, status_) in enumerate(components):
        name = cut_markup(writer.text(name), SLACK_MAX_COMPONENT_NAME, SLACK_UNSAFE)
        line = f"• {name}: *{writer.text(status_)}*"
        left = len(components) - index - 1
        reserve = len(more_components(left)) + 1 if left else 0
        if size + 1 + len(line) + reserve > SLACK_MAX_SECTION_TEXT:
            lines.append(more_components(len(components) - index))
            break
        lines.append(line)
        size += 1 + len(line)
    return "\n".join(lines)


def slack_message(message):
    page, title = plain(message.page_name), plain(message.title)
    header = cut(f"{page}: {title}" if title else page, SLACK_MAX_HEADER)
    writer = SlackWriter()
    status = f"*{writer.text(message.headline)}* · {writer.text(message.status)}"
    if message.impact:
        status += f" · Impact: {writer.text(impact_label(message))}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_text(status, 3000)}},
    ]
    body = writer.write(message.body_html)
    chunks = split(body, SLACK_MAX_SECTION_TEXT, SLACK_MAX_BODY_SECTIONS)
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks]
    if message.components:
        text = slack_components(writer, message.components)
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
                                f"|{writer.text(message.page_url)}>"
                                + (
                                    f" · <{slack_url(message.manage_url)}|{MANAGE_LABEL}>"
                                    if message.manage_url
                                    else ""
                                ),
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
    """Slack mrkdwn `text` in at most `most` pieces of at most `limit` characters each, split
    at line ends where it can and never inside an entity, a link or a ``` fence; a code block
    split across pieces is closed at the end of one and opened again at the start of the next.
    The last piece is cut ("…") when the text is longer than all of them."""
    pieces = []
    rest = text
    reopen = False
    while rest and len(pieces) < most:
        prefix = FENCE + "\n" if reopen else ""
        if len(prefix) + len(rest) <= limit:
            pieces.append(prefix + rest)
            break
        last = len(pieces) == most - 1
        room = limit - len(prefix) - len("\n" + FENCE) - (len("…") if last else 0)
        at = safe_cut(rest, room, SLACK_UNSAFE) or room
        head = prefix + rest[:at].rstrip()
        reopen = head.count(FENCE) % 2 == 1
        # Inside code, a blank line is the code's; outside, the next piece starts at its text.
        rest = rest[at:] if reopen else rest[at:].lstrip()
        rest = rest[1:] if reopen and rest[:1] in ("\n", " ") else rest
        if last:
            head += "…"
        pieces.append(head + ("\n" + FENCE if reopen else ""))
    # Within the limit by construction; should a piece ever not be, it is cut, never sent over.
    return [slack_text(piece, limit) for piece in pieces]


# Discord: https://discord.com/developers/docs/resources/message#embed-object-embed-limits

DISCORD_MAX_TITLE = 256
DISCORD_MAX_DESCRIPTION = 4096
DISCORD_MAX_FIELDS = 25
DISCORD_MAX_FIELD_NAME = 256
DISCORD_MAX_FIELD_VALUE = 1024
DISCORD_MAX_FOOTER = 2048
DISCORD_MAX_TOTAL = 6000
# Of the 6,000: at most this much for the components' fields and the footer, so that the
# update's text always keeps 2,000 or more.
DISCORD_FIELDS_ROOM = 2500
DISCORD_FOOTER_ROOM = 500


def discord_fields(writer, components):
    """A field per component while they fit (25 fields, DISCORD_FIELDS_ROOM), then one saying
    how many more."""
    fields, used = [], 0
    for index, (name, status_) in enumerate(components):
        field = {
            "name": cut_markup(writer.text(name), 200, DISCORD_UNSAFE),
            "value": cut_markup(writer.text(status_) or "—", 200, DISCORD_UNSAFE),
            "inline": True,
        }
        size = len(field["name"]) + len(field["value"])
        left = len(components) - index - 1
        reserve = 40 if left else 0
        if (left and len(fields) == DISCORD_MAX_FIELDS - 1) or (
            used + size + reserve > DISCORD_FIELDS_ROOM
        ):
            fields.append(
                {"name": "…", "value": more_components(len(components) - index), "inline": False}
            )
            break
        fields.append(field)
        used += size
    return fields


def discord_message(message):
    writer = DiscordWriter()
    title = cut(plain(message.title or message.page_name), DISCORD_MAX_TITLE)
    fields = discord_fields(writer, message.components)
    footer = cut(plain(f"{message.page_name} · {message.page_url}"), DISCORD_FOOTER_ROOM)
    status = f"**{writer.text(message.headline)}** · {writer.text(message.status)}"
    if message.impact:
        status += f" · Impact: {writer.text(impact_label(message))}"
    body = writer.write(message.body_html)
    # The manage link closes the description (an embed's footer cannot hold a link).
    manage = f"\n\n[{MANAGE_LABEL}]({message.manage_url})" if message.manage_url else ""
    used = len(title) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    room = min(DISCORD_MAX_DESCRIPTION, DISCORD_MAX_TOTAL - used) - len(manage)
    description = cut_markup(f"{status}\n\n{body}".strip(), room, DISCORD_UNSAFE, fences=True)
    description += manage
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
TEAMS_MAX_FACTS = 40
TEAMS_MAX_TEXT = 300  # a title or a component's name


def teams_text(writer, text, limit=TEAMS_MAX_TEXT):
    return cut_markup(writer.text(text), limit, TEAMS_UNSAFE)


def teams_message(message):
    writer = TeamsWriter()
    status = f"**{writer.text(message.headline)}** · {writer.text(message.status)}"
    if message.impact:
        status += f" · Impact: {writer.text(impact_label(message))}"
    body_block = {"type": "TextBlock", "text": "", "wrap": True}
    card_body = [
        {
            "type": "TextBlock",
            "text": teams_text(writer, message.page_name),
            "isSubtle": True,
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": teams_text(writer, message.title or message.page_name),
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": cut_markup(status, 1000, TEAMS_UNSAFE),
            "color": "Good" if message.resolved else TEAMS_ATTENTION.get(message.impact, "Default"),
            "wrap": True,
        },
        body_block,
    ]
    if message.components:
        facts = [
            {"title": teams_text(writer, name), "value": teams_text(writer, status_)}
            for name, status_ in message.components[:TEAMS_MAX_FACTS]
        ]
        if len(message.components) > TEAMS_MAX_FACTS:
            more = more_components(len(message.components) - TEAMS_MAX_FACTS)
            facts.append({"title": "…", "value": more})
        card_body.append({"type": "FactSet", "facts": facts})
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
                        *(
                            [
                                {
                                    "type": "Action.OpenUrl",
                                    "title": MANAGE_LABEL,
                                    "url": message.manage_url,
                                }
                            ]
                            if message.manage_url
                            else []
                        ),
                    ],  # fmt: skip
                    "msteams": {"width": "Full"},
                },
            }
        ],
    }

    # The update's text fills what the 28 KB leave, measured as sent (UTF-8 JSON), with a
    # little room under the limit for what Teams adds around the card.
    def excess_of(text):
        body_block["text"] = text
        return len(dumps(payload)) - (TEAMS_MAX_BYTES - 512)

    def cutter(text, limit):
        return cut_markup(text, limit, TEAMS_UNSAFE)

    body = fit(writer.write(message.body_html), excess_of, cutter)
    if body is None and message.components:
        # Too many long names even without the text: say how many instead.
        card_body[-1] = {
            "type": "TextBlock",
            "text": affected_components(len(message.components)),
            "wrap": True,
        }
        body = fit(writer.write(message.body_html), excess_of, cutter)
    body_block["text"] = body or ""
    if not body_block["text"]:
        card_body.remove(body_block)
    return payload


# Google Chat: a cardsV2 card. https://developers.google.com/workspace/chat/api/reference/
# rest/v1/cards ; a message is at most 32,000 bytes.

GOOGLE_CHAT_MAX_BYTES = 32_000
GOOGLE_CHAT_MAX_TEXT = 4096
GOOGLE_CHAT_MAX_COMPONENTS = 40  # widgets, of the card's 100
GOOGLE_CHAT_MAX_NAME = 300


def google_chat_cut(text, limit):
    return cut_markup(text, limit, GOOGLE_CHAT_UNSAFE, tags=True, separators=("<br>", " "))


def google_chat_message(message, card_id="status"):
    writer = GoogleChatWriter()
    status = f"<b>{writer.text(message.headline)}</b> · {writer.text(message.status)}"
    if message.impact:
        status += f' · Impact: <font color="{colour(message)}">{impact_label(message)}</font>'
    paragraph = {"textParagraph": {"text": ""}}
    sections = [{"widgets": [{"textParagraph": {"text": status}}, paragraph]}]
    components = None
    if message.components:
        widgets = [
            {
                "decoratedText": {
                    "text": google_chat_cut(writer.text(name), GOOGLE_CHAT_MAX_NAME),
                    "bottomLabel": google_chat_cut(writer.text(status_), GOOGLE_CHAT_MAX_NAME),
                }
            }
            for name, status_ in message.components[:GOOGLE_CHAT_MAX_COMPONENTS]
        ]
        if len(message.components) > GOOGLE_CHAT_MAX_COMPONENTS:
            more = more_components(len(message.components) - GOOGLE_CHAT_MAX_COMPONENTS)
            widgets.append({"textParagraph": {"text": more}})
        components = {"header": "Affected components", "widgets": widgets}
        sections.append(components)
    sections.append(
        {
            "widgets": [
                {
                    "buttonList": {
                        "buttons": [
                            {
                                "text": message.link_label,
                                "onClick": {"openLink": {"url": message.link}},
                            },
                            *(
                                [
                                    {
                                        "text": MANAGE_LABEL,
                                        "onClick": {"openLink": {"url": message.manage_url}},
                                    }
                                ]
                                if message.manage_url
                                else []
                            ),
                        ]  # fmt: skip
                    }
                }
            ]
        }
    )
    payload = {
        "text": cut(plain(f"{message.page_name}: {message.title} — {message.headline}"), 4096),
        "cardsV2": [
            {
                "cardId": card_id,
                "card": {
                    "header": {
                        "title": cut(plain(message.title or message.page_name), 200),
                        "subtitle": cut(plain(message.page_name), 200),
                    },
                    "sections": sections,
                },
            }
        ],
    }

    def excess_of(text):
        paragraph["textParagraph"]["text"] = text
        return len(dumps(payload)) - GOOGLE_CHAT_MAX_BYTES

    text = google_chat_cut(writer.write(message.body_html), GOOGLE_CHAT_MAX_TEXT)
    body = fit(text, excess_of, google_chat_cut)
    if body is None and components is not None:
        # Too many long names even without the text: say how many instead.
        components["widgets"] = [
            {"textParagraph": {"text": affected_components(len(message.components))}}
        ]
        body = fit(text, excess_of, google_chat_cut)
    paragraph["textParagraph"]["text"] = body or ""
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
