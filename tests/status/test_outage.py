"""What visitors and editors see when PostgreSQL or Redis fails, with real parts: a PostgreSQL and
a Redis of the test's own (never the suite's), and gunicorn (two sync workers, production
settings) in front of them, spoken to over HTTP on 127.0.0.1. PostgreSQL is stopped with
`pg_ctl stop -m fast` and started again; Redis is killed and started again.

And one regeneration at a time (status/pagecache.py), in-process: many threads ask for a page
whose version just changed; one renders it, the others get the previous version.
"""

import contextlib
import http.client
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import F
from django.http import HttpResponse
from django.test import RequestFactory

from status import pagecache
from status.hosts import public_page
from status.models import Page
from tests.notifications.servers import RedisServer, port_open, wait_for
from tests.services import free_port, need, pg_bin, run_as

BASE_DIR = Path(__file__).resolve().parent.parent.parent
CUSTOM_HOST = "status.alpha.example"
CSRF_SECRET = "a" * 32  # the CSRF cookie's secret, sent back as the form's token
CONSOLE_BANNER = (
    "Heliograph cannot reach its database; your change was not saved. Try again in a minute."
)


# -- Real parts ----------------------------------------------------------------------------


class Postgres:
    """A PostgreSQL of our own that can be stopped and started again on the same port."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.user = "postgres"
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            self.user = "nobody"
        self.tmp = Path(tempfile.mkdtemp(prefix="heliograph-outage-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.tmp, self.user)
        self.data = self.tmp / "data"
        self.port = free_port()
        run_as(self.user, [self.bindir / "initdb", "-D", self.data, "-U", "heliograph",
                           "--auth=trust", "-E", "UTF8"])  # fmt: skip

    @property
    def url(self):
        return f"postgres://heliograph@127.0.0.1:{self.port}/heliograph"

    def start(self):
        options = (
            f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off"
        )
        run_as(self.user, [self.bindir / "pg_ctl", "-D", self.data, "-o", options,
                           "-l", self.tmp / "log", "-w", "start"])  # fmt: skip
        return self

    def create_database(self):
        run_as(self.user, [self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port),
                           "-U", "heliograph", "heliograph"])  # fmt: skip

    def stop(self):
        run_as(self.user, [self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])

    def running(self):
        return port_open(self.port)

    def close(self):
        if self.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                run_as(self.user, [self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate",
                                   "stop"])  # fmt: skip
        shutil.rmtree(self.tmp, ignore_errors=True)


# Run in a fresh interpreter against the test's own database: the page of tenant A as
# tests/conftest.py makes it, an incident, an API key, and a signed-in editor's session.
SEED = """
import json, django
django.setup()
from django.test import Client
from django.utils import timezone
from incidents.models import Incident
from status.models import ApiKey, Role
from tests.factories import make_page, make_tenant
tenant = make_tenant("Alpha", "alpha", [("a-editor", Role.EDITOR)], trusted=True)
page = make_page(tenant, "alpha", custom_domain="status.alpha.example",
                 domain_verified_at=timezone.now())
incident = Incident.declare(page, name="Elevated errors", body="Looking into it.", notify=False)
_key, secret = ApiKey.issue(tenant, "Automation")
client = Client()
client.force_login(tenant.memberships.get().user)
print(json.dumps({"page": page.code, "incident": incident.code, "secret": secret,
                  "session": client.cookies["sessionid"].value}))
"""


class Stack:
    """PostgreSQL, Redis and gunicorn, with the demo data of SEED."""

    def __init__(self, tmp):
        self.tmp = tmp
        bindir = pg_bin()
        if bindir is None:
            need("PostgreSQL 15 (Debian's postgresql-15)")
        if shutil.which("redis-server") is None:
            need("redis-server")
        self.postgres = Postgres(bindir).start()
        self.postgres.create_database()
        self.redis = RedisServer().start()
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": "outage-" + "x" * 50,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": f"http://127.0.0.1:{self.port}",
            "VAR_DIR": str(tmp / "var"),
            "LOG_LEVEL": "WARNING",
            # The management API's rate limit is not what these tests are about.
            "API_RATE_LIMIT_PER_SECOND": "1000",
            "API_RATE_LIMIT_BURST": "1000",
        }
        self.env.pop("TEST_REDIS_URL", None)
        manage = [sys.executable, "manage.py"]
        for command in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"]):
            subprocess.run([*manage, *command], cwd=BASE_DIR, env=self.env, check=True)
        seeded = subprocess.run([sys.executable, "-c", SEED], cwd=BASE_DIR, env=self.env,
                                check=True, capture_output=True, text=True)  # fmt: skip
        self.seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.log = tmp / "gunicorn.log"
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application",
             "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--chdir", str(BASE_DIR),
             "--log-level", "warning", "--error-logfile", str(self.log)],
            cwd=BASE_DIR, env=self.env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: self.alive() and self.get("/healthz")[0] == 200, timeout=30,
                 message="gunicorn")  # fmt: skip

    def alive(self):
        if self.gunicorn.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
        return port_open(self.port)

    def request(self, method, path, *, host=None, headers=None, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            sent = {"Host": host or "127.0.0.1", **(headers or {})}
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            return response.status, response.headers, response.read().decode()
        finally:
            conn.close()

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def api(self, method, path, payload=None):
        return self.request(
            method,
            f"/api/v1/pages/{self.seed['page']}/{path}",
            headers={"Authorization": f"OAuth {self.seed['secret']}",
                     "Content-Type": "application/json"},
            body=json.dumps(payload) if payload is not None else None,
        )  # fmt: skip

    def console_post(self, path, fields, headers=None):
        form = "&".join(
            f"{k}={v}" for k, v in {"csrfmiddlewaretoken": CSRF_SECRET, **fields}.items()
        )
        return self.request(
            "POST",
            f"/manage/{self.seed['page']}/{path}",
            headers={
                "Cookie": f"sessionid={self.seed['session']}; csrftoken={CSRF_SECRET}",
                "Content-Type": "application/x-www-form-urlencoded",
                **(headers or {}),
            },
            body=form,
        )

    def close(self):
        self.gunicorn.terminate()
        try:
            self.gunicorn.wait(15)
        except subprocess.TimeoutExpired:
            self.gunicorn.kill()
            self.gunicorn.wait()
        self.redis.close()
        self.postgres.close()


@pytest.fixture(scope="module")
def stack():
    with tempfile.TemporaryDirectory(prefix="heliograph-outage-") as tmp:
        running = Stack(Path(tmp))
        try:
            yield running
        finally:
            running.close()


def public_paths(seed):
    """(host, path) of what a visitor reads: the status page (on the main site and on the page's
    own domain), an incident, the history, a feed and the public API."""
    return [
        (None, "/p/alpha/"),
        (CUSTOM_HOST, "/"),
        (None, f"/p/alpha/incidents/{seed['incident']}/"),
        (None, "/p/alpha/history/"),
        (None, "/p/alpha/history.atom"),
        (None, "/p/alpha/api/v2/summary.json"),
        (CUSTOM_HOST, "/api/v2/incidents/unresolved.json"),
    ]


# -- PostgreSQL stops ----------------------------------------------------------------------


def test_postgresql_down_pages_keep_their_last_content_writes_get_503(stack):
    seen = {}
    for host, path in public_paths(stack.seed):
        stack.get(path, host=host)
        status, headers, body = stack.get(path, host=host)
        assert status == 200, (path, body[:500])
        seen[host, path] = body
    assert "Elevated errors" in seen[None, "/p/alpha/"]

    stack.postgres.stop()
    try:
        # Several times each, so that both gunicorn workers answer, and past the second for
        # which a process trusts what it read (PAGE_CACHE_LOCAL_SECONDS).
        for attempt in range(3):
            for (host, path), before in seen.items():
                status, headers, body = stack.get(path, host=host)
                assert status == 200, (path, status, body[:500])
                assert body == before, path
                # Past the second, from the last good copy (kept a day, not CACHE_SECONDS).
                assert headers["X-Cache"] in (("stale",) if attempt else ("hit", "stale")), path
            if attempt == 0:
                time.sleep(1.2)

        # Never seen: nothing to show, and no database to render it from (nor to tell a host
        # never seen before from one that is no page's).
        for host, path in ((None, "/p/alpha/history.rss"), (None, "/p/nowhere/"),
                           ("status.never-seen.example", "/")):  # fmt: skip
            status, headers, body = stack.get(path, host=host)
            assert status == 503, (path, body[:500])
            assert headers["Retry-After"] == "30"
            assert "cannot reach its database" in body
            assert "Traceback" not in body

        status, headers, body = stack.api("POST", "incidents", {"incident": {"name": "Lost"}})
        assert status == 503
        assert headers["Content-Type"] == "application/json"
        assert headers["Retry-After"] == "30"
        assert json.loads(body) == {"error": "unavailable", "message": CONSOLE_BANNER}
        status, _headers, body = stack.api("GET", "incidents")
        assert status == 503 and json.loads(body)["error"] == "unavailable"

        resolve = f"incidents/{stack.seed['incident']}/resolve/"
        status, headers, body = stack.console_post(resolve, {"body": "Fixed."})
        assert status == 503, body[:500]
        assert CONSOLE_BANNER in body and 'role="alert"' in body
        assert headers["Content-Type"].startswith("text/html")
        status, headers, body = stack.console_post(
            resolve, {"body": "Fixed."}, headers={"HX-Request": "true"}
        )
        assert status == 503 and CONSOLE_BANNER in body
        assert headers["HX-Retarget"] == "body"
        status, _headers, body = stack.request(
            "GET",
            f"/manage/{stack.seed['page']}/",
            headers={"Cookie": f"sessionid={stack.seed['session']}"},
        )
        assert status == 503 and "cannot be shown" in body
    finally:
        stack.postgres.start()

    # The very first write after PostgreSQL returns works: dead connections are not reused.
    status, _headers, body = stack.api(
        "POST", "incidents", {"incident": {"name": "Database restarted", "status": "resolved"}}
    )
    assert status == 201, body
    wait_for(
        lambda: "Database restarted" in stack.get("/p/alpha/history/")[2],
        timeout=5,
        message="the new incident on the public page",
    )
    assert stack.get("/p/alpha/")[0] == 200
    # The editor's session outlived the outage too.
    status, _headers, _body = stack.request(
        "GET",
        f"/manage/{stack.seed['page']}/",
        headers={"Cookie": f"sessionid={stack.seed['session']}"},
    )
    assert status == 200


def test_a_restart_nobody_noticed_costs_no_failed_write(stack):
    # Every worker holds a connection (CONN_MAX_AGE), which the restart kills while idle.
    for _ in range(6):
        assert stack.api("GET", "incidents")[0] == 200
    stack.postgres.stop()
    stack.postgres.start()

    status, _headers, body = stack.api("POST", "incidents", {"incident": {"name": "Unnoticed"}})
    assert status == 201, body
    for _ in range(6):
        assert stack.api("GET", "incidents")[0] == 200


# -- Redis stops ---------------------------------------------------------------------------


def test_redis_down_pages_render_from_the_database(stack):
    for host, path in public_paths(stack.seed):
        assert stack.get(path, host=host)[0] == 200

    stack.redis.stop()
    try:
        for host, path in public_paths(stack.seed):
            started = time.monotonic()
            status, _headers, body = stack.get(path, host=host)
            assert status == 200, (path, status, body[:500])
            assert "Alpha" in body
            assert time.monotonic() - started < 2, path
        status, _headers, body = stack.api(
            "POST", "incidents", {"incident": {"name": "Cache gone", "status": "investigating"}}
        )
        assert status == 201, body
        wait_for(
            lambda: "Cache gone" in stack.get("/p/alpha/")[2],
            timeout=5,
            message="the write on the page rendered from the database",
        )
    finally:
        stack.redis.start()

    def cached_again():
        # Both workers: every answer shows the write, and the cache serves it again. (A render
        # lock left behind by a Redis call that timed out may show the previous version for
        # up to pagecache.RENDER_LOCK_SECONDS, hence waiting rather than asking once.)
        answers = [stack.get("/p/alpha/") for _ in range(4)]
        return all("Cache gone" in body for _status, _headers, body in answers) and any(
            headers["X-Cache"] == "hit" for _status, headers, _body in answers
        )

    wait_for(cached_again, timeout=15, message="the write, cached again once Redis is back")


# -- One regeneration at a time -------------------------------------------------------------

renders = []


@public_page
def slow_page(request, page):
    """A public page that takes a while to render, and counts its renders."""
    renders.append(page.version)
    time.sleep(0.3)
    return HttpResponse(f"version {page.version}")


def ask(slug="alpha"):
    request = RequestFactory().get(f"/p/{slug}/slow/")
    try:
        return slow_page(request, page_slug=slug)
    finally:
        connection.close()


def changed_elsewhere(page):
    """A write made by another process: the version moves, and this process only notices."""
    Page.objects.filter(pk=page.pk).update(version=F("version") + 1)
    pagecache.forget_version(page.pk)
    page.refresh_from_db()


@pytest.fixture
def fresh():
    renders.clear()
    pagecache.clear_local()
    yield
    pagecache.clear_local()


def answers_of(threads):
    results = [None] * threads
    start = threading.Barrier(threads)

    def run(index):
        start.wait()
        results[index] = ask()

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_one_request_renders_a_new_version_the_others_get_the_previous(tenant_a, fresh):
    page = tenant_a.page
    page.refresh_from_db()
    first = ask()
    assert first["X-Cache"] == "miss" and renders == [page.version]

    changed_elsewhere(page)
    results = answers_of(8)

    assert renders == [page.version - 1, page.version], "the new version rendered once"
    bodies = sorted(r.content.decode() for r in results)
    assert bodies.count(f"version {page.version}") == 1
    assert bodies.count(f"version {page.version - 1}") == 7
    for response in results:
        if response["X-Cache"] == "stale":
            # The previous version is for now only: no shared cache may keep it.
            assert "s-maxage" not in response["Cache-Control"]
            assert "CDN-Cache-Control" not in response
    # Once rendered, everyone gets the new version.
    assert ask().content.decode() == f"version {page.version}"
    assert ask()["X-Cache"] == "hit"


@pytest.mark.django_db(transaction=True)
def test_without_a_previous_version_the_waiting_requests_render_too(tenant_a, fresh):
    tenant_a.page.refresh_from_db()
    results = answers_of(3)
    # Nothing older to show: nobody is kept waiting, nobody gets an error.
    assert [r.status_code for r in results] == [200] * 3
    assert {r.content.decode() for r in results} == {f"version {tenant_a.page.version}"}
    assert len(renders) == 3


@pytest.mark.django_db(transaction=True)
def test_the_writing_process_never_gets_the_previous_version(tenant_a, fresh):
    page = tenant_a.page
    ask()
    assert len(renders) == 1
    page.bump_version()  # this process wrote
    page.refresh_from_db()
    # Another process holds the lock of the new version's render.
    request = RequestFactory().get("/p/alpha/slow/")
    assert pagecache.claim_render(request, page.pk)
    response = ask()
    assert response.content.decode() == f"version {page.version}"
    assert response["X-Cache"] == "miss" and len(renders) == 2
