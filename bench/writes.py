"""`make bench`: latency of the grown status page under load while it keeps changing.

    .venv/bin/python -m bench.writes

The page /p/acme/ grown as bench/run.py grows it (100 components, 2 years of history, 1,000
incidents), served by gunicorn as deployed (deploy/gunicorn.conf.py: two sync workers a core),
with production settings, Redis cache and PostgreSQL, and loaded with wrk on 127.0.0.1: first
as it is, then while this process changes one of its components every second (another
process's write, as the console's or the API's would be). Each change makes a new version that
must be rendered; one request renders it and the others get the previous version meanwhile
(status/pagecache.py), so the 99th percentile stays near a cache hit's instead of a render's.
Prints p50 and p99 beside the target (p99 <= 50 ms).

Exits 1 when a measurement saw errors (non-2xx answers, or socket errors, which include wrk's
2-second timeouts), not when the target is missed.
"""

import sys
import threading
import time

from bench.common import (
    WORKERS,
    WRK_CONNECTIONS,
    WRK_THREADS,
    django_with_demo,
    fetch,
    gunicorn,
    have_wrk,
    logger,
    read,
    wrk,
)
from bench.run import PAGE, grow_page

WARMUP_SECONDS, RUN_SECONDS = 3, 20
CHANGE_EVERY_SECONDS = 1.0
SAMPLE_EVERY_SECONDS = 0.05
P99_TARGET_MS = 50

log = logger("bench.writes")


def main():
    if not have_wrk():
        return 1
    with django_with_demo("heliograph-bench-writes-") as ready:
        if ready is None:
            return 1
        tmp, port = ready
        log(f"growing /p/{PAGE}/ as bench/run.py does")
        grow_page(PAGE)

        url = f"http://127.0.0.1:{port}/p/{PAGE}/"
        with gunicorn(port, tmp / "gunicorn.log") as logfile:
            fetch(url)
            wrk(url, WARMUP_SECONDS)
            log(f"no changes: wrk {RUN_SECONDS} s")
            still = wrk(url, RUN_SECONDS)
            log(f"a change every {CHANGE_EVERY_SECONDS:g} s: wrk {RUN_SECONDS} s")
            with Changer(PAGE) as changer, Sampler(url) as sampler:
                changing = wrk(url, RUN_SECONDS)
            if still["errors"] or still["bad"] or changing["errors"] or changing["bad"]:
                log(f"wrk saw errors; gunicorn's log ends with:\n{read(logfile)}")

    report(still, changing, changer, sampler.seen)
    failed = any(result[name] for result in (still, changing) for name in ("errors", "bad"))
    return 1 if failed else 0


class Changer:
    """A thread that flips one component of the page between operational and degraded every
    CHANGE_EVERY_SECONDS, through the model as the console does."""

    def __init__(self, slug):
        self.slug = slug
        self.count = 0
        self.seconds = 0.0  # spent writing, in this process (it shares the machine's cores)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(10)

    @property
    def mean_ms(self):
        return self.seconds / self.count * 1000 if self.count else 0.0

    def run(self):
        from django.db import connection

        from status.models import ComponentStatus, Page

        component = Page.objects.get(slug=self.slug).components.order_by("position", "id").first()
        statuses = [ComponentStatus.DEGRADED_PERFORMANCE, ComponentStatus.OPERATIONAL]
        try:
            while not self.stopping.wait(CHANGE_EVERY_SECONDS):
                started = time.perf_counter()
                component.set_status(statuses[self.count % 2])
                self.seconds += time.perf_counter() - started
                self.count += 1
        finally:
            connection.close()


class Sampler:
    """A thread that asks for the page every SAMPLE_EVERY_SECONDS beside wrk and counts how it
    was answered (X-Cache): "stale" is the previous version served while another request
    renders the new one, "miss" a render."""

    def __init__(self, url):
        self.url = url
        self.seen = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(30)

    def run(self):
        while not self.stopping.wait(SAMPLE_EVERY_SECONDS):
            try:
                _status, headers, _body = fetch(self.url)
                answer = headers.get("X-Cache", "none")
            except OSError as error:
                answer = type(error).__name__
            self.seen[answer] = self.seen.get(answer, 0) + 1


def report(still, changing, changes, seen):
    met = "met" if changing["p99"] <= P99_TARGET_MS else "MISSED"
    print()
    print(
        f"Writes under load: /p/{PAGE}/ grown (bench/run.py), gunicorn ({WORKERS} sync workers),"
        f" Redis cache, PostgreSQL; wrk {WRK_THREADS} threads, {WRK_CONNECTIONS} connections, "
        f"{RUN_SECONDS} s each"
    )
    print(f"  {'':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}{'socket':>8}")
    for title, result in (
        ("no changes", still),
        (f"{changes.count} changes, one a second", changing),
    ):
        print(
            f"  {title:<28}{result['rps']:>10.0f}{result['p50']:>10.2f}{result['p99']:>10.2f}"
            f"{result['bad']:>9}{result['errors']:>8}"
        )
    print(f"  each change (Component.set_status, in the bench's process): {changes.mean_ms:.1f} ms")
    print(
        "  answers sampled while changing (X-Cache): "
        + ", ".join(f"{name} {count}" for name, count in sorted(seen.items()))
    )
    print(f"  p99 while changing: {changing['p99']:.2f} ms; target <= {P99_TARGET_MS} ms ({met})")


if __name__ == "__main__":
    sys.exit(main())
