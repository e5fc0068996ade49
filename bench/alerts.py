"""`make bench`: Alertmanager webhooks under load, and how soon a firing alert shows.

    .venv/bin/python -m bench.alerts

On throwaway PostgreSQL and Redis, with production settings and gunicorn as bench/common.py
starts it (deploy/gunicorn.conf.py: two sync workers a core; Redis cache and Celery broker), one
Celery worker (prefork, WORKER_CONCURRENCY processes) applying what the hook queued, a page of 10
components and one Alertmanager integration (hold-down 0; one rule per component by the
`service` label, critical → major outage, warning → degraded performance).

The hook accepts, then applies (incidents/hooks.py): "accepted" is a request answered 202 and
recorded in the request log as queued; "applied" is the Celery task having applied it (its
outcome replaces "Queued"). Both are measured: requests/s accepted during the load, then how
long after the load until no request is queued any more and the page shows what they say.

1. First sightings: the first ALERTS bodies, each bringing a new alert (most firing, and so
   changing the page), posted once each by NEW_CONNECTIONS concurrent connections; requests/s
   accepted, then seconds until all are applied.
2. Accepted: wrk posts realistic Alertmanager v4 bodies (a group of 1 to 5 alerts of one
   service, common labels, annotations, groupKey) to the hook for RUN_SECONDS, cycling through
   the other BODIES - ALERTS: repeats of the alerts (Alertmanager re-sends a group's alerts on
   every change and repeat_interval), resolutions, and firing notices made stale by them, in
   whatever order wrk's connections deliver them. Prints requests/s accepted beside the target
   (>= 500/s) and every answer's status; then the seconds until every queued request is
   applied, and checks that the public page, fetched as a visitor would (through the page
   cache), shows each component as the alerts say: the worst
   status of its alerts recorded as firing, operational when none; and, when every body was
   sent, as the bodies say (an alert with a resolved notice among them is resolved). Prints
   how many processing tasks the worker ran for how many requests (one task is queued per
   integration at a time, however many requests arrive). And the CPU time gunicorn, the Celery
   worker, PostgreSQL and Redis spent per accepted request, from the start of the load until
   all of it was applied: on a shared machine requests/s fall with the others' load, this
   much less; the cores divided by it estimates what the machine would take on its own.
3. Reaches the page: SAMPLES times, a new firing alert (hold-down 0) is posted for a component
   and /p/<page>/ polled every POLL_SECONDS until the component shows its status (through the
   queue, the worker and the page cache), then the
   alert resolved and polled until it is back. Prints the median and the worst beside the
   target (<= 2 s).

Exits 1 when a measurement saw errors (a non-2xx answer, a socket error, a page that never
shows the alerts' statuses), not when a target is missed: this measures, it does not test.
"""

import contextlib
import json
import os
import random
import re
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

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
    running,
    wrk,
)

SLUG = "alerting"
SERVICES = 10
ALERTS = 300  # distinct alerts (fingerprints), 30 per service
BODIES = 1000
RUN_SECONDS = 15
SAMPLES = 10
NEW_CONNECTIONS = 16
POLL_SECONDS = 0.02
SETTLE_SECONDS = 10
RATE_TARGET = 500
WORKER_CONCURRENCY = 2
APPLY_SECONDS = 120
REACH_TARGET_SECONDS = 2.0
SEVERITY_STATUS = {"critical": "major_outage", "warning": "degraded_performance"}
SEVERITY_RANK = {"operational": 0, "degraded_performance": 2, "major_outage": 4}


log = logger("bench.alerts")


def main():
    if not have_wrk():
        return 1
    with django_with_demo("heliograph-bench-alerts-") as ready:
        if ready is None:
            return 1
        tmp, port = ready
        hook_path, components = make_page()
        base = f"http://127.0.0.1:{port}"
        bodies, expected = make_bodies(components)
        script = tmp / "alertmanager.lua"
        script.write_text(lua_script(bodies[ALERTS:]))

        with (
            celery_worker(tmp / "worker.log") as worker_log,
            gunicorn(port, tmp / "gunicorn.log") as logfile,
        ):
            fetch(f"{base}/p/{SLUG}/")
            log(f"first sightings: {ALERTS} bodies, {NEW_CONNECTIONS} connections")
            new = first_sightings(f"{base}{hook_path}", bodies[:ALERTS])
            new["applied"] = queue_drains()
            log(f"{BODIES - ALERTS} bodies of repeats and resolutions: wrk {RUN_SECONDS} s")
            tasks_before = tasks_run(worker_log)
            cpu_before = cpu_by_part()
            load = wrk(f"{base}{hook_path}", RUN_SECONDS, script=script)
            load["applied"] = queue_drains()
            load["cpu"] = cpu_spent(cpu_before, cpu_by_part())
            load["tasks"] = tasks_run(worker_log) - tasks_before
            log("waiting for the public page to show what the alerts say")
            everything = load["requests"] >= (BODIES - ALERTS) * WRK_THREADS
            truth = expected if everything else recorded()
            shown, settled = page_settles(base, truth)
            log("for scale: wrk on /healthz, which touches nothing")
            healthz = wrk(f"{base}/healthz", 5)
            log(f"{SAMPLES} alerts firing and resolving, each polled on the public page")
            reach = reach_times(base, hook_path, components)
            failed = (
                new["bad"] or load["bad"] or load["errors"] or settled is None or reach is None
                or new["applied"] is None or load["applied"] is None
            )  # fmt: skip
            if failed:
                log(f"errors; gunicorn's log ends with:\n{read(logfile)}")
                log(f"the worker's log ends with:\n{read(worker_log)}")
        report(new, load, healthz, everything, truth, shown, settled, reach)
    return 1 if failed else 0


def make_page():
    """The page, its components and the integration; returns the hook's path and
    {service: component name}."""
    from incidents.models import Integration
    from status.models import ComponentStatus
    from tests.factories import make_component, make_empty_page

    page = make_empty_page(SLUG, "Alerting Inc.")
    components = {}
    rules = []
    for n in range(SERVICES):
        component = make_component(page, f"Service {n:02d}", position=n)
        components[f"svc{n:02d}"] = component.name
        rules.append(
            {
                "match": {"service": f"svc{n:02d}"},
                "component": component,
                "status": ComponentStatus.PARTIAL_OUTAGE,
                "severity_statuses": dict(SEVERITY_STATUS),
            }
        )
    _integration, secret = Integration.create(
        page, kind="alertmanager", name="Prometheus", hold_down_seconds=0, rules=rules
    )
    return f"/hooks/{secret}/", components


def alert_json(service, number, severity, firing, start, end):
    return {
        "status": "firing" if firing else "resolved",
        "labels": {"alertname": "HighErrorRate", "service": service, "severity": severity,
                   "instance": f"{service}-{number}:8080", "job": service, "team": "core"},
        "annotations": {"summary": "High request error rate",
                        "description": f"5xx rate above 5% on {service}-{number}:8080"},
        "startsAt": start.isoformat().replace("+00:00", "Z"),
        "endsAt": end.isoformat().replace("+00:00", "Z") if not firing
        else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=job%3Aerrors",
        "fingerprint": f"{service}-{number:04d}",
    }  # fmt: skip


def group_json(service, alerts):
    firing = any(alert["status"] == "firing" for alert in alerts)
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="HighErrorRate", service="{service}"}}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "heliograph",
        "groupLabels": {"alertname": "HighErrorRate", "service": service},
        "commonLabels": {"alertname": "HighErrorRate", "service": service, "team": "core"},
        "commonAnnotations": {"summary": "High request error rate"},
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": alerts,
    }


def make_bodies(components):
    """BODIES request bodies, the first ALERTS each bringing a new alert, and {component name:
    the status the bodies give it} once all of them have arrived, in any order."""
    rng = random.Random(14)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    end = start + timedelta(minutes=20)
    alerts = []  # (service, number, severity, resolved by a later body)
    for n in range(ALERTS):
        service = f"svc{n % SERVICES:02d}"
        alerts.append((service, n, rng.choice(["critical", "warning"]), rng.random() < 0.3))
    by_service = {}
    for alert in alerts:
        by_service.setdefault(alert[0], []).append(alert)
    # Each alert that resolves has its resolved notice in one body after the first ALERTS.
    resolutions = {(a[0], a[1]): rng.randrange(ALERTS, BODIES) for a in alerts if a[3]}
    bodies = []
    for n in range(BODIES):
        if n < ALERTS:
            service, chosen = alerts[n][0], [alerts[n]]  # its first sighting: firing
        else:
            service = rng.choice(sorted(by_service))
            chosen = rng.sample(by_service[service], rng.randint(1, 5))
        notices = []
        for svc, number, severity, resolves in chosen:
            resolved = (
                n >= ALERTS and resolves and (resolutions[svc, number] == n or rng.random() < 0.3)
            )
            notices.append(alert_json(svc, number, severity, not resolved, start, end))
        for (svc, number), at in resolutions.items():
            if at == n and svc == service and all(x[1] != number for x in chosen):
                severity = alerts[number][2]
                notices.append(alert_json(svc, number, severity, False, start, end))
        bodies.append(json.dumps(group_json(service, notices)))
    expected = {}
    for service, name in components.items():
        firing = [SEVERITY_STATUS[sev] for svc, _n, sev, resolves in alerts
                  if svc == service and not resolves]  # fmt: skip
        expected[name] = worst(firing)
    return bodies, expected


def worst(statuses):
    return max(statuses, key=SEVERITY_RANK.get, default="operational")


def recorded():
    """{component name: status} as the alerts recorded firing say (their labels, by the rules'
    mapping), independently of the effects the hook derived from them."""
    from incidents.models import Alert, AlertState

    firing = {}
    for labels in Alert.objects.filter(state=AlertState.FIRING).values_list("labels", flat=True):
        if labels.get("service", "").startswith("svc"):
            firing.setdefault(labels["service"], []).append(SEVERITY_STATUS[labels["severity"]])
    return {f"Service {n:02d}": worst(firing.get(f"svc{n:02d}", [])) for n in range(SERVICES)}


@contextlib.contextmanager
def celery_worker(logfile):
    """A Celery worker (prefork, WORKER_CONCURRENCY processes) with the environment
    django_with_demo() set, applying what the hook queues, until the block ends."""
    command = [Path(sys.executable).with_name("celery"), "-A", "config", "worker",
               "--pool", "prefork", "-c", WORKER_CONCURRENCY, "-l", "info", "--without-gossip",
               "--without-mingle", "--without-heartbeat"]  # fmt: skip
    with running("the Celery worker", command, logfile, lambda f: " ready." in read(f), timeout=60):
        log(f"Celery worker ({WORKER_CONCURRENCY} processes) ready")
        yield logfile


def tasks_run(logfile):
    """How many hook-processing tasks the worker has finished."""
    text = logfile.read_text(errors="replace")
    return len(
        re.findall(r"Task incidents\.tasks\.process_alert_requests\[[^]]+\] succeeded", text)
    )


def cpu_by_part():
    """CPU seconds used so far by what serves and applies the hook, {part: seconds}: gunicorn,
    the Celery worker, PostgreSQL and Redis, each with its child processes (Linux /proc; {}
    elsewhere). The machine may be shared: this counts our processes' work only, which the
    others' load does not change much, where requests/s drop with it."""
    if not Path("/proc/self/stat").exists():
        return {}
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        postmaster = process_stat(cursor.fetchone()[0])["ppid"]
    with redis.Redis.from_url(os.environ["REDIS_URL"]) as client:
        roots = {"PostgreSQL": [postmaster], "Redis": [client.info("server")["process_id"]]}
    for pid in children(os.getpid()):
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        for part, name in (("web (gunicorn)", b"gunicorn"), ("applier (Celery)", b"celery")):
            if name in command:
                roots.setdefault(part, []).append(pid)
    return {part: sum(tree_cpu(pid) for pid in pids) for part, pids in roots.items()}


def process_stat(pid):
    """ppid and CPU seconds (its own and its reaped children's) of a process, from /proc."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    ticks = sum(int(n) for n in fields[11:15])  # utime stime cutime cstime
    return {"ppid": int(fields[1]), "cpu": ticks / os.sysconf("SC_CLK_TCK")}


def children(pid):
    return [int(n) for n in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def tree_cpu(pid):
    with contextlib.suppress(OSError):
        return process_stat(pid)["cpu"] + sum(tree_cpu(child) for child in children(pid))
    return 0.0  # it exited meanwhile


def cpu_spent(before, after):
    return {part: after[part] - before.get(part, 0.0) for part in after}


def queue_drains():
    """Seconds until no hook request is queued (all applied), or None after APPLY_SECONDS."""
    from incidents.models import REQUEST_QUEUED, IntegrationRequest

    started = time.monotonic()
    while IntegrationRequest.objects.filter(outcome=REQUEST_QUEUED).exists():
        if time.monotonic() - started > APPLY_SECONDS:
            return None
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def first_sightings(url, bodies):
    """Post each body once from NEW_CONNECTIONS threads; requests/s accepted and the count of
    answers other than 202."""
    started = time.monotonic()
    with ThreadPoolExecutor(NEW_CONNECTIONS) as pool:
        answers = list(pool.map(lambda body: post_raw(url, body), bodies))
    seconds = time.monotonic() - started
    return {"rps": len(bodies) / seconds, "bad": sum(1 for a in answers if a != 202)}


def post_raw(url, body):
    request = urllib.request.Request(  # noqa: S310 (our own loopback URL)
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except (OSError, urllib.error.HTTPError) as error:
        return getattr(error, "code", type(error).__name__)


def lua_script(bodies):
    """wrk's script: POST the bodies in turn (each thread from its own offset)."""
    items = ",\n".join(f"[==[{body}]==]" for body in bodies)
    return f"""
local bodies = {{
{items}
}}
local counter = 0
local threads = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function setup(thread)
  thread:set("offset", threads * 350)
  threads = threads + 1
end
function request()
  counter = counter + 1
  local n = ((counter + (offset or 0)) % #bodies) + 1
  return wrk.format(nil, nil, nil, bodies[n])
end
"""


def statuses_on_page(base):
    """{component name: status} as the public status page shows them."""
    _status, _headers, body = fetch(f"{base}/p/{SLUG}/")
    html = body.decode()
    found = {}
    for match in re.finditer(r'<span class="name">([^<]+)', html):
        status = re.search(r'class="status status-([a-z_]+)"', html[match.end() :])
        if status and match.group(1).startswith("Service "):
            found.setdefault(match.group(1).strip(), status.group(1))
    return found


def page_settles(base, expected):
    """How long until the page shows `expected`, or None when it does not in SETTLE_SECONDS."""
    started = time.monotonic()
    while True:
        shown = statuses_on_page(base)
        if shown == expected:
            return shown, time.monotonic() - started
        if time.monotonic() - started > SETTLE_SECONDS:
            return shown, None
        time.sleep(POLL_SECONDS)


def post_json(url, body):
    request = urllib.request.Request(  # noqa: S310 (our own loopback URL)
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status


def wait_for(base, name, status):
    started = time.monotonic()
    while statuses_on_page(base).get(name) != status:
        if time.monotonic() - started > SETTLE_SECONDS:
            return None
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def reach_times(base, hook_path, components):
    """Seconds from posting a firing alert, then its resolution, to the page showing it."""
    # A service of its own, so that no alert of the load holds its component.
    from incidents.models import Integration
    from status.models import Page
    from tests.factories import make_component

    page = Page.objects.get(slug=SLUG)
    component = make_component(page, "Service probe", position=SERVICES)
    integration = Integration.objects.get(page=page)
    rules = [
        {"match": {"service": "probe"}, "component": component, "status": "partial_outage",
         "severity_statuses": dict(SEVERITY_STATUS)},
        *[{"match": r.match, "component": r.component, "status": r.status,
           "severity_statuses": r.severity_statuses} for r in integration.rules.all()],
    ]  # fmt: skip
    integration.edit(by=None, rules=rules)
    url = f"{base}{hook_path}"
    if wait_for(base, component.name, "operational") is None:
        return None
    times = []
    for n in range(SAMPLES):
        start = datetime.now(UTC) - timedelta(seconds=1)
        firing = alert_json("probe", n, "critical", True, start, start)
        if post_json(url, group_json("probe", [firing])) != 202:
            return None
        shown = wait_for(base, component.name, "major_outage")
        resolved = alert_json("probe", n, "critical", False, start, datetime.now(UTC))
        if shown is None or post_json(url, group_json("probe", [resolved])) != 202:
            return None
        back = wait_for(base, component.name, "operational")
        if back is None:
            return None
        times += [shown, back]
    return times


def report(new, load, healthz, everything, truth, shown, settled, reach):
    print()
    print(
        f"Alertmanager hook: gunicorn ({WORKERS} sync workers), production settings, Redis"
        f" cache, PostgreSQL; {SERVICES} components, {ALERTS} alerts, {BODIES} bodies of"
        " 1-5 alerts"
    )
    met = "met" if new["rps"] >= RATE_TARGET else "MISSED"
    print(
        f"  first sightings ({ALERTS} bodies, each a new alert, {NEW_CONNECTIONS} connections):"
        f" {new['rps']:.0f} requests/s accepted (202; target >= {RATE_TARGET}/s: {met}),"
        f" other answers {new['bad']}; all applied {seconds(new['applied'])} after the last"
    )
    met = "met" if load["rps"] >= RATE_TARGET else "MISSED"
    print(
        f"  repeats and resolutions (wrk {WRK_THREADS} threads, {WRK_CONNECTIONS} connections,"
        f" {RUN_SECONDS} s): {load['rps']:.0f} requests/s accepted (target >= {RATE_TARGET}/s:"
        f" {met}); p50 {load['p50']:.1f} ms, p99 {load['p99']:.1f} ms; {load['requests']}"
        f" requests, non-2xx {load['bad']}, socket errors {load['errors']}"
    )
    print(
        f"  applied: the last of the {load['requests']} requests {seconds(load['applied'])}"
        f" after the load ended; {load['tasks']} processing task(s) had finished by then (one is"
        " queued per integration at a time)"
    )
    if load["cpu"]:
        per_request = {
            part: seconds * 1000 / load["requests"] for part, seconds in load["cpu"].items()
        }
        total = sum(per_request.values())
        parts = ", ".join(f"{part} {ms:.2f}" for part, ms in sorted(per_request.items()))
        print(
            f"  CPU per accepted request, load and applying together: {total:.2f} ms ({parts});"
            f" {os.cpu_count()} cores given to these alone would take about"
            f" {os.cpu_count() * 1000 / total:.0f} requests/s (an estimate: this machine may be"
            " shared, and the requests/s above are what was measured)"
        )
    print(
        f"  for scale, the same gunicorn answers /healthz (no database, no cache) at"
        f" {healthz['rps']:.0f} requests/s"
    )
    against = "every body's alerts" if everything else "the alerts recorded (not every body sent)"
    if settled is None:
        wrong = {k: (shown.get(k), v) for k, v in truth.items() if shown.get(k) != v}
        print(f"  the page does NOT show what {against} say (shown, expected): {wrong}")
    else:
        kinds = ", ".join(f"{n} {s}" for s, n in sorted(Counter(truth.values()).items()))
        print(
            f"  afterwards the public page shows every component as {against} say ({kinds}),"
            f" {settled:.2f} s after the last request was applied"
        )
    if reach is None:
        print("  firing to page: a sample never showed on the page")
    else:
        slowest = max(reach)
        target = "met" if slowest <= REACH_TARGET_SECONDS else "MISSED"
        print(
            f"  an alert firing (or resolving) to the public page, {len(reach)} samples:"
            f" median {statistics.median(reach):.2f} s, worst {slowest:.2f} s"
            f" (target <= {REACH_TARGET_SECONDS:g} s: {target})"
        )


def seconds(value):
    return "NEVER (queued requests left)" if value is None else f"{value:.2f} s"


if __name__ == "__main__":
    sys.exit(main())
