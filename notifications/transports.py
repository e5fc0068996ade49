"""How a delivery reaches its subscriber: one transport class per channel.

A transport is opened once for a batch (`with EmailTransport() as transport:`), sends each
delivery with `notify(delivery)`, which returns the receiver's response code (if any) or raises
TransportError. The outside world is behind two seams, so tests replace only them: the SMTP
connection (Django's `get_connection()`) and the HTTP request (`http_post`).
"""

import base64
import http.client
import json
import logging
import smtplib
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from requests_hardened import Config, Manager
from requests_hardened.ip_filter import InvalidIPAddress
from standardwebhooks.webhooks import Webhook

from notifications import chat, emails, sms, webhooks
from notifications.models import Channel, TransportError
from status.addresses import PublicAddressAdapter

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 30  # seconds, to connect and between bytes of the answer
WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
WEBHOOK_POOLS = 100  # destinations (host and port) whose connections are kept open
USER_AGENT = "Heliograph-Webhooks/1.0 (+https://www.standardwebhooks.com/)"


class Transport:
    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self):
        pass

    def close(self):
        pass

    def notify(self, delivery):
        raise NotImplementedError


class EmailTransport(Transport):
    """One message per recipient, all of a batch over one SMTP connection."""

    def __init__(self, connection=None):
        self.connection = connection
        self.renderer = emails.NotificationRenderer()

    def open(self):
        if self.connection is None:
            self.connection = get_connection(fail_silently=False)
        try:
            self.connection.open()
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise TransportError(f"Could not connect to the mail server: {error}") from error

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except (smtplib.SMTPException, OSError):
                log.warning("closing the SMTP connection failed", exc_info=True)

    def notify(self, delivery):
        smtp = self.smtp_connection()
        raw = self.renderer.raw_bytes(delivery) if smtp is not None else None
        if raw is not None:
            # Ready-made bytes straight onto the open SMTP connection.
            to = delivery.subscriber.email
            self.send(lambda: smtp.sendmail(emails.platform_address(), [to], raw) or True)
        else:
            message = self.renderer.message(delivery, self.connection)
            self.send(lambda: self.connection.send_messages([message]))

    def smtp_connection(self):
        """The smtplib connection behind Django's SMTP backend, when that is the backend."""
        if isinstance(self.connection, SMTPBackend):
            return self.connection.connection
        return None

    def send(self, action):
        try:
            sent = action()
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise TransportError(
                f"The mail server refused the recipient: {code} {text.decode(errors='replace')}",
                permanent=code >= 500,
                response_code=code,
            ) from error
        except smtplib.SMTPResponseException as error:
            raise TransportError(
                f"The mail server answered {error.smtp_code} "
                f"{error.smtp_error.decode(errors='replace')}",
                permanent=error.smtp_code >= 500,
                response_code=error.smtp_code,
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            # The connection is gone: the next message opens a new one.
            self.close()
            try:
                self.connection.open()
            except (smtplib.SMTPException, OSError):
                log.warning("reopening the SMTP connection failed", exc_info=True)
            raise TransportError(f"Sending failed: {error}") from error
        if not sent:
            raise TransportError("The mail backend sent nothing.")


class WebhookTransport(Transport):
    """POST the event in Statuspage's webhook shape, signed with the Standard Webhooks headers.

    `prepare()` (the body and its signature) runs in the worker's main thread; `post()` only
    makes the request and reads its answer, so a batch's threads may run it at once (see
    notifications/tasks.py)."""

    def open(self):
        http_session()  # made once, before any thread needs it

    def notify(self, delivery):
        return self.post(self.prepare(delivery))

    def prepare(self, delivery):
        body = webhooks.delivery_body(delivery)
        headers = signed_headers(delivery.subscriber.secret, delivery.webhook_id, body)
        return delivery.subscriber.endpoint, body, headers

    def post(self, request):
        """Make a prepared request: its response code, or TransportError. Thread-safe."""
        status, response_headers, content = http_post(*request)
        if 200 <= status < 300:
            return status
        snippet = content[:200].decode(errors="replace")
        if status == 410:
            raise TransportError(
                "410 Gone: the endpoint is disabled.", response_code=410, gone=True
            )
        if status == 429:
            raise TransportError(
                "429 Too Many Requests",
                response_code=429,
                retry_after=parse_retry_after(response_headers.get("retry-after")),
            )
        if 300 <= status < 400:
            location = response_headers.get("location", "")
            raise TransportError(
                f"{status} redirect to {location[:200]!r} not followed", response_code=status
            )
        raise TransportError(f"{status} {snippet}".strip(), response_code=status)


# How long a chat service's 429 without a Retry-After makes us wait.
CHAT_DEFAULT_RETRY_AFTER = timedelta(seconds=60)


class ChatTransport(Transport):
    """POST the event as a chat service's message (notifications/chat.py) to the subscriber's
    incoming-webhook URL, through the same hardened session as webhooks.

    Like WebhookTransport, `prepare()` runs where the database is (`ready(event)` first builds
    the event's message there) and `post()` may run in a batch's threads. An answer saying the
    channel or its webhook is gone disables the subscriber (TransportError(gone=True)); a
    payload refused is not retried (the same bytes would be refused again); 429 waits as long
    as the service asks; anything else is retried with the usual backoff, and counts towards
    quarantine."""

    channel = None
    # Statuses that mean the webhook or its channel is gone.
    gone_statuses = {404, 410}

    def open(self):
        http_session()

    def notify(self, delivery):
        self.ready(delivery.event)
        return self.post(self.prepare(delivery))

    def ready(self, event):
        """Build the event's message for this channel once (kept on the event)."""
        bodies = event.__dict__.setdefault("_chat_bodies", {})
        if self.channel not in bodies:
            bodies[self.channel] = chat.body_bytes(self.channel, chat.event_message(event))
        return bodies[self.channel]

    def prepare(self, delivery):
        body = delivery.event.__dict__["_chat_bodies"][self.channel]
        body = chat.with_token(body, delivery.subscriber.token)
        return delivery.subscriber.endpoint, body, self.prepare_headers()

    def prepare_headers(self):
        return CHAT_HEADERS

    def post(self, request):
        """Make a prepared request: its response code, or TransportError. Thread-safe."""
        status, headers, content = http_post(*request)
        if 200 <= status < 300:
            return status
        raise self.error(status, headers, content)

    def error(self, status, headers, content):
        snippet = content[:200].decode(errors="replace").strip()
        described = f"{status} {snippet}".strip()
        if status in self.gone_statuses:
            return TransportError(
                f"{described}: the channel's webhook is gone; the subscriber is disabled.",
                response_code=status,
                gone=True,
            )
        if status == 429:
            # Google Chat often says 429 without a Retry-After: wait a minute then, and (as
            # for any 429) do not count it towards quarantine.
            wait = self.retry_after(headers, content) or CHAT_DEFAULT_RETRY_AFTER
            return TransportError(described, response_code=429, retry_after=wait)
        if 300 <= status < 400:
            location = headers.get("location", "")
            return TransportError(
                f"{status} redirect to {location[:200]!r} not followed", response_code=status
            )
        if status == 400:
            return TransportError(
                f"{described}: the message was refused (not retried).",
                response_code=status,
                permanent=True,
            )
        return TransportError(described, response_code=status)

    def retry_after(self, headers, content):
        return parse_retry_after(headers.get("retry-after"))


class SlackTransport(ChatTransport):
    """Slack answers errors as plain text: https://api.slack.com/messaging/webhooks#handling_errors.
    Those that say the channel, the app or the workspace is gone (or posting is forbidden)
    disable the subscriber."""

    channel = Channel.SLACK
    gone_errors = {
        "channel_not_found",
        "channel_is_archived",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "action_prohibited",
        "invalid_token",
        "posting_to_general_channel_denied",
    }

    def error(self, status, headers, content):
        answer = content[:100].decode(errors="replace").strip()
        if answer in self.gone_errors:
            return TransportError(
                f"{status} {answer}: the Slack channel or app is gone; the subscriber is disabled.",
                response_code=status,
                gone=True,
            )
        return super().error(status, headers, content)


class TeamsTransport(ChatTransport):
    """A Teams Workflows webhook: 401 or 403 (the URL's signature no longer valid), 404 (the
    workflow was deleted) or 410 disable the subscriber."""

    channel = Channel.TEAMS
    gone_statuses = {401, 403, 404, 410}


class DiscordTransport(ChatTransport):
    """A Discord channel webhook: 401 (its token is wrong) or 404 (Unknown Webhook) disable
    the subscriber; 429 carries `retry_after` in seconds (a float) in its JSON body:
    https://discord.com/developers/docs/topics/rate-limits."""

    channel = Channel.DISCORD
    gone_statuses = {401, 404, 410}

    def retry_after(self, headers, content):
        try:
            seconds = float(json.loads(content)["retry_after"])
        except (ValueError, KeyError, TypeError):
            return super().retry_after(headers, content)
        if not 0 <= seconds < 86400 * 2:
            return super().retry_after(headers, content)
        return timedelta(seconds=seconds)


class GoogleChatTransport(ChatTransport):
    """A Google Chat space webhook: 401 or 403 (its key or token no longer valid, the space
    left) and 404 (the space is gone) disable the subscriber."""

    channel = Channel.GOOGLE_CHAT
    gone_statuses = {401, 403, 404, 410}


class SmsTransport(Transport):
    """Text the event to the subscriber's number through Twilio's Messages API (a form POST to
    `{TWILIO_API_BASE}/2010-04-01/Accounts/{sid}/Messages.json` with Basic auth), through the
    same hardened session as webhooks, with a StatusCallback to /hooks/twilio/status/….

    Twilio answers 201 with the message, or an error as JSON ({"code": 21211, "message": …}):
    a number that cannot get SMS (sms.NUMBER_GONE_ERRORS, e.g. 21211 not a number, 21610 it
    replied STOP) disables the subscriber; 429 waits (Retry-After); 5xx, a refused login (the
    platform's account: fixed by its operator, the messages wait) and a failed connection are
    retried with the usual backoff; any other 4xx is not (the same request would fail again).
    """

    def open(self):
        if not sms.configured():
            raise TransportError("SMS is not set up on this platform (TWILIO_* settings).")
        http_session()

    def notify(self, delivery):
        return self.post(self.prepare(delivery))

    def prepare(self, delivery):
        """The delivery's message, ready for `post()` (where the database is: the event's text
        is built once, on the event)."""
        return (
            delivery,
            delivery.subscriber.phone_number,
            self.text(delivery.event),
            sms.callback_url(f"/hooks/twilio/status/{delivery.pk}/{delivery.uuid}/"),
        )

    def post(self, request):
        """Send a prepared message: Twilio's response code, or TransportError. Thread-safe
        (a batch's threads send at once, notifications/tasks.py); Twilio's sid of the message
        is kept on its delivery (recorded with it) so that a status callback is matched to
        the message it is about."""
        delivery, to, body, status_callback = request
        status, sid = self.send(to, body, status_callback)
        delivery.provider_message_id = sid
        return status

    def text(self, event):
        """The event's SMS (kept on the event: a batch builds it once)."""
        cached = event.__dict__.get("_sms_text")
        if cached is None:
            message = chat.event_message(event)
            status = message.status or message.headline
            if message.impact in ("minor", "major", "critical") and not message.resolved:
                status = f"{status} ({message.impact})"
            cached = sms.notification_text(
                message.page_name,
                status,
                message.title or message.headline,
                message.link,
            )
            event.__dict__["_sms_text"] = cached
        return cached

    def send(self, to, body, status_callback=None):
        """POST one message: (Twilio's response code, the message's sid), or TransportError."""
        credentials = f"{settings.TWILIO_ACCOUNT_SID}:{settings.TWILIO_AUTH_TOKEN}"
        headers = {
            "authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
            "user-agent": USER_AGENT,
        }
        status, response_headers, content = http_post(
            sms.messages_url(), sms.message_form(to, body, status_callback), headers
        )
        if 200 <= status < 300:
            return status, sms.sid_of(content)
        code, text = sms.error_of(content)
        described = f"Twilio {status}" + (f" error {code}" if code else "") + f": {text}"
        if code in sms.PLATFORM_ERRORS:
            # The operator's account may not send there: no fault of the number's owner.
            log.error("SMS to %s refused: %s", sms.masked(to), described)
            raise TransportError(
                f"{described} ({sms.PLATFORM_ERRORS[code]}; not retried).",
                response_code=status,
                permanent=True,
            )
        if code in sms.RETRIED_ERRORS:
            raise TransportError(f"{described} ({sms.RETRIED_ERRORS[code]})", response_code=status)
        if code in sms.NUMBER_GONE_ERRORS:
            raise TransportError(
                f"{described} ({sms.NUMBER_GONE_ERRORS[code]}); the subscriber is disabled.",
                response_code=status,
                gone=True,
            )
        if status == 429:
            raise TransportError(
                described,
                response_code=429,
                retry_after=parse_retry_after(response_headers.get("retry-after")),
            )
        if status >= 500 or status in (401, 403):
            raise TransportError(described, response_code=status)
        raise TransportError(f"{described} (not retried)", response_code=status, permanent=True)


CHAT_HEADERS = {"content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT}

TRANSPORTS = {
    Channel.EMAIL: EmailTransport,
    Channel.WEBHOOK: WebhookTransport,
    Channel.SLACK: SlackTransport,
    Channel.TEAMS: TeamsTransport,
    Channel.DISCORD: DiscordTransport,
    Channel.GOOGLE_CHAT: GoogleChatTransport,
    Channel.SMS: SmsTransport,
}


def signed_headers(secret, webhook_id, body, now=None):
    """The Standard Webhooks headers for `body` (bytes) signed with the subscriber's secret."""
    timestamp = now or datetime.now(UTC)
    signature = Webhook(secret).sign(webhook_id, timestamp, body.decode())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def parse_retry_after(value, now=None):
    """Retry-After as a timedelta: seconds or an HTTP date; None when absent or unreadable
    (the usual backoff applies then, not a retry at once)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - (now or datetime.now(UTC)), timedelta(0))


_sessions = {}


def http_session():
    """One session per process (keep-alive to the same endpoints), refusing private, loopback,
    link-local, CGNAT and metadata addresses at connect time unless
    WEBHOOKS_ALLOW_PRIVATE_IPS, and never following a redirect."""
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_IPS
    session = _sessions.get(allow_private)
    if session is None:
        manager = Manager(
            Config(
                default_timeout=(WEBHOOK_TIMEOUT, WEBHOOK_TIMEOUT),
                never_redirect=True,
                ip_filter_enable=not allow_private,
                ip_filter_allow_loopback_ips=False,
                user_agent_override=USER_AGENT,
            )
        )
        session = manager.get_session()
        if not allow_private:
            for prefix, https in (("http://", False), ("https://", True)):
                session.mount(prefix, PublicAddressAdapter(is_https_proto=https))
        # Keep-alive connections for each of a batch's threads, to as many destinations as a
        # batch usually has (urllib3 keeps 10 and 10 otherwise, and opens a new connection for
        # every request beyond them).
        for adapter in set(session.adapters.values()):
            adapter.init_poolmanager(
                WEBHOOK_POOLS, max(settings.NOTIFICATIONS_WEBHOOK_THREADS, 1)
            )  # fmt: skip
        # No proxy or .netrc from the environment: they would bypass the address filter.
        session.trust_env = False
        _sessions[allow_private] = session
    return session


def http_post(url, body, headers):
    """The one outbound HTTP request: (status, headers, at most 64 KiB of the body).

    Raises TransportError when the request cannot be made or the address is refused.

    The request goes through the session's adapter for the URL (requests-hardened's
    connect-time address filter, the session's kept-alive connection pools, TLS verified),
    straight to its urllib3 pool: requests' own per-request work (merging the session's
    settings, cookies, redirect handling we never use) cost more than the request itself.
    """
    check_endpoint(url)
    request = requests.PreparedRequest()
    try:
        request.prepare_method("POST")
        request.prepare_url(url, None)
        request.prepare_headers(headers)
        request.prepare_body(body, None)
        adapter = http_session().get_adapter(request.url)
        # Resolves the name, refuses a private address, pins the connection to the address
        # it checked (and sets the Host header): see PublicAddressAdapter.
        pool = adapter.get_connection_with_tls_context(request, True, proxies=None, cert=None)
        adapter.cert_verify(pool, request.url, True, None)
    except InvalidIPAddress as error:
        raise TransportError(
            f"Refused: {url} resolves to a private or reserved address ({error})."
        ) from error
    except (requests.RequestException, urllib3.exceptions.HTTPError, ValueError) as error:
        raise TransportError(f"Request failed: {error.__class__.__name__}: {error}") from error
    try:
        response = pool.urlopen(
            "POST",
            request.path_url,
            body=body,
            headers=request.headers,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=False,
            timeout=urllib3.Timeout(connect=WEBHOOK_TIMEOUT, read=WEBHOOK_TIMEOUT),
        )
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
        raise TransportError(f"Request failed: {error.__class__.__name__}: {error}") from error
    content = b""
    deadline = time.monotonic() + WEBHOOK_TIMEOUT
    try:
        # A bounded read, in time as in size: the answer matters only for the delivery log.
        for chunk in response.stream(8192, decode_content=False):
            content += chunk
            if len(content) >= WEBHOOK_MAX_RESPONSE_BYTES or time.monotonic() > deadline:
                break
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
        content += f" (reading the answer failed: {error})".encode()
    finally:
        # Read to its end, the connection is back in its pool already, kept alive; cut short,
        # it is closed here (and reopened by the next request).
        response.close()
        response.release_conn()
    headers = {key.lower(): value for key, value in response.headers.items()}
    return response.status, headers, content[:WEBHOOK_MAX_RESPONSE_BYTES]


def check_endpoint(url):
    parts = urlsplit(url)
    if parts.scheme.lower() not in webhooks.ALLOWED_SCHEMES:
        raise TransportError("Only http and https endpoints are called.", permanent=True)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        # Port 0 (or one that is no port) reaches nothing, or whatever the stack makes of it.
        raise TransportError("The endpoint's port is not a number from 1 to 65535.", permanent=True)
