"""How long a Statuspage import takes, on throwaway PostgreSQL and Redis and a real Celery worker
of ONE process, against a local fake Statuspage (tests/fake_statuspage.py) serving a page of
3 groups, 20 components, 200 incidents with 4 updates each, 30 maintenances and 5,000
subscribers through its management API v1:

    .venv/bin/python -m bench.statuspage_import [--incidents 200] [--subscribers 5000]

The import runs as the console's wizard runs it: `importing.start` enqueues the reading and the
dry run (tasks.plan_import), `importing.confirm` the import (tasks.apply_import), both done by
the worker. Measured: the seconds from start to planned (reading the API, converting, the whole
import tried and rolled back), from confirm to done, and the sum (target: under 60 s), then the
same again (a re-run: everything found unchanged) with the database's rows counted before and
after (they must not change: no duplicates). Nothing may be sent: no Delivery, no
NotificationEvent, no mail in the SMTP sink, no SMS at the fake Twilio.

Exits 1 when the import fails, duplicates or sends, not when the target is missed: this
measures, it does not test.
"""

import argparse
import sys
import time

from bench.common import django_on_services, logger

TARGET_S = 60

log = logger("bench.statuspage_import")


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.statuspage_import")
    parser.add_argument("--incidents", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=5000)
    args = parser.parse_args(argv)
    from tests.notifications.servers import FakeTwilio, SmtpSink

    twilio = FakeTwilio().start()
    sink = SmtpSink().start()
    try:
        with django_on_services(
            SITE_URL="https://status.example.com",
            # The fake Statuspage and Twilio are on 127.0.0.1.
            WEBHOOKS_ALLOW_PRIVATE_IPS="true",
            **twilio.settings(),
        ) as services:
            if services is None:
                return 1
            return run(args, *services, sink=sink, twilio=twilio)
    finally:
        sink.stop()
        twilio.stop()


def rows():
    from incidents.models import ComponentImpact, Incident, IncidentTemplate, IncidentUpdate
    from notifications.models import Subscriber
    from status.models import (
        Component,
        ComponentGroup,
        ComponentStatusChange,
        ExternalRef,
        Page,
        UptimeDay,
    )

    models = (
        Page, ComponentGroup, Component, ComponentStatusChange, UptimeDay, Incident,
        IncidentUpdate, ComponentImpact, IncidentTemplate, Subscriber, ExternalRef,
    )  # fmt: skip
    return {model.__name__: model.objects.count() for model in models}


def wait(run, states, timeout=600):
    from notifications.models import PageImport

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = PageImport.objects.get(pk=run.pk)
        if run.state in states:
            return run
        time.sleep(0.05)
    raise RuntimeError(f"the import was still {run.state} after {timeout} s")


def one_import(tenant, fake):
    """(seconds to plan, seconds to apply, the run) of one import through the worker."""
    from notifications import importing
    from notifications.models import ImportSource, ImportState

    started = time.perf_counter()
    run = importing.start(
        tenant,
        source=ImportSource.API,
        api_url=fake.api_url,
        page_id=fake.page_id,
        api_key=fake.api_key,
    )
    run = wait(run, (ImportState.PLANNED, ImportState.FAILED))
    planned = time.perf_counter()
    if run.state == ImportState.FAILED:
        raise RuntimeError(f"planning failed: {run.error}")
    importing.confirm(run)
    run = wait(run, (ImportState.DONE, ImportState.FAILED))
    if run.state == ImportState.FAILED:
        raise RuntimeError(f"the import failed: {run.error}")
    return planned - started, time.perf_counter() - planned, run


def run(args, database_url, redis_url, *, sink, twilio):
    from notifications.models import Delivery, NotificationEvent
    from status.models import Tenant
    from tests.fake_statuspage import FakeStatuspage, big_page
    from tests.notifications.servers import Worker

    data = big_page(incidents=args.incidents, subscribers=args.subscribers)
    tenant = Tenant.objects.create(name="Movers", slug="movers", trusted=True)
    worker = Worker(
        database_url=database_url,
        redis_url=redis_url,
        smtp_url=sink.url,
        concurrency=1,
        env={"DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING",
             "WEBHOOKS_ALLOW_PRIVATE_IPS": "true", **twilio.settings()},
    ).start()  # fmt: skip
    failed = False
    try:
        with FakeStatuspage(data, api_key="bench-key", page_id="benchpage001") as fake:
            log(
                f"importing {len(data['incidents'])} incidents and maintenances, "
                f"{len(data['subscribers']):,} subscribers (1 worker process)"
            )
            figures = []
            counts = []
            for attempt in ("first import", "re-run"):
                plan_s, apply_s, done = one_import(tenant, fake)
                counts.append(rows())
                figures.append((attempt, plan_s, apply_s, done))
                log(f"{attempt}: planned in {plan_s:.1f} s, applied in {apply_s:.1f} s")
    except RuntimeError as error:
        log(str(error))
        return 1
    finally:
        worker.stop()
    if counts[0] != counts[1]:
        log(f"DUPLICATES: rows after the first import {counts[0]}, after the re-run {counts[1]}")
        failed = True
    sent = {
        "deliveries": Delivery.objects.count(),
        "events": NotificationEvent.objects.count(),
        "emails": len(sink.messages),
        "sms": len(twilio.messages),
    }
    if any(sent.values()):
        log(f"SENT SOMETHING: {sent}")
        failed = True
    first = figures[0][3].report["counts"]
    print()
    print("Statuspage import (management API v1 from a local fake, 1 Celery worker process):")
    print(
        f"  source: {len(data['groups'])} groups, {len(data['components'])} components, "
        f"{first['incidents']['created']} incidents, {first['maintenances']['created']} "
        f"maintenances, {first['incident_updates']['created']:,} updates, "
        f"{len(data['subscribers']):,} subscribers ({first['subscribers']['created']:,} carried "
        "over; the rest are Slack-app and partner subscriptions, which cannot be)"
    )
    for attempt, plan_s, apply_s, _done in figures:
        total = plan_s + apply_s
        verdict = "met" if total < TARGET_S else "MISSED"
        print(
            f"  {attempt}: {total:5.1f} s (read and dry run {plan_s:.1f} s + import "
            f"{apply_s:.1f} s)   target < {TARGET_S} s: {verdict}"
        )
    print(f"  rows after each run: {counts[0] == counts[1] and 'the same' or 'DIFFERENT'}; "
          f"sent: {sum(sent.values())}")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
