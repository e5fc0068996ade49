"""The emails subscribers get: notifications, confirmation, and notices about their subscription.

Templates live in templates/emails/notifications/ as <name>_subject.txt, <name>.txt and
<name>.html. A notification is rendered once per event, language and batch; each recipient's
copy only has its own links put in (the renderer's placeholders), which keeps a batch of
thousands of messages about as cheap as sending them. Every message is written in its
subscriber's language (Subscriber.language, status/languages.py).
"""

import functools
import re
from email.utils import formataddr, parseaddr
from urllib.parse import unquote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

from incidents.markdown import markdown_to_text
from notifications.models import CONFIRMATION_MAX_AGE
from status import languages
from status.models import ComponentStatus

TEMPLATE_OF_KIND = {
    "incident_created": "incident",
    "incident_updated": "incident",
    "incident_resolved": "incident",
    "postmortem_published": "postmortem",
    "maintenance_scheduled": "maintenance",
    "maintenance_updated": "maintenance",
    "maintenance_started": "maintenance",
    "maintenance_completed": "maintenance",
    "maintenance_reminder": "maintenance_reminder",
    "component_status": "component_status",
}
# Stand-ins for each recipient's own values in what a batch shares.
MANAGE_URL = "https://heliograph.invalid/manage-url"
UNSUBSCRIBE_URL = "https://heliograph.invalid/unsubscribe-url"
RECIPIENT = "recipient@heliograph.invalid"
MESSAGE_ID = "<message-id@heliograph.invalid>"


def platform_address():
    return address_of(settings.DEFAULT_FROM_EMAIL) or "noreply@heliograph.localhost"


@functools.lru_cache
def address_of(from_email):
    return parseaddr(from_email)[1]


def sender(page):
    """ "<Page name> <platform address>": the page's name on the platform's address."""
    return formataddr((page.name, platform_address()))


def support_address(page):
    """The page's support address for Reply-To, when its support link is an email address."""
    link = (page.support_url or "").strip()
    if link.lower().startswith("mailto:"):
        link = unquote(link[len("mailto:") :].split("?", 1)[0])
    elif "://" in link or "@" not in link:
        return None
    try:
        validate_email(link)
    except ValidationError:
        return None
    return link


def render(name, context):
    """(subject, text, html) of template set `name`."""
    subject = render_to_string(f"emails/notifications/{name}_subject.txt", context)
    text = render_to_string(f"emails/notifications/{name}.txt", context)
    html = render_to_string(f"emails/notifications/{name}.html", context)
    # Templates leave blank lines where tags were; a text email reads better without them.
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return " ".join(subject.split()), text, html


def status_label(status):
    """A component status's words in the active language."""
    return gettext(ComponentStatus(status).label) if status else ""


def inline(label):
    """A status's words inside a sentence: lower case, but for German, whose nouns keep
    their capital."""
    return label if translation.get_language() == "de" else label.lower()


def event_context(event):
    page = event.page
    incident, update = event.incident, event.update
    context = {
        "page": page,
        "event": event,
        "kind": event.kind,
        "incident": incident,
        "update": update,
        "tz": page.tz,
        "page_url": page.public_url(),
        "manage_url": MANAGE_URL,
        "unsubscribe_url": UNSUBSCRIBE_URL,
    }
    if incident is not None:
        context["incident_url"] = page.public_url(f"incidents/{incident.code}/")
    if update is not None:
        context["status_label"] = gettext(update.get_status_display())
        context["body_text"] = markdown_to_text(update.body)
        context["body_html"] = update.body_html
        context["affected"] = [
            {"name": impact.component.name, "status": status_label(impact.new_status)}
            for impact in update.impacts.select_related("component").order_by(
                "component__position", "component__id"
            )
        ]
    elif incident is not None:
        context["status_label"] = gettext(incident.get_status_display())
    context["status_inline"] = inline(context.get("status_label", ""))
    if event.kind == "postmortem_published":
        context["postmortem_text"] = markdown_to_text(incident.postmortem_body)
        context["postmortem_html"] = incident.postmortem_html
    if event.component_id:
        context["component"] = event.component
        context["old_status"] = status_label(event.old_status)
        context["new_status"] = status_label(event.new_status)
        context["old_inline"] = inline(context["old_status"])
        context["new_inline"] = inline(context["new_status"])
    return context


class NotificationRenderer:
    """Renders each event once, then makes each recipient's message from it.

    The whole MIME message is also generated once per event, with stand-ins for the recipient's
    address, Message-ID and links; each recipient's bytes are that with their own values put
    in, which is most of what makes a batch of thousands cheap. When the stand-ins cannot all
    be found in the bytes (a part that had to be quoted-printable, an address that is not
    ASCII), the message is generated the usual way.
    """

    def __init__(self):
        self.rendered = {}
        self.raw = {}

    def rendering(self, event, language=languages.FALLBACK):
        """(subject, text, html) of the event in `language`, rendered once."""
        key = (event.pk, language)
        if key not in self.rendered:
            with translation.override(language):
                self.rendered[key] = render(TEMPLATE_OF_KIND[event.kind], event_context(event))
        return self.rendered[key]

    def raw_template(self, event, language=languages.FALLBACK):
        """The event's message as bytes with stand-ins, or None when they do not survive."""
        key = (event.pk, language)
        if key not in self.raw:
            subject, text, html = self.rendering(event, language)
            message = build_message(
                event.page, RECIPIENT, subject, text, html, headers=self.headers(
                    MESSAGE_ID, UNSUBSCRIBE_URL
                )
            )  # fmt: skip
            raw = message.message().as_bytes(linesep="\r\n")
            expected = {
                RECIPIENT: 1,
                MESSAGE_ID: 1,
                MANAGE_URL: text.count(MANAGE_URL) + html.count(MANAGE_URL),
                UNSUBSCRIBE_URL: 1 + text.count(UNSUBSCRIBE_URL) + html.count(UNSUBSCRIBE_URL),
            }
            intact = all(raw.count(s.encode()) == n for s, n in expected.items())
            self.raw[key] = raw if intact else None
        return self.raw[key]

    @staticmethod
    def headers(message_id, unsubscribe_url):
        return {
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def values(self, delivery):
        subscriber = delivery.subscriber
        return {
            RECIPIENT: subscriber.email,
            MESSAGE_ID: delivery.message_id,
            MANAGE_URL: subscriber.manage_url,
            UNSUBSCRIBE_URL: subscriber.unsubscribe_url,
        }

    def raw_bytes(self, delivery, values=None):
        """The recipient's message as bytes made from the event's, or None when it cannot be."""
        values = values or self.values(delivery)
        raw = self.raw_template(delivery.event, languages.for_subscriber(delivery.subscriber))
        # The links go into the HTML part too, where they must need no escaping.
        plain = all(escape(values[link]) == values[link] for link in (MANAGE_URL, UNSUBSCRIBE_URL))
        if raw is None or not plain or not all(value.isascii() for value in values.values()):
            return None
        for placeholder, value in values.items():
            raw = raw.replace(placeholder.encode(), value.encode())
        return raw

    def message(self, delivery, connection=None):
        """The recipient's message as a Django email (whose bytes are made as above)."""
        event, subscriber = delivery.event, delivery.subscriber
        subject, text, html = self.rendering(event, languages.for_subscriber(subscriber))
        values = self.values(delivery)
        for placeholder in (MANAGE_URL, UNSUBSCRIBE_URL):
            text = text.replace(placeholder, values[placeholder])
            html = html.replace(placeholder, escape(values[placeholder]))
        message = build_message(
            event.page,
            subscriber.email,
            subject,
            text,
            html,
            connection=connection,
            headers=self.headers(delivery.message_id, subscriber.unsubscribe_url),
            cls=BatchMessage,
        )
        message.raw = self.raw_bytes(delivery, values)
        return message


class BatchMessage(EmailMultiAlternatives):
    """A message whose bytes may come ready-made (see NotificationRenderer)."""

    raw = None

    def message(self, *args, **kwargs):
        if self.raw is None:
            return super().message(*args, **kwargs)
        return RawMessage(self.raw)


class RawMessage:
    """Ready-made message bytes, with what Django's mail backends ask of a MIME message."""

    def __init__(self, raw):
        self.raw = raw

    def as_bytes(self, unixfrom=False, linesep="\n"):
        return self.raw if linesep == "\r\n" else self.raw.replace(b"\r\n", linesep.encode())

    def as_string(self, unixfrom=False, linesep="\n"):
        return self.as_bytes(linesep=linesep).decode()

    def get_charset(self):
        return None


def build_message(page, to, subject, text, html, *, connection=None, headers=None,
                  cls=EmailMultiAlternatives):  # fmt: skip
    reply_to = support_address(page)
    message = cls(
        subject,
        text,
        sender(page),
        [to],
        connection=connection,
        reply_to=[reply_to] if reply_to else None,
        headers={
            "List-Id": f"{page.name} <{page.slug}.{platform_address().rpartition('@')[2]}>",
            "Auto-Submitted": "auto-generated",
            **(headers or {}),
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def subscriber_message(subscriber, name, connection=None):
    """One of the subscriber's own emails: confirm, already_subscribed, webhook_quarantined."""
    page = subscriber.page
    context = {
        "page": page,
        "subscriber": subscriber,
        "page_url": page.public_url(),
        "confirm_url": subscriber.confirm_url,
        "manage_url": subscriber.manage_url,
        "unsubscribe_url": subscriber.unsubscribe_url,
        "confirmation_days": CONFIRMATION_MAX_AGE.days,
    }
    with translation.override(languages.for_subscriber(subscriber)):
        subject, text, html = render(name, context)
    return build_message(page, subscriber.email, subject, text, html, connection=connection)


def send_subscriber_email(subscriber, name):
    subscriber_message(subscriber, name, connection=get_connection()).send()
