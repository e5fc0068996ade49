"""Export and restore of a whole page: subscribers (with their scope, event choices, channel and
confirmation state) on top of the incidents (incidents/portability.py) and the page, components
and history (status/portability.py); `export_page` and `restore_page` compose the document. The
README's "Export and restore" describes the format.

Secrets stay out unless the owner asks (`include_secrets`): webhooks' signing secrets, the
tokens in subscribers' manage and unsubscribe links, and chat subscriptions' incoming-webhook
URLs (whoever holds one can post to the channel). Without them a restore gives webhooks a new
signing secret and subscribers new links, and leaves chat subscriptions out (with a warning).

A restore sends nothing: subscribers are written as rows, with no confirmation email, and no
NotificationEvent is recorded. It follows the sending policy (SECURITY.md): into a tenant the
platform does not trust, confirmed (and quarantined or disabled) subscribers come back waiting
for confirmation, as staff of such a tenant could not add them confirmed either; nothing sends
them a confirmation: they confirm by subscribing again on the page. Every subscriber is held to
the rules a subscriber staff add meets (Subscriber.objects.checked_address); one that fails
them is left out, with a warning.
"""

import base64
import binascii
import json
import re

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from incidents import portability as incidents_portability
from notifications.models import (
    CHAT_CHANNELS,
    HTTP_CHANNELS,
    Channel,
    EventChoice,
    Subscriber,
    SubscriberState,
    new_token,
    new_webhook_secret,
)
from status import portability as status_portability
from status.models import record_audit
from status.portability import Restore, RestoreError, checked, iso_utc

# A link token as new_token makes it (secrets.token_urlsafe(24)): anything weaker is replaced.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32}$")
# A webhook's signing secret: Standard Webhooks' whsec_ and base64 of 24 to 64 bytes, as
# new_webhook_secret makes it (24).
SECRET_BYTES = range(24, 65)

# States of subscribers who had confirmed (they may hear from the page again without asking).
CONFIRMED_STATES = (
    SubscriberState.CONFIRMED,
    SubscriberState.QUARANTINED,
    SubscriberState.DISABLED,
)


def export_page(page, *, include_secrets=False):
    """The page as one JSON-ready dict (format heliograph.page, version 1)."""
    document = status_portability.envelope(page, include_secrets=include_secrets)
    document.update(status_portability.export_status(page, include_secrets=include_secrets))
    document.update(incidents_portability.export_incidents(page))
    document["subscribers"] = export_subscribers(page, include_secrets=include_secrets)
    return document


def export_json(page, *, include_secrets=False):
    """The document as UTF-8 JSON bytes, as downloads and `export_page` write it."""
    document = export_page(page, include_secrets=include_secrets)
    return json.dumps(document, ensure_ascii=False, indent=1).encode() + b"\n"


def export_file_name(page):
    return f"{page.slug}-{timezone.now():%Y%m%d-%H%M%S}.heliograph.json"


def export_download(page, *, include_secrets, by):
    """The export as a file to download (the console's and the API's), recorded in the audit
    log: addresses (and perhaps secrets) leaving the platform are worth a line there. Never
    stored by a cache on the way: it may hold secrets, and always holds addresses."""
    record_audit(page, "page.export", page, by=by, after={"include_secrets": include_secrets})
    response = HttpResponse(
        export_json(page, include_secrets=include_secrets), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_file_name(page)}"'
    response["Cache-Control"] = "no-store"
    return response


def export_subscribers(page, *, include_secrets):
    subscribers = page.subscribers.order_by("created_at", "id").prefetch_related(
        "components", "groups"
    )
    exported = []
    for subscriber in subscribers:
        endpoint = subscriber.endpoint or None
        if subscriber.channel in CHAT_CHANNELS and not include_secrets:
            endpoint = None  # the URL is the credential
        data = {
            "id": subscriber.code,
            "channel": subscriber.channel,
            "email": subscriber.email,
            "endpoint": endpoint,
            "phone_number": subscriber.phone_number,
            "state": subscriber.state,
            "events": subscriber.events,
            "components": [c.code for c in sorted(subscriber.components.all(), key=pk)],
            "groups": [g.code for g in sorted(subscriber.groups.all(), key=pk)],
            "created_at": iso_utc(subscriber.created_at),
            "confirmation_sent_at": iso_utc(subscriber.confirmation_sent_at),
            "confirmed_at": iso_utc(subscriber.confirmed_at),
            "unsubscribed_at": iso_utc(subscriber.unsubscribed_at),
            "quarantined_at": iso_utc(subscriber.quarantined_at),
            "consecutive_failures": subscriber.consecutive_failures,
            "first_failure_at": iso_utc(subscriber.first_failure_at),
        }
        if include_secrets:
            data["token"] = subscriber.token
            data["secret"] = subscriber.secret if subscriber.channel == Channel.WEBHOOK else None
        exported.append(data)
    return exported


def pk(obj):
    return obj.pk


def restore_page(tenant, content, *, page=None, by=None):
    """Restore the export in `content` (JSON text or bytes) into a new page of `tenant`, or
    into `page` (of `tenant`, empty), in one transaction: the Restore (its page, counts and
    warnings), or RestoreError with nothing written."""
    document = status_portability.read_document(content)
    restore = None
    try:
        with transaction.atomic():
            new = page is None
            if new:
                page = status_portability.new_page(tenant, document)
            else:
                if page.tenant_id != tenant.pk:
                    raise RestoreError("The page belongs to another organisation.")
                check_empty_page(page)
            restore = Restore(page, document, new_page=new)
            status_portability.restore_structure(restore)
            incidents_portability.restore_incidents(restore)
            status_portability.restore_history(restore)
            restore_subscribers(restore)
            status_portability.finish(restore, by=by)
    except IntegrityError as error:
        discard_files(restore)
        # Two objects the database holds unique (an address subscribed twice, say).
        raise RestoreError(f"The document contradicts itself: {error}".strip()) from None
    except DatabaseError as error:
        discard_files(restore)
        # A value the checks let through and the database refuses (a number out of range).
        raise RestoreError(
            f"The database refused a value of the document: {error}".strip()
        ) from None
    except BaseException:
        discard_files(restore)
        raise
    return restore


def discard_files(restore):
    if restore is not None:
        restore.discard_files()


def check_empty_page(page):
    status_portability.check_no_structure(page)
    incidents_portability.check_no_incidents(page)
    if page.subscribers.exists():
        raise RestoreError(
            f"The page {page.slug} has subscribers already: restore into an empty page."
        )


def restore_subscribers(restore):
    """The subscribers as rows, each first held to the rules a subscriber staff add meets
    (Subscriber.objects.checked_address: the page's channels, valid endpoints and numbers, the
    sending policy); one that fails them is left out, with a warning, never restored
    unchecked."""
    page = restore.page
    items = restore.document.items("subscribers")
    codes = restore.codes_for(Subscriber, [item.text("id") for item in items])
    tokens = [item.text("token", "") for item in items]
    taken_tokens = set(
        Subscriber.objects.filter(token__in=[t for t in tokens if t]).values_list(
            "token", flat=True
        )
    )
    subscribers, seen = [], {}
    skipped_chats = pending_now = new_secrets = new_links = 0
    for item in items:
        ref = item.text("id")
        channel = item.choice("channel", Channel)
        endpoint = item.text("endpoint", "")
        if channel in CHAT_CHANNELS and not endpoint:
            skipped_chats += 1
            continue
        try:
            subscriber, made_pending = subscriber_from(item, page)
        except ValidationError as error:
            restore.warn(f"{item.path} ({channel}) was left out: {' '.join(error.messages)}")
            continue
        subscriber.code = codes[ref]
        pending_now += made_pending
        token = item.text("token", "")
        if TOKEN_SHAPE.match(token) and token not in taken_tokens:
            subscriber.token = token
        else:
            subscriber.token = new_token()
            new_links += subscriber.state in CONFIRMED_STATES or bool(token)
        taken_tokens.add(subscriber.token)
        secret = item.text("secret", "")
        if strong_secret(secret):
            subscriber.secret = secret
        else:
            subscriber.secret = new_webhook_secret()
            new_secrets += channel == Channel.WEBHOOK
        address = address_of(subscriber)
        if not address[1]:
            raise RestoreError(f"{item.path}: a {channel} subscriber needs its address.")
        if address in seen:
            raise RestoreError(f"{item.path}: the same {channel} subscriber as {seen[address]}.")
        seen[address] = item.path
        checked(subscriber, item.path, exclude=["page", "components", "groups"])
        scope = (
            [restore.find("component", c, item.at("components")) for c in item.refs("components")],
            [restore.find("group", g, item.at("groups")) for g in item.refs("groups")],
        )
        restore.remember("subscriber", ref, subscriber, item.path)
        subscribers.append((subscriber, scope))
    Subscriber.objects.bulk_create([s for s, _ in subscribers], batch_size=1000)
    create_scopes(subscribers)
    restore.count("subscribers", len(subscribers))
    if skipped_chats:
        restore.warn(
            f"{skipped_chats} chat subscription(s) left out: the export has no chat URLs "
            "(they are secrets; export with secrets included to keep them)."
        )
    if pending_now:
        restore.warn(
            f"{pending_now} confirmed subscriber(s) now wait for confirmation: this "
            "organisation is not yet trusted by the platform, so subscribers confirm themselves "
            "(by subscribing again on the page)."
        )
    if new_secrets:
        restore.warn(
            f"{new_secrets} webhook subscriber(s) have a new signing secret (the export had "
            "none, or a weak one): their receivers must learn it before they accept our "
            "notifications."
        )
    if new_links:
        restore.warn(
            f"{new_links} subscriber(s) have new manage and unsubscribe links (the export had "
            "none, or a weak one); those in emails sent before the export no longer work."
        )


def strong_secret(secret):
    """Whether `secret` is a webhook signing secret worth keeping: one Standard Webhooks
    accepts, strict base64 of 24 to 64 bytes after its whsec_."""
    if not secret.startswith("whsec_"):
        return False
    try:
        Webhook(secret)
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError, EmptyWebhookSecretError):
        return False
    return len(key) in SECRET_BYTES


def subscriber_from(item, page):
    """A subscriber of `page` (unsaved, without code, token or secret) from its document item,
    held to the rules a subscriber staff add meets and to the sending policy: (subscriber,
    whether the policy made a confirmed one pending). ValidationError when it fails them."""
    channel = item.choice("channel", Channel)
    state = item.choice("state", SubscriberState, SubscriberState.PENDING)
    confirmed_at = item.moment("confirmed_at", None)
    made_pending = False
    if state in CONFIRMED_STATES and not page.tenant.trusted:
        # The sending policy: only the subscriber's own confirmation lets an untrusted
        # tenant reach them (nothing is sent now; they confirm by subscribing again).
        state, confirmed_at, made_pending = SubscriberState.PENDING, None, True
    email, endpoint, phone_number = Subscriber.objects.checked_address(
        page,
        channel=channel,
        email=item.text("email", ""),
        endpoint=item.text("endpoint", "") if channel in HTTP_CHANNELS else "",
        phone_number=item.text("phone_number", ""),
        confirmed=state in CONFIRMED_STATES,
    )
    subscriber = Subscriber(
        page=page,
        channel=channel,
        email=email,
        endpoint=endpoint,
        phone_number=phone_number,
        state=state,
        created_at=item.moment("created_at", timezone.now()),
        confirmation_sent_at=item.moment("confirmation_sent_at", None),
        confirmed_at=confirmed_at,
        unsubscribed_at=item.moment("unsubscribed_at", None),
        quarantined_at=item.moment("quarantined_at", None),
        consecutive_failures=item.whole("consecutive_failures", 0),
        first_failure_at=item.moment("first_failure_at", None),
    )
    if item.raw("events", None) is not None:
        events = item.refs("events")
        unknown = set(events) - set(EventChoice.values)
        if unknown:
            raise RestoreError(f"{item.at('events')}: unknown {', '.join(sorted(unknown))}.")
        subscriber.set_events(events)
    return subscriber, made_pending


def address_of(subscriber):
    """(channel, the address a subscriber is reached at): one per page."""
    channel = subscriber.channel
    if channel == Channel.EMAIL:
        return channel, subscriber.email
    return channel, subscriber.phone_number if channel == Channel.SMS else subscriber.endpoint


def create_scopes(subscribers):
    """Give each of the saved subscribers its scope: [(subscriber, (components, groups))]."""
    Subscriber.components.through.objects.bulk_create(
        [
            Subscriber.components.through(subscriber=subscriber, component=component)
            for subscriber, (components, _) in subscribers
            for component in components
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    Subscriber.groups.through.objects.bulk_create(
        [
            Subscriber.groups.through(subscriber=subscriber, componentgroup=group)
            for subscriber, (_, groups) in subscribers
            for group in groups
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
