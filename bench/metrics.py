"""What system metrics cost, on a throwaway PostgreSQL (in this process, no web server):

    .venv/bin/python -m bench.metrics [--metrics 10] [--days 30]

- Recording one point (`Metric.record`, what a monitor does after each check: the raw point,
  its minute, hour and day roll-ups, the metric's latest value, the page's version), 1,000
  times in a row: p50 and p99. Target: p99 under 20 ms.
- A batch of 3,000 points (the API's most per request) through
  `POST /api/v1/pages/<page>/metrics/data`, 5 times: the time per request. Target: under 2 s.
- The status page rendered uncached with --metrics metrics, each with --days days of one point
  a minute (the charts read 288 five-minute and 168 hour roll-ups each, and 120 six-hour sums
  of the hour roll-ups), against the same page without metrics: the time the metrics add, p50
  of 20 renders with the cache emptied before each (cold: no chart is cached). Target: under
  50 ms for 10 metrics.
- The same after a change of the page (its version bumped, the cache kept): what a
  regeneration costs when the metrics' data did not change (their rendered charts are cached).

Exits 1 when a request failed, not when a target is missed: this measures, it does not test.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import django_on_services, logger

RECORD_P99_TARGET_MS = 20
BATCH_TARGET_S = 2.0
RENDER_TARGET_MS = 50
BATCH_POINTS = 3000


log = logger("bench.metrics")


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.metrics")
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="heliograph-bench-metrics-") as tmp,
        django_on_services(
            with_redis=False,
            ALLOWED_HOSTS="testserver",
            SITE_URL="http://testserver",
            VAR_DIR=str(Path(tmp) / "var"),
            # Old enough for the backfill below.
            METRICS_RAW_RETENTION_DAYS=str(args.days + 1),
            API_RATE_LIMIT_BURST="1000",
        ) as services,
    ):
        if services is None:
            return 1
        from django.core.management import call_command

        log("collecting static files")
        call_command("collectstatic", verbosity=0, interactive=False)
        return run(args)


def run(args):
    from django.core.cache import cache
    from django.test import Client
    from django.utils import timezone

    from status.models import ApiKey, Metric, MetricPoint
    from tests.factories import make_empty_page, make_old_component

    page = make_empty_page("bench", "Bench")
    tenant = page.tenant
    plain = make_empty_page("plain", "Plain")
    for each in (page, plain):
        for i in range(5):
            make_old_component(each, f"Service {i}")
    failures = 0

    # Recording one point at a time.
    metric = Metric.add(by=None, page=page, name="Bench latency", suffix="ms")
    times = []
    for i in range(1000):
        start = time.perf_counter()
        metric.record(float(i % 300))
        times.append((time.perf_counter() - start) * 1000)
    record_p50, record_p99 = statistics.median(times), percentile(times, 0.99)

    # Batches through the API.
    _, secret = ApiKey.issue(tenant, "Bench")
    client = Client(HTTP_AUTHORIZATION=f"OAuth {secret}")
    batch_times = []
    now = int(time.time())
    for n in range(5):
        points = [{"timestamp": now - 86400 + n * 7 + i * 20, "value": float(i % 97)}
                  for i in range(BATCH_POINTS)]  # fmt: skip
        body = json.dumps({"data": {metric.code: points}})
        start = time.perf_counter()
        response = client.post(
            f"/api/v1/pages/{page.code}/metrics/data", body, content_type="application/json"
        )
        batch_times.append(time.perf_counter() - start)
        if response.status_code != 201:
            log(f"batch answered {response.status_code}: {response.content[:200]!r}")
            failures += 1
    batch_median = statistics.median(batch_times)

    # The page with metrics full of data, against the same page without.
    metric.remove(by=None)
    log(f"recording {args.metrics} metrics x {args.days} days of one point a minute")
    now = timezone.now()
    minutes = args.days * 1440
    for m in range(args.metrics):
        shown = Metric.add(by=None, page=page, name=f"Metric {m}", suffix="ms", decimal_places=1)
        for chunk in range(0, minutes, BATCH_POINTS):
            shown.record_many(
                [
                    (now - timedelta(minutes=i), 50.0 + (i * 7 + m) % 113)
                    for i in range(chunk, min(chunk + BATCH_POINTS, minutes))
                ]  # fmt: skip
            )
    points = MetricPoint.objects.filter(metric__page=page).count()
    # One client (one WSGI handler) for every render: a new Client() would set the middleware up
    # again each time, WhiteNoise's scan of the static files included.
    visitor = Client()
    render = {}
    for slug in ("plain", "bench"):
        times = []
        for _ in range(21):
            cache.clear()
            start = time.perf_counter()
            response = visitor.get(f"/p/{slug}/")
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                failures += 1
        render[slug] = statistics.median(times[1:])
    added = render["bench"] - render["plain"]
    # Regenerations: the page's version bumped (the cached page is stale), the charts cached.
    regen = {}
    for slug, each in (("plain", plain), ("bench", page)):
        times = []
        for _ in range(21):
            each.bump_version()
            start = time.perf_counter()
            response = visitor.get(f"/p/{slug}/")
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                failures += 1
        regen[slug] = statistics.median(times[1:])
    regen_added = regen["bench"] - regen["plain"]

    print()
    print(f"System metrics ({points:,} points in {args.metrics} metrics over {args.days} days)")
    print(f"  record one point:        p50 {record_p50:6.1f} ms  p99 {record_p99:6.1f} ms"
          f"   target p99 < {RECORD_P99_TARGET_MS} ms")  # fmt: skip
    rate = BATCH_POINTS / batch_median
    print(f"  API batch of {BATCH_POINTS:,}:    median {batch_median:5.2f} s"
          f" ({rate:,.0f} points/s)   target < {BATCH_TARGET_S:.0f} s")  # fmt: skip
    print(f"  status page, uncached:   {render['plain']:6.1f} ms without metrics,"
          f" {render['bench']:6.1f} ms with {args.metrics}: +{added:.1f} ms"
          f"   target < {RENDER_TARGET_MS} ms")  # fmt: skip
    print(f"  status page, regenerated: {regen['plain']:6.1f} ms without metrics,"
          f" {regen['bench']:6.1f} ms with {args.metrics}: +{regen_added:.1f} ms"
          f"   (charts cached)")  # fmt: skip
    print(f"  load average: {' '.join(f'{n:.1f}' for n in os.getloadavg())}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
