"""Throwaway servers for the test suite, on free loopback ports, removed afterwards.

    python -m tests.services pytest [args…]

starts PostgreSQL 15 (binaries from /usr/lib/postgresql/15/bin, or PG_BIN) and Redis, runs the
command with DATABASE_URL pointing at PostgreSQL (the whole suite runs on it) and TEST_REDIS_URL
at Redis (for the tests that need a broker), then stops both. What is missing is installed from
Debian's packages when we are root. With CI=true a server that cannot be had is an error;
elsewhere the tests that need it are skipped and say why.
"""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

PG_BIN_CANDIDATES = ["/usr/lib/postgresql/15/bin"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(what):
    """In a test that needs `what` (a server, a command) and has not got it: skip it, and say
    why; in CI, where every test must run, fail it."""
    if IN_CI:
        pytest.fail(f"this test needs {what}, and CI must not skip it")
    pytest.skip(f"needs {what}")


def log(message):
    print(f"[services] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def apt_install(*packages):
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    log(f"installing {' '.join(packages)} from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", *packages], env=env, capture_output=True
    )
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-qq", *packages], env=env, capture_output=True
        )
    return result.returncode == 0


def pg_bin():
    candidates = [os.environ.get("PG_BIN", "")] + PG_BIN_CANDIDATES
    for attempt in range(2):
        for directory in candidates:
            if directory and Path(directory, "initdb").exists():
                return Path(directory)
        if attempt == 0 and not apt_install("postgresql-15"):
            break
    return None


def run_as(user, command, **kwargs):
    """PostgreSQL refuses to run as root; when we are root, run it as `user`."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", user, "--", *command]
    return subprocess.run(command, check=True, capture_output=True, **kwargs)


@contextlib.contextmanager
def postgres():
    bindir = pg_bin()
    if bindir is None:
        yield None
        return
    user = "postgres"
    try:
        pwd.getpwnam(user)
    except KeyError:
        user = "nobody"
    tmp = Path(tempfile.mkdtemp(prefix="heliograph-pg-"))
    data = tmp / "data"
    if os.geteuid() == 0:
        shutil.chown(tmp, user)
    port = free_port()
    run_as(
        user,
        [bindir / "initdb", "-D", data, "-U", "heliograph", "--auth=trust", "-E", "UTF8"],
    )
    # Durability is not what the tests are about; these make the suite several times faster.
    options = (
        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    run_as(user, [bindir / "pg_ctl", "-D", data, "-o", options, "-l", tmp / "log", "-w", "start"])
    try:
        host = ["-h", "127.0.0.1", "-p", str(port), "-U", "heliograph"]
        run_as(user, [bindir / "createdb", *host, "heliograph"])
        log(f"PostgreSQL on 127.0.0.1:{port}")
        yield f"postgres://heliograph@127.0.0.1:{port}/heliograph"
    finally:
        run_as(user, [bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop"])
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def redis():
    binary = shutil.which("redis-server")
    if binary is None and apt_install("redis-server"):
        binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    tmp = Path(tempfile.mkdtemp(prefix="heliograph-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        log(f"Redis on 127.0.0.1:{port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def chromium():
    """Debian's chromium for the browser tests (Playwright drives it; it downloads nothing)."""
    if not shutil.which("chromium"):
        apt_install("chromium")


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    chromium()
    with postgres() as database_url, redis() as redis_url:
        env = dict(os.environ)
        if database_url:
            env["DATABASE_URL"] = database_url
        else:
            message = "PostgreSQL 15 is not installed and could not be installed"
            if IN_CI:
                log(f"{message}: failing (CI=true)")
                return 1
            log(f"{message}: running on SQLite, PostgreSQL-only tests are skipped")
        if redis_url:
            env["TEST_REDIS_URL"] = redis_url
        elif IN_CI:
            log("Redis is not installed and could not be installed: failing (CI=true)")
            return 1
        return subprocess.call(argv, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
