"""What the `make bench` scripts share: wrk (installed when missing), loading a URL with it,
fetching a URL, Django set up in this process on a throwaway PostgreSQL (and Redis), with the
demo loaded when asked, a process started and stopped around a block (gunicorn as deployed, a
Celery worker, the scheduler)."""

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.services import apt_install, free_port, postgres, redis

BASE_DIR = Path(__file__).resolve().parent.parent
# gunicorn's sync workers, as deploy/gunicorn.conf.py (the web node as deployed) has them: two a
# core unless WEB_CONCURRENCY says otherwise.
WORKERS = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) * 2)
WRK_THREADS, WRK_CONNECTIONS = 2, 16


def logger(name):
    def log(message):
        print(f"[{name}] {message}", file=sys.stderr, flush=True)

    return log


log = logger("bench")


def have_wrk():
    """Whether wrk can be run, installing Debian's package when it is missing (as root)."""
    if shutil.which("wrk") is None and not apt_install("wrk"):
        log("wrk is not installed and could not be installed (Debian package `wrk`)")
        return False
    return True


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own loopback URL)
        return response.status, response.headers, response.read()


def wrk(url, seconds, script=None):
    """wrk's figures for `url` over `seconds` (with the Lua `script` file, if given): requests/s,
    requests in all, p50 and p99 in ms, non-2xx/3xx answers ("bad") and socket errors (which
    include its 2-second timeouts)."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency",
               *(["-s", str(script)] if script else []), url]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    try:
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        errors = re.search(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
        )
        return {
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "requests": int(re.search(r"(\d+) requests in", output).group(1)),
            "p50": duration_ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1)),
            "p99": duration_ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1)),
            "bad": int(bad.group(1)) if bad else 0,
            "errors": sum(int(n) for n in errors.groups()) if errors else 0,
        }
    except AttributeError:
        raise RuntimeError(f"cannot read wrk's output:\n{output}") from None


def duration_ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


# Settings every benchmark runs Django with (production settings otherwise); each adds its own.
BENCH_ENVIRONMENT = {
    "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdefghijklmnop",
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "LOG_LEVEL": "WARNING",
}


@contextlib.contextmanager
def django_on_services(settings_module="config.settings", *, with_redis=True, **environment):
    """Django set up in this process on a throwaway PostgreSQL and, `with_redis`, Redis, with
    BENCH_ENVIRONMENT and `environment` in os.environ (which the processes it starts inherit),
    migrated: yields (database URL, Redis URL or None), or None when a server cannot be had."""
    with (
        postgres() as database_url,
        redis() if with_redis else contextlib.nullcontext("") as redis_url,
    ):
        if not database_url or (with_redis and not redis_url):
            log("PostgreSQL 15" + (" and Redis are" if with_redis else " is")
                + " needed (see tests/services.py)")  # fmt: skip
            yield None
            return
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": settings_module,
                "DATABASE_URL": database_url,
                **({"REDIS_URL": redis_url} if with_redis else {}),
                **BENCH_ENVIRONMENT,
                **environment,
            }
        )
        import django

        django.setup()
        from django.core.management import call_command

        log("migrating")
        call_command("migrate", verbosity=0)
        yield database_url, redis_url or None


@contextlib.contextmanager
def django_with_demo(prefix, settings_module="config.settings", **environment):
    """django_on_services() serving 127.0.0.1 with static files collected and the demo loaded:
    yields (a temporary folder, a free port for the server), or None when PostgreSQL or Redis
    cannot be had. `environment` adds to the server's environment variables."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        port = free_port()
        tmp = Path(tmp)
        with django_on_services(
            settings_module,
            ALLOWED_HOSTS="127.0.0.1",
            SITE_URL=f"http://127.0.0.1:{port}",
            VAR_DIR=str(tmp / "var"),
            **environment,
        ) as services:
            if services is None:
                yield None
                return
            from django.core.management import call_command

            log("collecting static files, creating the demo pages")
            call_command("collectstatic", verbosity=0, interactive=False)
            call_command("demo", stdout=io.StringIO())
            yield tmp, port


@contextlib.contextmanager
def running(what, command, logfile, ready, *, timeout=30, log_output=True):
    """`command` started from the repository (with this process's environment) until the block
    ends, once `ready(logfile)` says it is: yields the Popen. Its output goes to `logfile`
    (unless `log_output` is false: the process writes the file itself); it is terminated at the
    end (killed if it does not stop within 15 s). Raises RuntimeError, with the end of the log,
    when it exits or is not ready within `timeout` seconds."""
    with open(logfile, "a") if log_output else contextlib.nullcontext() as out:
        process = subprocess.Popen(  # noqa: S603
            [str(part) for part in command],
            cwd=BASE_DIR,
            stdout=out if log_output else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log_output else None,
        )
    try:
        deadline = time.monotonic() + timeout
        while not ready(logfile):
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited; see {logfile}:\n{read(logfile)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} was not ready in {timeout} s:\n{read(logfile)}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def gunicorn(port, logfile):
    """gunicorn with the web node's own settings (deploy/gunicorn.conf.py: WORKERS sync
    workers) serving the site on 127.0.0.1:`port` with the environment django_with_demo()
    set, until the block ends."""

    def answers(_logfile):
        with contextlib.suppress(OSError):
            return fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200
        return False

    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--config", BASE_DIR / "deploy" / "gunicorn.conf.py",
        "--bind", f"127.0.0.1:{port}", "--workers", WORKERS,
        "--chdir", BASE_DIR, "--log-level", "warning", "--error-logfile", logfile,
    ]  # fmt: skip
    with running("gunicorn", command, logfile, answers, log_output=False):
        log(f"gunicorn ({WORKERS} sync workers) on 127.0.0.1:{port}")
        yield logfile


def read(path):
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
