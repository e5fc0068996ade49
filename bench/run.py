"""`make bench`: how fast the public status page is, on throwaway PostgreSQL and Redis.

    .venv/bin/python -m bench.run [--profile]

1. Served: requests/s of the cached page /p/acme/ against /bare/<name>/, a view returning the
   same bytes, both through gunicorn as deployed (deploy/gunicorn.conf.py: two sync workers a
   core) with production settings, Redis as the cache and PostgreSQL as the database, loaded
   with wrk on 127.0.0.1: first the demo page as `manage.py demo` makes it, then the page grown
   as in 2.
2. Rendered: the uncached render time of /p/acme/ grown to 100 components with two years of
   status history and 1,000 incidents, in-process, with the SQL queries it runs and the
   template's share (the time the template takes to render the view's ready context), two ways:
   "uncached", the page's cached responses out of date (its version bumped, as by any write)
   while the kept markup of the bars' finished days is warm (status/templatetags/
   component_rows.py), which is what a visitor after a write meets; and "cold", every cache
   cleared (Redis flushed, this process's memos emptied) before each render.
   With --render-only, only this part is run.

PostgreSQL, Redis and gunicorn are stopped at the end, whatever happens. With --profile, the
uncached render is also run under cProfile and the heaviest functions printed. Exits 1 when a
measurement saw errors, not when a target is missed: this measures, it does not test.
"""

import contextlib
import cProfile
import os
import pstats
import random
import re
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import time as clock

from bench.common import (
    WORKERS,
    WRK_CONNECTIONS,
    WRK_THREADS,
    django_with_demo,
    duration_ms,  # noqa: F401 (other bench scripts import it from here)
    fetch,
    gunicorn,
    have_wrk,
    log,
    read,
    wrk,
)

PAGE = "acme"

# Load (part 1).
WARMUP_SECONDS, RUN_SECONDS, ROUNDS = 3, 10, 2
SERVED_TARGET = 0.70

# Data and renders (part 2).
COMPONENTS = 100
HISTORY_DAYS = 730
OUTAGES_PER_MONTH = 3
INCIDENTS = 1000
RECENT_INCIDENTS = 8  # in the status page's last 14 days, all resolved
WARMUP_RENDERS, RENDERS, COLD_RENDERS = 5, 50, 20
RENDER_TARGET_MS = 10


def main(argv):
    started = time.monotonic()
    if not have_wrk():
        return 1
    with django_with_demo("heliograph-bench-", "bench.settings") as ready:
        if ready is None:
            return 1
        tmp, port = ready
        bodies = tmp / "bodies"
        bodies.mkdir()
        os.environ["BENCH_BODIES_DIR"] = str(bodies)  # read by bench/views.py in gunicorn

        base = f"http://127.0.0.1:{port}"
        served = []
        failed = False
        if "--render-only" in argv:
            log(f"growing {PAGE} to {COMPONENTS} components, {HISTORY_DAYS} days of history")
            t0 = time.monotonic()
            facts = grow_page(PAGE)
            facts["seconds"] = time.monotonic() - t0
            log(f"rendering /p/{PAGE}/ uncached, {WARMUP_RENDERS} + {RENDERS} times, then cold")
            rendered = render_times()
            print()
            print_render_report(facts, rendered)
            print(f"\n   (whole run {time.monotonic() - started:.0f} s)")
            if "--profile" in argv:
                profile()
            return 0
        with gunicorn(port, tmp / "gunicorn.log") as logfile:
            served.append(serve(base, bodies, PAGE, "demo page"))
            log(f"growing {PAGE} to {COMPONENTS} components, {HISTORY_DAYS} days of history")
            t0 = time.monotonic()
            facts = grow_page(PAGE)
            facts["seconds"] = time.monotonic() - t0
            served.append(serve(base, bodies, f"{PAGE}-grown", "grown page"))
            failed = any(s["errors"] for s in served)
            if failed:
                log(f"wrk saw errors; gunicorn's log ends with:\n{read(logfile)}")

        log(f"rendering /p/{PAGE}/ uncached, {WARMUP_RENDERS} + {RENDERS} times, then cold")
        rendered = render_times()

        print_report(served, facts, rendered, time.monotonic() - started)
        if "--profile" in argv:
            profile()
    return 1 if failed else 0


# -- Part 1: served ------------------------------------------------------------------------


def save_body(base, bodies, name):
    """Render the page once, check the next request is a cache hit, keep its bytes for /bare/."""
    fetch(f"{base}/p/{PAGE}/")
    status, headers, body = fetch(f"{base}/p/{PAGE}/")
    if status != 200 or headers.get("X-Cache") != "hit":
        raise RuntimeError(f"/p/{PAGE}/ is not served from the cache: {status} {dict(headers)}")
    (bodies / f"{name}.html").write_bytes(body)
    _, bare_headers, bare = fetch(f"{base}/bare/{name}/")
    if bare != body or bare_headers.get("Content-Type") != headers.get("Content-Type"):
        raise RuntimeError("/bare/ does not return the page's bytes and content type")
    return len(body)


def serve(base, bodies, name, title):
    """The page and the bare view of its bytes, measured alternately after a warm-up."""
    size = save_body(base, bodies, name)
    urls = {"bare": f"{base}/bare/{name}/", "cached": f"{base}/p/{PAGE}/"}
    for url in urls.values():
        wrk(url, WARMUP_SECONDS)
    results = {label: [] for label in urls}
    for round_number in range(ROUNDS):
        for label, url in urls.items():
            log(f"{title}, round {round_number + 1}/{ROUNDS}: {label}, {RUN_SECONDS} s")
            results[label].append(wrk(url, RUN_SECONDS))
    errors = sum(r["bad"] + r["errors"] for rounds in results.values() for r in rounds)
    from status.models import Page

    components = Page.objects.get(slug=PAGE).components.count()
    return {
        "title": title,
        "name": name,
        "components": components,
        "bytes": size,
        "errors": errors,
        **results,
    }


# -- Part 2: the grown page ------------------------------------------------------------------

OUTAGE_LENGTHS = [5, 12, 25, 47, 90, 180, 400]  # minutes
DOWN_STATUSES = [
    "degraded_performance", "degraded_performance", "partial_outage", "partial_outage",
    "major_outage", "under_maintenance",
]  # fmt: skip
OUTAGE_NAMES = {
    "degraded_performance": "Slow responses from {}",
    "partial_outage": "Errors for some requests to {}",
    "major_outage": "{} unavailable",
}
FIRST_BODY = """\
We are investigating reports of problems with **{name}**. Affected requests may fail or be slow.

- Started at {at:%H:%M} UTC
- Next update within 30 minutes
"""
IDENTIFIED_BODY = (
    "The cause has been identified: a [configuration change](https://acme.example/changes)"
    " to {name}. A fix is being rolled out."
)
RESOLVED_BODY = "This incident has been resolved. {name} is operating normally."


def grow_page(slug):
    """Grow the demo page to COMPONENTS components in groups, each with HISTORY_DAYS of history
    (a few outages a month, contiguous rows, the last one open), and INCIDENTS incidents in
    all, written in bulk. The demo's own components keep their history, extended backwards."""
    from django.db import connection, transaction
    from django.utils import timezone

    from incidents.markdown import render_markdown
    from incidents.models import (
        IMPACT_OF_STATUS,
        ComponentImpact,
        Incident,
        IncidentStatus,
        IncidentUpdate,
        Kind,
    )
    from status.models import Component, ComponentGroup, ComponentStatusChange, Page

    rng = random.Random(2024)
    page = Page.objects.get(slug=slug)
    tz = page.tz
    now = timezone.now()
    first_day = now.astimezone(tz).date() - timedelta(days=HISTORY_DAYS)
    start = datetime.combine(first_day, clock.min, tzinfo=tz)
    history_end = now - timedelta(hours=1)

    with transaction.atomic():
        old = list(page.components.all())
        groups = list(page.groups.all())
        new_groups = ComponentGroup.objects.bulk_create(
            ComponentGroup(page=page, name=f"Region {n + 1}", position=len(groups) + n)
            for n in range(8)
        )
        new = Component.objects.bulk_create(
            Component(
                page=page,
                group=new_groups[n % len(new_groups)],
                name=f"Service {n + 1:02}",
                position=n,
                start_date=first_day,
                created_at=start,
            )
            for n in range(COMPONENTS - len(old))
        )

        # Outages as (component, at, length, [(status, from, to)]), and history rows.
        outages, rows = [], []
        first_rows = {
            row.component_id: row
            for row in ComponentStatusChange.objects.filter(component__in=old).order_by(
                "-started_at"
            )
        }
        for component in old + new:
            own = first_rows.get(component.pk)
            until = own.started_at - timedelta(hours=1) if own else history_end
            at = previous = start
            while True:
                at += timedelta(days=rng.expovariate(OUTAGES_PER_MONTH / 30.4))
                length = timedelta(minutes=rng.choice(OUTAGE_LENGTHS))
                if at + length >= until:
                    break
                status = rng.choice(DOWN_STATUSES)
                phases = [(status, at, at + length)]
                if status == "partial_outage" and rng.random() < 0.3:  # escalated, then eased
                    cut = at + length * 0.4
                    phases = [(status, at, cut), ("major_outage", cut, at + length)]
                rows.append(ComponentStatusChange(
                    component=component, status="operational", started_at=previous, ended_at=at
                ))  # fmt: skip
                phase_rows = [
                    ComponentStatusChange(component=component, status=s, started_at=a, ended_at=b)
                    for s, a, b in phases
                ]
                rows += phase_rows
                if status != "under_maintenance":
                    outages.append((component, at, length, phases, phase_rows))
                at = previous = at + length
            if own:  # the demo's first row now starts where the older history ends
                own.started_at = previous
                own.save(update_fields=["started_at"])
            else:
                rows.append(
                    ComponentStatusChange(
                        component=component, status="operational", started_at=previous
                    )
                )
        Component.objects.filter(pk__in=[c.pk for c in old]).update(
            start_date=first_day, created_at=start
        )

        # Incidents: a few in the last 14 days, the rest spread over the older history.
        wanted = INCIDENTS - page.incidents.count()
        recent_since = now - timedelta(days=13)
        recent = [o for o in outages if o[1] >= recent_since]
        older = [o for o in outages if o[1] < recent_since - timedelta(days=1)]
        chosen = rng.sample(recent, min(RECENT_INCIDENTS, len(recent)))
        chosen += rng.sample(older, wanted - len(chosen))
        chosen.sort(key=lambda o: o[1])
        incidents = Incident.objects.bulk_create(
            Incident(
                page=page,
                kind=Kind.INCIDENT,
                name=OUTAGE_NAMES[phases[0][0]].format(component.name),
                status=IncidentStatus.RESOLVED,
                impact=IMPACT_OF_STATUS[worst(phases)],
                worst_component_status=worst(phases),
                started_at=at,
                identified_at=at + length * 0.3,
                resolved_at=at + length,
                created_at=at,
            )
            for component, at, length, phases, _ in chosen
        )
        updates, links, impacts = [], [], []
        for incident, (component, at, length, phases, phase_rows) in zip(
            incidents, chosen, strict=True
        ):
            for row in phase_rows:
                row.incident = incident
            links.append(Incident.components.through(incident=incident, component=component))
            for status, body, display_at in (
                (IncidentStatus.INVESTIGATING, FIRST_BODY, at),
                (IncidentStatus.IDENTIFIED, IDENTIFIED_BODY, at + length * 0.3),
                (IncidentStatus.RESOLVED, RESOLVED_BODY, at + length),
            ):
                body = body.format(name=component.name, at=at)
                updates.append(
                    IncidentUpdate(
                        incident=incident,
                        status=status,
                        body=body,
                        body_rendered=render_markdown(body),
                        display_at=display_at,
                        deliver_notifications=False,
                        created_at=display_at,
                    )
                )
            # What the first update did to the component, and what resolving it did.
            impacts.append((updates[-3], component, "operational", phases[0][0]))
            impacts.append((updates[-1], component, worst(phases), "operational"))
        IncidentUpdate.objects.bulk_create(updates, batch_size=2000)
        ComponentImpact.objects.bulk_create(
            (
                ComponentImpact(update=u, component=c, old_status=before, new_status=after)
                for u, c, before, after in impacts
            ),
            batch_size=2000,
        )
        Incident.components.through.objects.bulk_create(links, batch_size=2000)
        ComponentStatusChange.objects.bulk_create(rows, batch_size=5000)
        page.bump_version()

    check_history(page)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would soon after such a load
    return {
        "components": page.components.count(),
        "groups": page.groups.count(),
        "history_rows": ComponentStatusChange.objects.filter(component__page=page).count(),
        "incidents": page.incidents.count(),
        "recent": page.incidents.filter(
            started_at__gte=now - timedelta(days=14), started_at__lte=now
        ).count(),
        "unresolved": page.incidents.unresolved().count(),
        "updates": IncidentUpdate.objects.filter(incident__page=page).count(),
    }


def worst(phases):
    from status.models import STATUS_SEVERITY, ComponentStatus

    return max((s for s, _, _ in phases), key=lambda s: STATUS_SEVERITY[ComponentStatus(s)])


def check_history(page):
    """Each component's rows are contiguous, the last one is the only open one and holds the
    component's status."""
    from status.models import ComponentStatusChange

    rows = ComponentStatusChange.objects.filter(component__page=page).order_by(
        "component_id", "started_at"
    )
    statuses = dict(page.components.values_list("pk", "status"))
    last = {}
    for row in rows.values_list("component_id", "status", "started_at", "ended_at"):
        component_id, status, started_at, ended_at = row
        previous = last.get(component_id)
        if previous is not None and previous[3] != started_at:
            raise RuntimeError(f"component {component_id}: history not contiguous at {started_at}")
        last[component_id] = row
    for component_id, status in statuses.items():
        if last[component_id][3] is not None or last[component_id][1] != status:
            raise RuntimeError(f"component {component_id}: the open row is not its status")


@contextlib.contextmanager
def timed_templates():
    """[ms] of each top-level template render (the context already built by the view) while
    inside; includes and partials are part of the template that uses them."""
    from django.template.backends.django import Template

    times = []
    render = Template.render

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return render(self, *args, **kwargs)
        finally:
            times.append((time.perf_counter() - t0) * 1000)

    Template.render = timed
    try:
        yield times
    finally:
        Template.render = render


def clear_every_cache():
    """Redis flushed and this process's memos emptied: nothing rendered before helps."""
    from django.core.cache import cache

    from status import pagecache, uptime
    from status.templatetags import component_rows, heliograph

    cache.clear()
    pagecache.clear_local()
    component_rows.forget_finished()
    heliograph.forget_memos()
    uptime._GROUP_DAYS.clear()


def render_once(client, cold=False):
    """One uncached request of the page: (ms, SQL queries, ms in SQL, bytes, template ms, CPU
    ms, [(table, ms) of each query]); `cold`, with every cache cleared first."""
    from django.db import connection

    from status.models import Page

    Page.objects.get(slug=PAGE).bump_version()  # what any write does: the next request misses
    if cold:
        clear_every_cache()
    queries = []

    def timed(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((query_name(sql), time.perf_counter() - t0))

    with connection.execute_wrapper(timed), timed_templates() as templates:
        t0, cpu0 = time.perf_counter(), time.process_time()
        response = client.get(f"/p/{PAGE}/")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if response.status_code != 200 or response["X-Cache"] != "miss":
        raise RuntimeError(f"expected an uncached 200, got {response.status_code}")
    return (
        elapsed * 1000,
        len(queries),
        sum(seconds for _, seconds in queries) * 1000,
        len(response.content),
        sum(templates),
        cpu * 1000,
        [(name, seconds * 1000) for name, seconds in queries],
    )


def query_name(sql):
    """The table a query reads first ("status_component"), "+ prefetch" when it is a
    prefetch_related() query: enough to tell a page's queries apart in the report."""
    found = re.search(r'\bFROM\s+"?(\w+)', sql)
    name = found.group(1) if found else sql.split(None, 1)[0]
    return f"{name} + prefetch" if "_prefetch_related_val" in sql else name


def render_times():
    """The uncached renders' figures, and the cold ones' under "cold"."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    for _ in range(WARMUP_RENDERS):
        render_once(client)
    figures = summary([render_once(client) for _ in range(RENDERS)])
    figures["cold"] = summary([render_once(client, cold=True) for _ in range(COLD_RENDERS)])
    return figures


def summary(runs):
    times = sorted(r[0] for r in runs)
    return {
        "median": statistics.median(times),
        "p90": times[int(len(times) * 0.9) - 1],
        "min": times[0],
        "max": times[-1],
        "queries": sorted({r[1] for r in runs}),
        "sql_ms": statistics.median(r[2] for r in runs),
        "bytes": runs[-1][3],
        "template_ms": statistics.median(r[4] for r in runs),
        "template_share": statistics.median(r[4] / r[0] for r in runs),
        # This process's CPU time: less skewed than the wall clock when other work shares the CPUs.
        "cpu_ms": statistics.median(r[5] for r in runs),
        # Each query's median time, in the order the last render ran them (renders that ran
        # other queries are left out).
        "each_query": [
            (name, statistics.median(r[6][n][1] for r in runs if len(r[6]) == len(runs[-1][6])))
            for n, (name, _) in enumerate(runs[-1][6])
        ],
    }


def profile():
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        render_once(client)
    profiler.disable()
    for order in ("cumulative", "tottime"):
        print(f"\ncProfile of 10 uncached renders, by {order}:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats(order).print_stats(30)


# -- Report ----------------------------------------------------------------------------------


def print_report(served, facts, rendered, seconds):
    print()
    print(
        f"1. Served: /p/{PAGE}/ from the cache vs /bare/<name>/ returning the same bytes;"
        f" gunicorn ({WORKERS} sync workers), Redis cache, PostgreSQL;"
        f" wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{RUN_SECONDS}s x {ROUNDS} rounds, alternating,"
        f" after {WARMUP_SECONDS} s warm-ups"
    )
    rounds = "".join(f"{f'round {n + 1}':>10}" for n in range(ROUNDS))
    print(f"   {'req/s':<34}{rounds}{'mean':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for result in served:
        print(
            f"   {result['title']} ({result['components']} components,"
            f" {result['bytes'] / 1000:,.0f} kB)"
        )
        for label, path in (("bare", f"/bare/{result['name']}/"), ("cached", f"/p/{PAGE}/")):
            runs = result[label]
            cells = "".join(f"{r['rps']:>10.0f}" for r in runs)
            errors = sum(r["bad"] + r["errors"] for r in runs)
            print(
                f"     {label:<7}{path:<25}{cells}"
                f"{statistics.mean(r['rps'] for r in runs):>10.0f}"
                f"{statistics.median(r['p50'] for r in runs):>9.2f}"
                f"{statistics.median(r['p99'] for r in runs):>9.2f}{errors:>8}"
            )
        ratios = "".join(
            f"{c['rps'] / b['rps']:>10.0%}"
            for b, c in zip(result["bare"], result["cached"], strict=True)
        )
        print(f"     {'cached / bare':<32}{ratios}{served_ratio(result):>10.0%}")
    ratio = served_ratio(served[0])
    verdict = "OK" if ratio >= SERVED_TARGET else "BELOW TARGET"
    if served[0]["errors"]:
        verdict = "INVALID: errors"
    print(f"   demo page cached / bare = {ratio:.1%}  (target >= {SERVED_TARGET:.0%}: {verdict})")
    print()
    print_render_report(facts, rendered)
    print(f"\n   (whole run {seconds:.0f} s)")


def print_render_report(facts, rendered):
    print(
        f"2. Rendered uncached (page version bumped before each request), in-process, PostgreSQL:"
        f" /p/{PAGE}/ grown to {facts['components']} components in {facts['groups']} groups,"
        f" {facts['history_rows']:,} history rows over {HISTORY_DAYS} days,"
        f" {facts['incidents']:,} incidents with {facts['updates']:,} updates"
        f" ({facts['recent']} in the last 14 days, {facts['unresolved']} unresolved);"
        f" data written in {facts['seconds']:.1f} s"
    )
    print(
        f"   {'':<10}{'renders':>8}{'median ms':>11}{'p90 ms':>9}{'min ms':>9}{'max ms':>9}"
        f"{'CPU ms':>9}{'SQL queries':>13}{'SQL ms':>9}{'template ms':>13}{'bytes':>12}"
    )
    cold = rendered["cold"]
    for title, figures, count in (("uncached", rendered, RENDERS), ("cold", cold, COLD_RENDERS)):
        queries = "/".join(str(q) for q in figures["queries"])
        print(
            f"   {title:<10}{count:>8}{figures['median']:>11.1f}{figures['p90']:>9.1f}"
            f"{figures['min']:>9.1f}{figures['max']:>9.1f}{figures['cpu_ms']:>9.1f}{queries:>13}"
            f"{figures['sql_ms']:>9.1f}{figures['template_ms']:>13.1f}{figures['bytes']:>12,}"
        )
    verdict = "OK" if rendered["median"] <= RENDER_TARGET_MS else "ABOVE TARGET"
    print(
        f"   uncached render (page cache out of date, the bars' finished days kept) median"
        f" {rendered['median']:.1f} ms  (target <= {RENDER_TARGET_MS} ms: {verdict})"
    )
    print(
        f"   cold render (every cache cleared: Redis flushed, this process's memos emptied)"
        f" median {cold['median']:.1f} ms  (no target: once per page and day, or after a write"
        " to history)"
    )
    print(
        f"   of the uncached render, the template (context prebuilt) {rendered['template_ms']:.1f}"
        f" ms, {rendered['template_share']:.0%} of the request (median per render)"
    )
    print(
        "   its SQL queries, median ms each: "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in rendered["each_query"])
    )
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"   load average at the end: {load} on {os.cpu_count()} CPUs (other work skews these)")


def served_ratio(result):
    bare = statistics.mean(r["rps"] for r in result["bare"])
    return statistics.mean(r["rps"] for r in result["cached"]) / bare


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
