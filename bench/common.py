"""What the `make bench` scripts share: wrk (installed when missing), loading a URL with it,
fetching a URL, and Django set up on a throwaway PostgreSQL and Redis with the demo loaded,
served by gunicorn when asked."""

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


def wrk(url, seconds):
    """wrk's figures for `url` over `seconds`: requests/s, p50 and p99 in ms, non-2xx/3xx
    answers ("bad") and socket errors (which include its 2-second timeouts)."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    try:
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        errors = re.search(
            r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
        )
        return {
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
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


@contextlib.contextmanager
def django_with_demo(prefix, settings_module="config.settings", **environment):
    """Django with production settings on a throwaway PostgreSQL (the database) and Redis (the
    cache), migrated, static files collected and the demo loaded: yields (a temporary folder,
    a free port for the server), or None when PostgreSQL or Redis cannot be had. `environment`
    adds to the server's environment variables."""
    with (
        postgres() as database_url,
        redis() as redis_url,
        tempfile.TemporaryDirectory(prefix=prefix) as tmp,
    ):
        if not database_url or not redis_url:
            log("PostgreSQL 15 and Redis are needed (see tests/services.py)")
            yield None
            return
        port = free_port()
        tmp = Path(tmp)
        os.environ.update(
            DJANGO_SETTINGS_MODULE=settings_module,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            SECRET_KEY="bench-" + "x" * 50,
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",
            ALLOWED_HOSTS="127.0.0.1",
            SITE_URL=f"http://127.0.0.1:{port}",
            VAR_DIR=str(tmp / "var"),
            LOG_LEVEL="WARNING",
            **environment,
        )
        import django

        django.setup()
        from django.core.management import call_command

        log("migrating, collecting static files, creating the demo pages")
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        call_command("demo", stdout=io.StringIO())
        yield tmp, port


@contextlib.contextmanager
def gunicorn(port, logfile):
    """gunicorn with the web node's own settings (deploy/gunicorn.conf.py: WORKERS sync
    workers) serving the site on 127.0.0.1:`port` with the environment django_with_demo()
    set, until the block ends."""
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--config", str(BASE_DIR / "deploy" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
        "--chdir", str(BASE_DIR), "--log-level", "warning", "--error-logfile", str(logfile),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=BASE_DIR, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {logfile}:\n{read(logfile)}")
            with contextlib.suppress(OSError):
                if fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer in 30 s:\n{read(logfile)}")
            time.sleep(0.1)
        log(f"gunicorn ({WORKERS} sync workers) on 127.0.0.1:{port}")
        yield logfile
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def read(path):
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
