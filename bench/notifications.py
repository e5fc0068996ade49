"""How fast notifications go out, on throwaway PostgreSQL and Redis and a real Celery worker.

    .venv/bin/python -m bench.notifications [--emails N] [--webhooks N] [--chat N] [--sms N]
                                            [--subscribers N]

1. Email: an update to 10,000 confirmed email subscribers, from posting it until every message
   is in a local SMTP sink (aiosmtpd), through the worker (prefork, 2 processes): fan-out,
   rendering, one SMTP connection per batch, each outcome recorded. Against it, in the same
   run, a plain smtplib loop sending the same 10,000 messages over one connection to the same
   sink. Target: at most 1.2 times the loop.
2. Webhooks: updates to 2,000 webhook subscribers, signed and POSTed to a local receiver by
   a worker of ONE process (batches sent by a pool of threads), from posting each until every
   outcome is recorded; the median of WEBHOOK_RUNS updates. The receiver (bench/receiver.py)
   is a lean asyncio server whose own ceiling, measured with wrk on the same requests, is
   printed beside it, so that a reader sees which side limits; it counts every webhook-id (a
   repeat shows) and every signature is verified after the run. Against it, a plain requests
   loop POSTing the same bodies. Target: at least 1,000 deliveries a second.
   Chats: for each of Slack, Microsoft Teams, Discord and Google Chat, an update to 1,000
   subscribers of that channel (notifications/chat.py's messages) sent the same way to the
   same receiver, which answers "ok" with 200 as Slack does; the median of WEBHOOK_RUNS
   updates, each message checked to have its provider's shape. No target of their own: they
   give each chat channel's throughput beside the webhooks'.
   SMS: an update to 1,000 SMS subscribers, each message a request to a local fake of
   Twilio's Messages API (tests/notifications/servers.py), the median of WEBHOOK_RUNS updates.
3. Posting: how long Incident.declare takes on a page with 100,000 subscribers against a page
   with none (the fan-out happens in the worker; here the worker is stopped, so only the
   write and the enqueue are timed), and then how long that fan-out takes in-process (the
   median of FAN_OUT_RUNS, its deliveries removed between runs).
   Targets: at most 2 times; the fan-out of 100,000 deliveries in at most 3 s.

Everything listens on 127.0.0.1 and is stopped at the end. Exits 1 when a run did not deliver
everything, not when a target is missed: this measures, it does not test.
"""

import argparse
import os
import smtplib
import statistics
import sys
import time
from pathlib import Path

from bench.common import django_on_services, logger

BASE_DIR = Path(__file__).resolve().parent.parent
EMAIL_TARGET, POST_TARGET, WEBHOOK_TARGET, FAN_OUT_TARGET = 1.2, 2.0, 1000, 3.0
POSTS = 7
WEBHOOK_RUNS = 3

# Each chat channel: its label, its bench page's slug, and whether a message has the shape its
# provider documents (Block Kit with a header; an Adaptive Card in Teams' envelope; a Discord
# embed; a Google Chat cardsV2 card).
CHAT_SHAPES = {
    "slack": ("Slack", "slackbench", lambda m: m["blocks"][0]["type"] == "header"),
    "teams": (
        "Microsoft Teams",
        "teamsbench",
        lambda m: m["attachments"][0]["content"]["type"] == "AdaptiveCard",
    ),
    "discord": ("Discord", "discordbench", lambda m: bool(m["embeds"][0]["title"])),
    "google_chat": ("Google Chat", "gchatbench", lambda m: bool(m["cardsV2"][0]["card"])),
}
FAN_OUT_RUNS = 3


log = logger("bench")


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.notifications")
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=2_000)
    parser.add_argument("--chat", type=int, default=1_000, help="subscribers per chat channel")
    parser.add_argument("--sms", type=int, default=1_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    args = parser.parse_args(argv)
    from tests.notifications.servers import FakeTwilio

    twilio = FakeTwilio().start()
    try:
        with django_on_services(
            SITE_URL="https://status.example.com",
            WEBHOOKS_ALLOW_PRIVATE_IPS="true",
            SMS_DAILY_CAP_PER_PAGE=str(10 * args.sms),
            **twilio.settings(),
        ) as services:
            if services is None:
                return 1
            return Bench(args, *services, twilio=twilio).run()
    finally:
        twilio.stop()


class Bench:
    def __init__(self, args, database_url, redis_url, twilio):
        from bench.receiver import FastReceiver
        from tests.notifications.servers import SmtpSink

        self.args = args
        self.twilio = twilio
        self.database_url, self.redis_url = database_url, redis_url
        self.sink = SmtpSink().start()
        self.receiver = FastReceiver().start()
        self.rows = []
        self.failed = False

    def run(self):
        try:
            self.emails()
            self.webhooks()
            self.chat()
            self.sms()
            self.posting()
        finally:
            self.sink.stop()
            self.receiver.stop()
        self.report()
        return 1 if self.failed else 0

    def worker(self, concurrency=2):
        from tests.notifications.servers import Worker

        return Worker(
            database_url=self.database_url,
            redis_url=self.redis_url,
            smtp_url=self.sink.url,
            concurrency=concurrency,
            env={"DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING"},
        ).start()

    def page(self, slug, subscribers, channel="email"):
        from django.utils import timezone

        from notifications.models import Subscriber
        from status.models import Component, ComponentGroup, Page, Tenant

        # A customer the platform knows, sending more than a new one may in a day.
        tenant = Tenant.objects.create(name=slug.title(), slug=slug, trusted=True)
        page = Page.objects.create(tenant=tenant, name=slug.title(), slug=slug, visibility="public")
        group = ComponentGroup.objects.create(page=page, name="Core")
        Component.objects.create(page=page, group=group, name="API")
        now = timezone.now()
        batch = []
        for n in range(subscribers):
            if channel == "email":
                fields = {"email": f"reader{n}@example.com"}
            elif channel == "sms":
                fields = {"phone_number": f"+5939{n:08d}"}
            elif channel != "webhook":  # a chat: its incoming-webhook URL
                fields = {"endpoint": self.receiver.url(f"/{channel}/T0/{n}")}
            else:
                fields = {"email": "ops@example.com", "endpoint": self.receiver.url(f"/hook/{n}")}
            batch.append(
                Subscriber(
                    page=page, channel=channel, state="confirmed", confirmed_at=now, **fields
                )  # fmt: skip
            )
            if len(batch) == 5000:
                Subscriber.objects.bulk_create(batch)
                batch = []
        Subscriber.objects.bulk_create(batch)
        return page

    def deliver(self, page, count, what):
        """Post an update on `page`; seconds until its `count` deliveries are sent."""
        from incidents.models import Incident
        from notifications.models import Delivery
        from tests.notifications.servers import wait_for

        started = time.perf_counter()
        incident = Incident.declare(page, name=f"{what} benchmark", body="Something is *wrong*.")
        deliveries = Delivery.objects.filter(event__incident=incident)
        try:
            wait_for(
                lambda: deliveries.filter(status="sent").count() >= count,
                timeout=600,
                interval=0.1,
                message=f"{count} {what}",
            )
        except AssertionError as error:
            log(str(error))
            self.failed = True
        elapsed = time.perf_counter() - started
        failed = deliveries.exclude(status="sent").count()
        if failed:
            log(f"{failed} {what} deliveries not sent")
            self.failed = True
        return elapsed

    def emails(self):
        count = self.args.emails
        log(f"email: {count} subscribers")
        page = self.page("mailbench", count)
        worker = self.worker()
        try:
            ours = self.deliver(page, count, "emails")
        finally:
            worker.kill()
            worker.stop()
        received = [content for *_, content in self.sink.messages]
        if len(received) != count:
            log(f"the sink received {len(received)} messages, not {count}")
            self.failed = True
        connections = self.sink.connections()
        self.sink.clear()

        log("email: the same messages through a plain smtplib loop")
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", self.sink.port) as smtp:
            for content in received:
                smtp.sendmail("noreply@heliograph.localhost", ["reader@example.com"], content)
        loop = time.perf_counter() - started
        self.sink.clear()
        self.rows.append(
            (f"{count:,} emails, update to SMTP sink ({connections} connections)", ours,
             f"{count / ours:,.0f}/s")
        )  # fmt: skip
        self.rows.append(("  same messages, plain smtplib loop", loop, f"{count / loop:,.0f}/s"))
        self.rows.append(
            (f"  ratio (target ≤ {EMAIL_TARGET})", None, f"{ours / loop:.2f}×"
             + ("" if ours / loop <= EMAIL_TARGET else "  MISSED"))
        )  # fmt: skip

    def webhooks(self):
        import requests
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        from notifications.models import Subscriber

        count = self.args.webhooks
        log(f"webhooks: {count} subscribers, {WEBHOOK_RUNS} updates")
        page = self.page("hookbench", count, channel="webhook")
        secrets = dict(Subscriber.objects.filter(page=page).values_list("endpoint", "secret"))
        worker = self.worker(concurrency=1)
        times = []
        try:
            for _ in range(WEBHOOK_RUNS):
                times.append(self.deliver(page, count, "webhooks"))
        finally:
            worker.kill()
            worker.stop()
        received, distinct, repeated = self.receiver.stats()
        if (received, distinct, repeated) != (count * WEBHOOK_RUNS, count * WEBHOOK_RUNS, 0):
            log(f"the receiver got {received} requests, {distinct} webhook-ids, {repeated} repeats")
            self.failed = True
        requests_seen = self.receiver.requests
        unsigned = 0
        for path, headers, body in requests_seen:
            try:
                Webhook(secrets[self.receiver.url(path)]).verify(body, headers)
            except (KeyError, WebhookVerificationError):
                unsigned += 1
        if unsigned:
            log(f"{unsigned} webhooks did not verify")
            self.failed = True
        self.receiver.clear()

        # The receiver alone: wrk sending it one of the same requests over 16 connections.
        path, headers, body = requests_seen[0]
        ceiling = self.receiver.ceiling(body, headers)
        self.receiver.clear()

        last = requests_seen[-count:]
        started = time.perf_counter()
        with requests.Session() as session:
            for path, headers, body in last:
                session.post(self.receiver.url(path), data=body, headers=headers, timeout=30)
        loop = time.perf_counter() - started
        self.receiver.clear()
        ours = statistics.median(times)
        rate = count / ours
        self.rows.append(
            (f"{count:,} webhooks, signed, to a local receiver (1 worker process), median of "
             f"{WEBHOOK_RUNS} ({', '.join(f'{t:.2f}' for t in times)} s)", ours,
             f"{rate:,.0f}/s (target ≥ {WEBHOOK_TARGET:,}/s)"
             + ("" if rate >= WEBHOOK_TARGET else "  MISSED"))
        )  # fmt: skip
        self.rows.append(
            (f"  the receiver's own ceiling (wrk, 16 connections; "
             f"{self.receiver.processes} processes)", None,
             f"{ceiling:,.0f}/s" if ceiling else "wrk not installed")
        )  # fmt: skip
        self.rows.append(
            (f"  {received:,} requests received: {distinct:,} webhook-ids, {repeated} repeated,"
             f" {len(requests_seen) - unsigned:,} signatures verified", None, "")
        )  # fmt: skip
        self.rows.append(("  same requests, plain requests loop", loop, f"{count / loop:,.0f}/s"))

    def chat(self):
        """Each chat channel in turn: its messages to the same receiver, each checked to be
        the provider's documented shape."""
        for channel, (label, slug, well_formed) in CHAT_SHAPES.items():
            self.chat_channel(channel, label, slug, well_formed)

    def chat_channel(self, channel, label, slug, well_formed):
        import json

        count = self.args.chat
        log(f"{channel}: {count} subscribers, {WEBHOOK_RUNS} updates")
        page = self.page(slug, count, channel=channel)
        worker = self.worker(concurrency=1)
        times = []
        try:
            for _ in range(WEBHOOK_RUNS):
                times.append(self.deliver(page, count, f"{label} messages"))
        finally:
            worker.kill()
            worker.stop()
        seen = self.receiver.requests
        paths = {path for path, _headers, _body in seen}
        malformed = 0
        for _path, _headers, body in seen:
            try:
                malformed += not well_formed(json.loads(body))
            except (ValueError, KeyError, IndexError, TypeError):
                malformed += 1
        if len(seen) != count * WEBHOOK_RUNS or len(paths) != count or malformed:
            log(f"the receiver got {len(seen)} {label} messages for {len(paths)} channels,"
                f" {malformed} malformed")  # fmt: skip
            self.failed = True
        self.receiver.clear()
        ours = statistics.median(times)
        self.rows.append(
            (f"{count:,} {label} messages to a local receiver (1 worker process),"
             f" median of {WEBHOOK_RUNS} ({', '.join(f'{t:.2f}' for t in times)} s)", ours,
             f"{count / ours:,.0f}/s")
        )  # fmt: skip
        self.rows.append(
            (f"  {len(seen):,} messages received for {len(paths):,} channels,"
             f" {len(seen) - malformed:,} of them well formed", None, "")
        )  # fmt: skip

    def sms(self):
        """SMS to the local fake of Twilio's Messages API (one request per message)."""
        count = self.args.sms
        log(f"sms: {count} subscribers, {WEBHOOK_RUNS} updates")
        page = self.page("smsbench", count, channel="sms")
        worker = self.worker(concurrency=1)
        times = []
        try:
            for _ in range(WEBHOOK_RUNS):
                times.append(self.deliver(page, count, "SMS"))
        finally:
            worker.kill()
            worker.stop()
        sent = [m for m in self.twilio.messages if m["_status"] == 201]
        numbers = {m["To"] for m in sent}
        long = sum(len(m["Body"]) > 160 for m in sent)
        if len(sent) != count * WEBHOOK_RUNS or len(numbers) != count:
            log(f"the fake Twilio took {len(sent)} SMS for {len(numbers)} numbers")
            self.failed = True
        ours = statistics.median(times)
        self.rows.append(
            (f"{count:,} SMS to a local fake of Twilio's Messages API (1 worker process),"
             f" median of {WEBHOOK_RUNS} ({', '.join(f'{t:.2f}' for t in times)} s)", ours,
             f"{count / ours:,.0f}/s")
        )  # fmt: skip
        self.rows.append(
            (f"  {len(sent):,} messages taken for {len(numbers):,} numbers,"
             f" {long} over 160 characters", None, "")
        )  # fmt: skip

    def posting(self):
        from django.db import connection

        from incidents.models import Incident
        from notifications import outbox, tasks
        from notifications.models import Delivery, NotificationEvent

        count = self.args.subscribers
        log(f"posting: a page with {count} subscribers and one with none")
        empty = self.page("emptybench", 0)
        crowded = self.page("crowdbench", count)
        timings = {}
        for page in (empty, crowded, empty, crowded):  # warm both before measuring
            times = []
            for n in range(POSTS):
                started = time.perf_counter()
                Incident.declare(page, name=f"Post {n}")
                times.append(time.perf_counter() - started)
            timings[page.slug] = statistics.median(times)
        ratio = timings["crowdbench"] / timings["emptybench"]
        self.rows.append(("post an update, page with no subscriber", timings["emptybench"], ""))
        self.rows.append(
            (f"post an update, page with {count:,} subscribers", timings["crowdbench"], "")
        )
        self.rows.append(
            (f"  ratio (target ≤ {POST_TARGET:g})", None,
             f"{ratio:.2f}×" + ("" if ratio <= POST_TARGET else "  MISSED"))
        )  # fmt: skip

        log(f"posting: the fan-out to {count} subscribers, in-process, {FAN_OUT_RUNS} times")
        event = NotificationEvent.objects.filter(page=crowded).latest("id")
        times = []
        real_enqueue = outbox.enqueue
        try:
            for _ in range(FAN_OUT_RUNS):
                event.deliveries.all().delete()
                NotificationEvent.objects.filter(pk=event.pk).update(
                    fanned_out_at=None, fan_out_lease_until=None
                )
                with connection.cursor() as cursor:
                    cursor.execute(f"VACUUM ANALYZE {Delivery._meta.db_table}")
                enqueued = []
                outbox.enqueue = lambda task, *args, into=enqueued: into.append(args)
                started = time.perf_counter()
                tasks.fan_out(event.pk)
                times.append(time.perf_counter() - started)
        finally:
            outbox.enqueue = real_enqueue
        made = event.deliveries.count()
        elapsed = statistics.median(times)
        self.rows.append(
            (f"  its fan-out in the worker: {made:,} deliveries, {len(enqueued):,} messages, "
             f"median of {FAN_OUT_RUNS} ({', '.join(f'{t:.2f}' for t in times)} s)",
             elapsed, f"{made / elapsed:,.0f}/s (target ≤ {FAN_OUT_TARGET:g} s)"
             + ("" if elapsed <= FAN_OUT_TARGET else "  MISSED"))
        )  # fmt: skip

    def report(self):
        width = max(len(label) for label, *_ in self.rows)
        print(f"\nload average at the end: {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
        print(f"{'notifications':<{width}}  {'seconds':>9}  rate / ratio")
        for label, seconds, extra in self.rows:
            shown = f"{seconds:9.3f}" if seconds is not None else " " * 9
            print(f"{label:<{width}}  {shown}  {extra}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
