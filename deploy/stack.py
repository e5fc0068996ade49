"""`make stack`: the whole production stack on this machine, thrown away on Ctrl-C.

    python -m deploy.stack [--port 8080]
    python -m deploy.stack nginx-conf --upstream HOST:PORT [--upstream ...] --static DIR
        [--cache DIR] [--listen 80] [--server-name NAME] [--access-log PATH]

The first starts, in a temporary folder: PostgreSQL 15, two Redis servers (the broker, which
keeps every message, and the cache, with maxmemory and allkeys-lru), a local SMTP sink writing
a Maildir, two gunicorn web nodes, two Celery workers, Celery beat, and nginx in front of the
web nodes with deploy/nginx.conf. It migrates, collects static files, loads the demo, prints
the URLs, and on Ctrl-C or SIGTERM stops everything and removes the folder. PostgreSQL, Redis
and nginx come from Debian's packages, installed when missing (as root).

The second prints deploy/nginx.conf filled in for a production machine (see deploy/README.md).

`Stack` is also what tests/stack/ and bench/stack.py start; it can stop and start PostgreSQL
and Redis and kill a web node, for the fault tests.
"""

import argparse
import contextlib
import grp
import logging
import mailbox
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from tests.services import apt_install, free_port, pg_bin, run_as

BASE_DIR = Path(__file__).resolve().parent.parent
NGINX_TEMPLATE = BASE_DIR / "deploy" / "nginx.conf"
GUNICORN_CONFIG = BASE_DIR / "deploy" / "gunicorn.conf.py"
NODES = 2
WORKERS = 2
WEB_WORKERS_PER_NODE = 2
CACHE_MAXMEMORY = "256mb"
# A web node is skipped this long after it failed once (nginx's max_fails / fail_timeout).
UPSTREAM_OPTIONS = "max_fails=1 fail_timeout=5s"


def log(message):
    print(f"[stack {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def render_nginx(
    *,
    upstreams,
    static_root,
    cache_dir,
    listen="80",
    server_name="_",
    access_log="/var/log/nginx/heliograph.access.log",
    upstream_options=UPSTREAM_OPTIONS,
):
    """deploy/nginx.conf with its placeholders filled in."""
    values = {
        "UPSTREAM_SERVERS": "\n".join(
            f"    server {address} {upstream_options};" for address in upstreams
        ),
        "STATIC_ROOT": str(static_root).rstrip("/"),
        "CACHE_DIR": str(cache_dir),
        "LISTEN": str(listen),
        "SERVER_NAME": server_name,
        "ACCESS_LOG": str(access_log),
    }
    text = NGINX_TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    if re.search(r"@@[A-Z_]+@@", text):
        raise ValueError("deploy/nginx.conf has a placeholder render_nginx does not fill")
    return text


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def port_open(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def http_status(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback URL)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def tail(path, size=3000):
    return Path(path).read_text(errors="replace")[-size:] if Path(path).exists() else ""


class Process:
    """A server process in a session of its own (Ctrl-C reaches the stack, which stops it in
    order), its output in a log file."""

    def __init__(self, name, command, *, env, logfile, cwd=BASE_DIR, stop_signal=signal.SIGTERM):
        self.name, self.command, self.env, self.logfile, self.cwd = name, command, env, logfile, cwd
        # What stops it at once: SIGQUIT for gunicorn and Celery (SIGTERM waits for requests
        # and tasks to finish, which a throwaway stack need not).
        self.stop_signal = stop_signal
        self.process = None

    def start(self):
        with open(self.logfile, "ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 (our own commands)
                [str(part) for part in self.command],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def running(self):
        return self.process is not None and self.process.poll() is None

    def check(self):
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{tail(self.logfile)}")

    def kill(self):
        """kill -9 of the process and every process it started: a machine lost."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def ask_to_stop(self):
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, self.stop_signal)

    def stop(self, timeout=5):
        if not self.running():
            return
        self.ask_to_stop()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        # Whatever the group left behind (a worker's child).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


class Postgres:
    """PostgreSQL 15 in `folder`, which can be stopped and started again on the same port."""

    def __init__(self, folder):
        self.bindir = pg_bin()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL 15 is not installed and could not be installed")
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.user = "postgres"
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            self.user = "nobody"
        self.url = f"postgres://heliograph@127.0.0.1:{self.port}/heliograph"

    def create(self):
        self.folder.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.folder, self.user)
        initdb = [self.bindir / "initdb", "-D", self.data, "-U", "heliograph", "--auth=trust"]
        run_as(self.user, [*initdb, "-E", "UTF8"])
        self.start()
        host = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "heliograph"]
        run_as(self.user, [self.bindir / "createdb", *host, "heliograph"])

    def start(self):
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
            " -c max_connections=200 -c fsync=off -c synchronous_commit=off"
        )
        pg_ctl = [self.bindir / "pg_ctl", "-D", self.data, "-o", options]
        run_as(self.user, [*pg_ctl, "-l", self.folder / "log", "-w", "start"])

    def stop(self, mode="fast"):
        run_as(self.user, [self.bindir / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])

    def running(self):
        return (self.data / "postmaster.pid").exists()


class Redis(Process):
    """A Redis server that keeps nothing on disk: stopped and started, it comes back empty."""

    def __init__(self, name, folder, *, env, extra=()):
        self.port = free_port()
        binary = shutil.which("redis-server")
        if binary is None and apt_install("redis-server"):
            binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed and could not be installed")
        command = [binary, "--port", self.port, "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", folder, *extra]  # fmt: skip
        super().__init__(name, command, env=env, logfile=folder / f"{name}.log")
        self.url = f"redis://127.0.0.1:{self.port}"

    def start(self):
        super().start()
        wait_until(lambda: port_open(self.port), 10, f"{self.name} to listen")
        return self


class SmtpSink:
    """An SMTP server on 127.0.0.1 keeping every message in a Maildir (aiosmtpd)."""

    def __init__(self, maildir):
        self.maildir = maildir
        self.port = free_port()
        self.controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=self.port)
        self.url = f"smtp://127.0.0.1:{self.port}"

    def start(self):
        # aiosmtpd logs every SMTP command at INFO.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.controller.start()
        return self

    def stop(self):
        with contextlib.suppress(Exception):
            self.controller.stop()

    def messages(self):
        return list(mailbox.Maildir(self.maildir, create=False))


def find_nginx():
    for attempt in range(2):
        found = shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
        )
        if found or attempt or not apt_install("nginx"):
            return found
    return None


class Stack:
    """Every process of the production stack, on free loopback ports under a temporary folder.

    `env` adds to (or overrides) the environment every Heliograph process gets; `nginx_extra`
    (text, or a function of the stack returning it) is added inside nginx's http{} block
    (bench/stack.py serves a file with it).
    """

    def __init__(self, port=8080, *, env=None, nginx_extra="", nodes=NODES, workers=WORKERS):
        self.port = port
        self.extra_env = env or {}
        self.nginx_extra = nginx_extra
        self.node_count, self.worker_count = nodes, workers
        self.processes = []
        self.nodes, self.workers = [], []
        self.folder = None
        self.postgres = self.sink = self.nginx = None

    # -- start and stop ------------------------------------------------------------------

    def __enter__(self):
        # A SIGTERM (a test run or a bench stopped) would end this process without a word to
        # the servers it started: it becomes a KeyboardInterrupt, which stops them first.
        self.previous_sigterm = None
        if threading.current_thread() is threading.main_thread():
            self.previous_sigterm = signal.signal(signal.SIGTERM, interrupt)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        if self.previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self.previous_sigterm)

    def start(self):
        nginx = find_nginx()
        if nginx is None:
            raise RuntimeError("nginx is not installed and could not be installed")
        self.folder = Path(tempfile.mkdtemp(prefix="heliograph-stack-"))
        self.folder.chmod(0o755)  # nginx's workers (nobody) read the static files under it
        self.logs = self.folder / "logs"
        self.logs.mkdir()
        self.maildir = self.folder / "mail"
        self.var = self.folder / "var"

        self.postgres = Postgres(self.folder / "postgres")
        log(f"PostgreSQL on 127.0.0.1:{self.postgres.port}")
        self.postgres.create()
        base_env = dict(os.environ)
        self.broker = Redis("redis-broker", self.logs, env=base_env)
        self.cache = Redis(
            "redis-cache",
            self.logs,
            env=base_env,
            extra=["--maxmemory", CACHE_MAXMEMORY, "--maxmemory-policy", "allkeys-lru"],
        )
        self.broker.start()
        self.cache.start()
        self.processes += [self.broker, self.cache]
        log(f"Redis: broker on :{self.broker.port}, cache on :{self.cache.port}")
        self.sink = SmtpSink(self.maildir).start()
        log(f"SMTP sink on 127.0.0.1:{self.sink.port}, writing {self.maildir}")

        self.node_ports = [free_port() for _ in range(self.node_count)]
        self.base = f"http://127.0.0.1:{self.port}"
        self.metrics_token = secrets.token_urlsafe(24)
        self.env = self.app_env()

        log("migrating, collecting static files, loading the demo")
        self.manage("migrate", "--noinput")
        log("collecting static files")
        self.manage("collectstatic", "--noinput")
        log("loading the demo")
        # The demo's sign-in (demo / demo) is made only with DEBUG on: for this command only.
        self.manage("demo", env={"DEBUG": "true"})
        log("starting nginx, the web nodes, the workers and beat")

        for number, port in enumerate(self.node_ports, 1):
            self.nodes.append(self.web_node(number, port).start())
        for number in range(1, self.worker_count + 1):
            celery = [Path(sys.executable).with_name("celery"), "-A", "config"]
            worker = Process(
                f"worker{number}",
                [*celery, "worker", "-l", "info", "-c", "2", "-n", f"worker{number}@%h"],
                env=self.env,
                logfile=self.logs / f"worker{number}.log",
                stop_signal=signal.SIGQUIT,
            )
            self.workers.append(worker.start())
        celery = [Path(sys.executable).with_name("celery"), "-A", "config"]
        self.beat = Process(
            "beat",
            [*celery, "beat", "-l", "info", "-s", self.folder / "beat-schedule"],
            env=self.env,
            logfile=self.logs / "beat.log",
            stop_signal=signal.SIGQUIT,
        ).start()
        self.processes += [*self.nodes, *self.workers, self.beat]
        self.nginx = self.start_nginx(nginx)
        self.processes.append(self.nginx)

        for node in self.nodes:
            wait_until(lambda node=node: self.node_ready(node), 60, f"{node.name} to answer")
        for worker in self.workers:
            wait_until(
                lambda worker=worker: worker.check() or " ready." in tail(worker.logfile, 100_000),
                60,
                f"{worker.name} to be ready",
            )
        wait_until(lambda: http_status(f"{self.base}/healthz") == 200, 30, "nginx to answer")
        log("up")
        return self

    def stop(self):
        started = time.monotonic()
        # nginx first (no new requests), then every other process at once.
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.ask_to_stop()
                if process is self.nginx:
                    process.stop()
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop()
        if self.sink is not None:
            self.sink.stop()
        if self.postgres is not None and self.postgres.running():
            with contextlib.suppress(Exception):
                self.postgres.stop("immediate")
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            log(f"stopped in {time.monotonic() - started:.1f} s, {self.folder} removed")

    # -- the parts -------------------------------------------------------------------------

    def app_env(self):
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("EMAIL_", "CELERY_", "DJANGO_", "TEST_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONUNBUFFERED="1",
            DATABASE_URL=self.postgres.url,
            # The broker and the cache: separate servers, so that the cache may evict
            # (allkeys-lru) while the broker keeps every message (noeviction).
            REDIS_URL=f"{self.broker.url}/0",
            REDIS_CACHE_URL=f"{self.cache.url}/1",
            SECRET_KEY=secrets.token_urlsafe(50),
            DEBUG="false",
            # Plain HTTP on 127.0.0.1: no redirect to https, no HSTS, cookies without Secure.
            SECURE_SSL_REDIRECT="false",
            SECURE_HSTS_SECONDS="0",
            SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
            # nginx, in front: the visitor's address comes from its X-Forwarded-For.
            TRUSTED_PROXIES="127.0.0.1",
            # and its micro-cache keeps bodies on a page boundary (config/cache_alignment.py).
            NGINX_CACHE_ALIGN="true",
            SITE_URL=self.base,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            # Pages on http://<slug>.localhost:<port>/ (browsers resolve *.localhost locally).
            PUBLIC_BASE_DOMAIN="localhost",
            VAR_DIR=str(self.var),
            EMAIL_URL=self.sink.url,
            # The tests' webhook receiver listens on 127.0.0.1.
            WEBHOOKS_ALLOW_PRIVATE_IPS="true",
            METRICS_TOKEN=self.metrics_token,
            LOG_LEVEL="INFO",
        )
        env.update(self.extra_env)
        return env

    def manage(self, *args, env=None, check=True):
        """Run `manage.py args` with the stack's environment; returns its stdout."""
        result = subprocess.run(  # noqa: S603 (our own command)
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def web_node(self, number, port):
        metrics_dir = self.folder / f"metrics-web{number}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", GUNICORN_CONFIG,
                   "--bind", f"127.0.0.1:{port}", "--workers", WEB_WORKERS_PER_NODE]  # fmt: skip
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        logfile = self.logs / f"web{number}.log"
        node = Process(
            f"web{number}", command, env=env, logfile=logfile, stop_signal=signal.SIGQUIT
        )
        node.port = port
        return node

    def node_ready(self, node):
        node.check()
        return http_status(f"http://127.0.0.1:{node.port}/healthz") == 200

    def restart_node(self, index):
        """Start web node `index` again (after kill()), and wait until it answers."""
        node = self.nodes[index]
        node.stop()
        node.start()
        wait_until(lambda: self.node_ready(node), 60, f"{node.name} to answer again")

    def start_nginx(self, binary):
        folder = self.folder / "nginx"
        folder.mkdir()
        cache = folder / "cache"
        cache.mkdir()
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / name).mkdir()
        user = ""
        if os.geteuid() == 0:
            # nginx's master runs as root; its workers drop to nobody, who must write here.
            nobody = pwd.getpwnam("nobody")
            user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
            for path in [folder, *folder.iterdir()]:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        site = render_nginx(
            upstreams=[f"127.0.0.1:{port}" for port in self.node_ports],
            static_root=self.var / "static",
            cache_dir=cache,
            listen=f"127.0.0.1:{self.port}",
            server_name="_",
            access_log=self.logs / "nginx-access.log",
        )
        (folder / "heliograph.conf").write_text(site)
        mime = Path("/etc/nginx/mime.types")
        types = f"include {mime};" if mime.exists() else "types { text/html html; }"
        (folder / "nginx.conf").write_text(
            f"""daemon off;
{user}
worker_processes auto;
pid {folder}/nginx.pid;
error_log {self.logs}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    {types}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/heliograph.conf;
    {self.nginx_extra(self) if callable(self.nginx_extra) else self.nginx_extra}
}}
"""
        )
        command = [binary, "-p", folder, "-c", folder / "nginx.conf", "-e",
                   self.logs / "nginx-error.log"]  # fmt: skip
        test = subprocess.run(  # noqa: S603
            [str(part) for part in [*command, "-t"]], capture_output=True, text=True
        )
        if test.returncode != 0:
            raise RuntimeError(f"nginx refuses its configuration:\n{test.stderr}")
        nginx = Process("nginx", command, env=dict(os.environ), logfile=self.logs / "nginx.log")
        nginx.start()
        wait_until(lambda: nginx.check() or port_open(self.port), 10, "nginx to listen")
        return nginx

    # -- faults ------------------------------------------------------------------------------

    def stop_redis(self):
        self.broker.stop()
        self.cache.stop()

    def start_redis(self):
        self.broker.start()
        self.cache.start()

    # -- what to tell the operator ------------------------------------------------------------

    def urls(self):
        base = self.base
        return f"""
Heliograph's production stack is up (nginx in front of {len(self.nodes)} gunicorn nodes).

  Status pages    {base}/p/acme/   {base}/p/jelou/
                  http://acme.localhost:{self.port}/   (a page on its own host)
  Public API v2   {base}/p/acme/api/v2/summary.json
  Console         {base}/manage/   (sign in as demo / demo)
  Admin           {base}/admin/
  Health          {base}/healthz   {base}/readyz
  Metrics         curl -H 'Authorization: Bearer {self.metrics_token}' {base}/metrics
  Web nodes       {"   ".join(f"http://127.0.0.1:{node.port}/" for node in self.nodes)}
  Mail (Maildir)  {self.maildir}/new/   (every email sent, one file each)
  Logs            {self.logs}/
  PostgreSQL      {self.postgres.url}
  Redis           broker {self.broker.url}/0, cache {self.cache.url}/1

nginx answers with X-Cache-Status (MISS, HIT, STALE, UPDATING, BYPASS). Ctrl-C stops
everything and removes {self.folder}.
"""


def interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(port):
    # Ctrl-C, even when started where SIGINT is ignored (in the background of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    stack = Stack(port)
    try:
        stack.start()
        print(stack.urls(), flush=True)
        while True:
            for process in stack.processes:
                process.check()
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping")
    except RuntimeError as error:
        log(str(error))
        return 1
    finally:
        stack.stop()
    return 0


def main(argv):
    if argv[:1] == ["nginx-conf"]:
        parser = argparse.ArgumentParser(prog="python -m deploy.stack nginx-conf")
        parser.add_argument("--upstream", action="append", required=True, help="HOST:PORT")
        parser.add_argument("--static", required=True, help="STATIC_ROOT (collectstatic)")
        parser.add_argument("--cache", default="/var/cache/nginx/heliograph")
        parser.add_argument("--listen", default="80")
        parser.add_argument("--server-name", default="_")
        parser.add_argument("--access-log", default="/var/log/nginx/heliograph.access.log")
        args = parser.parse_args(argv[1:])
        print(
            render_nginx(
                upstreams=args.upstream,
                static_root=args.static,
                cache_dir=args.cache,
                listen=args.listen,
                server_name=args.server_name,
                access_log=args.access_log,
            ),
            end="",
        )
        return 0
    parser = argparse.ArgumentParser(prog="python -m deploy.stack")
    parser.add_argument("--port", type=int, default=int(os.environ.get("STACK_PORT") or 8080))
    args = parser.parse_args(argv)
    return serve(args.port)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
