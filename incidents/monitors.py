"""Built-in monitors: running their checks, recording results, and telling their integration.

- Scheduling: `schedule_due` (incidents.tasks.schedule_monitors, every 2 s in Celery beat and in
  `manage.py run_scheduler`) claims the due monitors with SELECT … FOR UPDATE SKIP LOCKED (two
  schedulers never claim the same one), moves each one's next due time on by its interval, and
  sends their checks in batches as tasks (`run_checks`). A monitor whose previous check is still
  running (its lease, `running_since`, not yet over) is skipped this time and the skip counted:
  a check that overruns its interval is never queued twice.
- Checks: HTTP(S) through requests-hardened (private, loopback and link-local addresses refused
  at connect time unless settings.WEBHOOKS_ALLOW_PRIVATE_IPS, as for webhooks; redirects never
  followed: a 3xx passes only when the expected range includes it), TCP connects to a checked
  address, and heartbeats (`ping`, from incidents/pings.py; late when no ping came within
  period + grace). Every check has its own timeouts.
- Results: each is a MonitorResult; response times go to the monitor's status Metric (minute,
  hour and day roll-ups). `failures_to_trip` failures in a row fire the monitor's alert through
  incidents/alerts.py (`receive`, with the first failure as the alert's start, so the
  integration's hold-down counts from it); `successes_to_recover` good checks resolve it. A check
  slower than `latency_threshold_ms` counts towards a second alert, "slow", that sets degraded
  performance.
"""

import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from requests_hardened import Config, Manager
from requests_hardened.ip_filter import InvalidIPAddress, get_ip_address

from incidents.alerts import Notice, receive
from incidents.models import AlertState, Monitor, MonitorKind, MonitorResult
from status.addresses import PublicAddressAdapter, is_public_address, resolve
from status.models import ComponentStatus

log = logging.getLogger(__name__)

USER_AGENT = "Heliograph-Monitor/1.0"
BODY_MAX_BYTES = 1024 * 1024  # read for the keyword
CLAIM_MAX = 2000  # monitors claimed per scheduler run
BATCH_SIZE = 20  # checks per task
BATCH_THREADS = 20  # checks of a batch run at once (they wait on the network)
ERROR_MAX = 500


# Which addresses we call ---------------------------------------------------------------------


def allow_private():
    return settings.WEBHOOKS_ALLOW_PRIVATE_IPS


def check_public_host(host, port):
    """ValidationError unless every address `host` resolves to is public (or private ones are
    allowed)."""
    if allow_private():
        return
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise ValidationError(f"{host} does not resolve to an address; check the name.") from None
    refused = [a for a in addresses if not is_public_address(a)]
    if refused or not addresses:
        raise ValidationError(
            f"{host} resolves to {', '.join(refused) or 'nothing'}, a private, loopback,"
            " link-local or reserved address. Monitors only call public internet addresses."
        )


def validate_target(monitor):
    """The monitor's URL or host, checked as webhooks' endpoints are when saved: http(s) only,
    and public addresses only. Raises ValidationError."""
    field = "url" if monitor.kind == MonitorKind.HTTP else "host"
    try:
        if monitor.kind == MonitorKind.HTTP:
            URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")(
                monitor.url
            )
            parts = urlsplit(monitor.url)
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                raise ValidationError("The port is not a number from 1 to 65535.") from None
            check_public_host(parts.hostname or "", port)
        elif monitor.kind == MonitorKind.TCP and monitor.host and monitor.port:
            check_public_host(monitor.host, monitor.port)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None


# Checks ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    latency_ms: float | None = None
    status_code: int | None = None
    error: str = ""


_sessions = {}


def http_session():
    """One hardened session per process and setting (requests-hardened: the name is resolved
    once and the address checked at connect time; never a redirect; no proxy from the
    environment, which would bypass the check)."""
    private = allow_private()
    session = _sessions.get(private)
    if session is None:
        session = Manager(
            Config(
                default_timeout=(10, 10),
                never_redirect=True,
                ip_filter_enable=not private,
                ip_filter_allow_loopback_ips=False,
                user_agent_override=USER_AGENT,
            )
        ).get_session()
        if not private:
            for prefix, https in (("http://", False), ("https://", True)):
                session.mount(prefix, PublicAddressAdapter(is_https_proto=https))
        for adapter in set(session.adapters.values()):
            adapter.init_poolmanager(100, BATCH_THREADS)
        session.trust_env = False
        _sessions[private] = session
    return session


def check_http(monitor):
    timeout = monitor.timeout_seconds
    start = time.monotonic()
    try:
        response = http_session().request(
            monitor.method,
            monitor.url,
            allow_redirects=False,
            stream=True,
            timeout=(timeout, timeout),
        )
    except InvalidIPAddress as error:
        return Outcome(False, error=f"Refused: a private or reserved address ({error}).")
    except requests.Timeout:
        return Outcome(False, error=f"Timed out after {timeout} s.")
    except requests.RequestException as error:
        return Outcome(False, error=f"{error.__class__.__name__}: {error}")
    latency = (time.monotonic() - start) * 1000
    status = response.status_code
    try:
        if not monitor.expected_status_min <= status <= monitor.expected_status_max:
            expected = f"{monitor.expected_status_min}–{monitor.expected_status_max}"
            return Outcome(False, latency, status, f"HTTP {status}, expected {expected}.")
        if monitor.keyword and monitor.method != "HEAD":
            body = read_body(response, start + timeout)
            if monitor.keyword.encode() not in body:
                why = f"The keyword “{monitor.keyword}” is not in the first MiB of the answer."
                return Outcome(False, latency, status, why)
        return Outcome(True, latency, status)
    except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as error:
        return Outcome(False, latency, status, f"Reading the answer failed: {error}")
    finally:
        response.close()


def read_body(response, deadline):
    """At most BODY_MAX_BYTES of the answer, read before `deadline` (monotonic)."""
    content = b""
    for chunk in response.iter_content(16384):
        content += chunk
        if len(content) >= BODY_MAX_BYTES or time.monotonic() > deadline:
            break
    return content[:BODY_MAX_BYTES]


def check_tcp(monitor):
    timeout = monitor.timeout_seconds
    start = time.monotonic()
    try:
        if allow_private():
            address = monitor.host
        else:
            address = str(get_ip_address(monitor.host, monitor.port, allow_loopback=False)[0])
            if not is_public_address(address):
                raise InvalidIPAddress(address)
        with socket.create_connection((address, monitor.port), timeout=timeout):
            pass
    except InvalidIPAddress as error:
        return Outcome(False, error=f"Refused: a private or reserved address ({error}).")
    except TimeoutError:
        return Outcome(False, error=f"Timed out after {timeout} s.")
    except (OSError, UnicodeError) as error:
        return Outcome(False, error=f"{error.__class__.__name__}: {error}")
    return Outcome(True, (time.monotonic() - start) * 1000)


def check_heartbeat(monitor, now):
    """Late when no ping came within period + grace of the last one (or of the monitor's
    start)."""
    since = monitor.last_ping_at or monitor.created_at
    allowed = timedelta(seconds=monitor.heartbeat_period_seconds + monitor.heartbeat_grace_seconds)
    if now - since > allowed:
        return Outcome(False, error=f"No ping since {since.isoformat(timespec='seconds')}.")
    return Outcome(True)


def probe(monitor, now=None):
    """Run the monitor's check (network: outside any transaction)."""
    try:
        if monitor.kind == MonitorKind.HTTP:
            return check_http(monitor)
        if monitor.kind == MonitorKind.TCP:
            return check_tcp(monitor)
        return check_heartbeat(monitor, now or timezone.now())
    except Exception as error:  # a check must record something whatever happens
        log.exception("monitor %s: the check failed", monitor.code)
        return Outcome(False, error=f"Check error: {error.__class__.__name__}")


# Scheduling ------------------------------------------------------------------------------------


def next_due(monitor, due_at, now):
    """The next due time after `now`, keeping the monitor's phase."""
    interval = timedelta(seconds=monitor.interval_seconds)
    following = due_at + interval
    if following <= now:
        missed = (now - following) // interval + 1
        following += missed * interval
    return following


def schedule_due(*, send, now=None):
    """Claim the due monitors and send their checks (see the module's docstring): `send` is
    called on commit with each batch [(monitor id, due at iso)] (incidents.tasks sends them
    as tasks). Returns {"claimed": n, "skipped": n}."""
    now = now or timezone.now()
    claimed, skipped = [], 0
    with transaction.atomic():
        due = list(
            Monitor.objects.due(now)
            .select_for_update(skip_locked=True)
            .order_by("next_due_at")
            .only(
                "id",
                "kind",
                "interval_seconds",
                "timeout_seconds",
                "next_due_at",
                "running_since",
                "skipped_checks",
                "last_skipped_at",
            )[:CLAIM_MAX]
        )
        for monitor in due:
            due_at = monitor.next_due_at
            monitor.next_due_at = next_due(monitor, due_at, now)
            lease = timedelta(seconds=monitor.lease_seconds())
            if monitor.running_since is not None and monitor.running_since + lease > now:
                monitor.skipped_checks += 1
                monitor.last_skipped_at = now
                skipped += 1
                continue
            monitor.running_since = now
            claimed.append((monitor.id, due_at.isoformat()))
        Monitor.objects.bulk_update(
            due, ["next_due_at", "running_since", "skipped_checks", "last_skipped_at"]
        )
        if claimed:
            batches = [claimed[n : n + BATCH_SIZE] for n in range(0, len(claimed), BATCH_SIZE)]
            transaction.on_commit(lambda: [send(batch) for batch in batches])
    if skipped:
        log.warning("monitors: %d check(s) skipped, the previous one still running", skipped)
    return {"claimed": len(claimed), "skipped": skipped}


def run_batch(batch):
    """Run the checks of a batch [(monitor id, due at iso)] at once and record each."""
    due = {monitor_id: datetime.fromisoformat(at) for monitor_id, at in batch}
    monitors = list(Monitor.objects.filter(pk__in=due, enabled=True).select_related("metric"))
    started = {}

    def timed(monitor):
        started[monitor.id] = timezone.now()
        return probe(monitor, started[monitor.id])

    outcomes = []
    if monitors:
        # Each check's timeouts bound each wait on its socket, not the whole check (a server may
        # trickle its answer a byte at a time): the batch waits for the checks at most their
        # lease's check time, and a check still running then is a failure. Its thread is left
        # to end with its connection; nothing it finds is recorded.
        pool = ThreadPoolExecutor(min(len(monitors), BATCH_THREADS))
        futures = [pool.submit(timed, monitor) for monitor in monitors]
        wait(futures, timeout=max(m.check_seconds() for m in monitors))
        pool.shutdown(wait=False, cancel_futures=True)
        for monitor, future in zip(monitors, futures, strict=True):
            if future.done() and not future.cancelled() and future.exception() is None:
                outcomes.append(future.result())
            else:
                if future.done() and not future.cancelled():
                    log.error("monitor %s: the check failed", monitor.code,
                              exc_info=future.exception())  # fmt: skip
                started.setdefault(monitor.id, timezone.now())
                outcomes.append(Outcome(False, error=(
                    f"The check did not finish within {monitor.check_seconds()} s (the answer"
                    " came too slowly)."
                )))  # fmt: skip
    record_batch(
        [(monitor, outcome, started[monitor.id], due[monitor.id])
         for monitor, outcome in zip(monitors, outcomes, strict=True)]
    )  # fmt: skip
    gone = set(due) - {m.id for m in monitors}
    if gone:
        Monitor.objects.filter(pk__in=gone).update(running_since=None)
    return len(monitors)


# Recording -------------------------------------------------------------------------------------


def record(monitor, outcome, *, at, due_at=None):
    """Store one result (see record_batch); returns the monitor as saved."""
    return record_batch([(monitor, outcome, at, due_at)])[0]


# What every result changes on its monitor (a result is no edit: updated_at stays).
RECORDED_FIELDS = ["last_checked_at", "last_ok", "last_latency_ms", "last_error", "running_since"]


def record_batch(checks):
    """Store the results of checks [(monitor, outcome, at, due at)] in one transaction: a
    result row each, the response time into the monitor's metric, and each monitor's alerts
    fired or resolved when a streak says so. Returns the monitors as saved."""
    now = timezone.now()
    with transaction.atomic():
        ids = [monitor.pk for monitor, *_ in checks]
        locked = Monitor.objects.select_for_update().in_bulk(ids)
        MonitorResult.objects.bulk_create(
            MonitorResult(monitor_id=monitor.pk, at=at, due_at=due_at, ok=outcome.ok,
                          latency_ms=outcome.latency_ms, status_code=outcome.status_code,
                          error=outcome.error[:ERROR_MAX])
            for monitor, outcome, at, due_at in checks
            if monitor.pk in locked and locked[monitor.pk].enabled
        )  # fmt: skip
        saved = []
        for monitor, outcome, at, _due_at in checks:
            current = locked.get(monitor.pk)
            if current is None or not current.enabled:
                # Deleted, or paused while its check ran (pausing gave its component back).
                continue
            current.last_checked_at = at
            current.last_ok = outcome.ok
            current.last_latency_ms = outcome.latency_ms
            current.last_error = outcome.error[:ERROR_MAX]
            current.running_since = None
            if may_change(current, outcome):
                notices = judge(current)
                if notices:
                    Monitor.objects.filter(pk=current.pk).update(
                        reported_down=current.reported_down, reported_slow=current.reported_slow
                    )
                    receive(current.integration, notices, now=now)
            saved.append(current)
            # In the batch's transaction: one commit for the whole batch.
            # The metric as the locked row names it (deleting a metric clears that link,
            # which waits for this lock).
            if outcome.latency_ms is not None and current.metric_id:
                current.metric.record(round(outcome.latency_ms, 3), at=at)
        Monitor.objects.bulk_update(saved, RECORDED_FIELDS)
    return saved


def may_change(monitor, outcome):
    """Whether this outcome can complete a streak that changes what the monitor reports (most
    checks cannot: a good check of a monitor that is up)."""
    if outcome.ok == monitor.reported_down:
        return True
    slow = is_slow(monitor, outcome)
    if monitor.reported_slow:
        return not slow or not monitor.latency_threshold_ms
    return slow


def is_slow(monitor, result):
    threshold = monitor.latency_threshold_ms
    return bool(
        result.ok and threshold and result.latency_ms is not None and result.latency_ms > threshold
    )


def judge(monitor):
    """The notices the latest results call for (and the monitor's reported flags set)."""
    # A heartbeat is down once it is late, and up at its next ping (healthchecks.io's model).
    heartbeat = monitor.kind == MonitorKind.HEARTBEAT
    trip = 1 if heartbeat else monitor.failures_to_trip
    recover = 1 if heartbeat else monitor.successes_to_recover
    wanted = max(trip, recover)
    latest = list(monitor.results.order_by("-at", "-id")[:wanted])
    notices = []

    def streak(n, test):
        run = latest[:n]
        return run if len(run) == n and all(test(r) for r in run) else None

    if not monitor.reported_down:
        run = streak(trip, lambda r: not r.ok)
        if run:
            monitor.reported_down = True
            notices.append(down_notice(monitor, True, run[-1].at))
    else:
        run = streak(recover, lambda r: r.ok)
        if run:
            monitor.reported_down = False
            notices.append(down_notice(monitor, False, run[-1].at))
    if monitor.latency_threshold_ms or monitor.reported_slow:
        if not monitor.reported_slow:
            run = streak(monitor.failures_to_trip, lambda r: is_slow(monitor, r))
            if run:
                monitor.reported_slow = True
                notices.append(slow_notice(monitor, True, run[-1].at))
        else:
            run = streak(monitor.successes_to_recover, lambda r: r.ok and not is_slow(monitor, r))
            if run or not monitor.latency_threshold_ms:
                monitor.reported_slow = False
                notices.append(slow_notice(monitor, False, run[-1].at if run else timezone.now()))
    return notices


def down_notice(monitor, firing, at):
    return Notice(
        key=monitor.alert_key,
        firing=firing,
        labels={"monitor": monitor.code},
        name=f"{monitor.name} is down"[:200],
        starts_at=at if firing else monitor_alert_start(monitor, monitor.alert_key, at),
        ends_at=None if firing else at,
    )


def slow_notice(monitor, firing, at):
    status = ComponentStatus.DEGRADED_PERFORMANCE
    return Notice(
        key=monitor.slow_alert_key,
        firing=firing,
        labels={"monitor": monitor.code, "status": status},
        name=f"{monitor.name} is slow"[:200],
        starts_at=at if firing else monitor_alert_start(monitor, monitor.slow_alert_key, at),
        ends_at=None if firing else at,
        status=status,
    )


def monitor_alert_start(monitor, key, fallback):
    alert = monitor.integration.alerts.filter(key=key).exclude(state=AlertState.RESOLVED).first()
    return alert.starts_at if alert else fallback


def release(monitor, now=None):
    """Resolve whatever the monitor's alerts hold (it is paused or deleted): its component goes
    back as when the service recovers."""
    now = now or timezone.now()
    notices = []
    if monitor.reported_down:
        notices.append(down_notice(monitor, False, now))
    if monitor.reported_slow:
        notices.append(slow_notice(monitor, False, now))
    monitor.reported_down = monitor.reported_slow = False
    if notices:
        receive(monitor.integration, notices, now=now)


# What the interfaces call ----------------------------------------------------------------------


def create(page, *, by=None, **fields):
    """A new monitor: fields validated, its URL or host checked (ValidationError)."""
    validate_target(Monitor(page=page, **fields))
    return Monitor.create(page, by=by, **fields)


TARGET_FIELDS = ("kind", "url", "host", "port")


def lock(monitor):
    return Monitor.objects.select_for_update().select_related("integration").get(pk=monitor.pk)


def edit(monitor, *, by, **changes):
    """Change a monitor (a new URL or host is checked again; ValidationError, nothing saved);
    pausing it resolves its alerts, as does dropping its latency threshold for its "slow" one.
    Returns the monitor as saved."""
    if any(name in changes and changes[name] != getattr(monitor, name) for name in TARGET_FIELDS):
        validate_target(Monitor(**{n: changes.get(n, getattr(monitor, n)) for n in TARGET_FIELDS}))
    with transaction.atomic():
        locked = lock(monitor)
        if changes.get("enabled") is False and locked.enabled:
            release(locked)
        elif (
            locked.reported_slow
            and "latency_threshold_ms" in changes
            and not changes["latency_threshold_ms"]
        ):
            receive(locked.integration, [slow_notice(locked, False, timezone.now())])
            locked.reported_slow = False
        return locked.edit(by=by, **changes)


def remove(monitor, *, by):
    """Delete a monitor, its alerts resolved first (its component goes back)."""
    with transaction.atomic():
        locked = lock(monitor)
        release(locked)
        locked.remove(by=by)


def ping(token, now=None):
    """A heartbeat's job called its ping URL: the monitor, or None for an unknown token."""
    now = now or timezone.now()
    if not token or len(token) > 40:
        return None
    with transaction.atomic():
        monitor = (
            Monitor.objects.select_for_update()
            .select_related("integration")
            .filter(ping_token=token, kind=MonitorKind.HEARTBEAT)
            .first()
        )
        if monitor is None:
            return None
        monitor.last_ping_at = now
        fields = ["last_ping_at", "updated_at"]
        if monitor.enabled:
            # The next check is due when this ping's period and grace are over.
            monitor.next_due_at = monitor.first_due_at(now)
            fields.append("next_due_at")
        monitor.save(update_fields=fields)
        if monitor.enabled:
            record(monitor, Outcome(True), at=now)
    return monitor


def prune_results(now=None):
    """Delete results older than MONITOR_RESULTS_RETENTION_DAYS; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.MONITOR_RESULTS_RETENTION_DAYS)
    return MonitorResult.objects.filter(at__lt=cutoff).delete()[0]
