"""`make bench`: the status page through nginx's micro-cache against nginx serving a file.

    .venv/bin/python -m bench.stack

Starts the production stack (deploy/stack.py: nginx, two gunicorn nodes, Celery, PostgreSQL,
Redis), saves the bytes of /p/acme/ as nginx serves them, and loads, with wrk on 127.0.0.1,
alternately: the page through nginx (the micro-cache answers; every 5 s one request refreshes
it in the background while the others get the previous copy), and the same bytes as a static
file from the same nginx (a second server block). Prints both and their ratio against the
target (>= 0.8). Exits 1 when wrk saw errors, not when the target is missed.
"""

import sys
import tempfile
import time
from pathlib import Path

from bench.common import WRK_CONNECTIONS, WRK_THREADS, fetch, have_wrk, log, wrk
from deploy.stack import Stack
from tests.services import free_port

TARGET = 0.8
WARMUP_SECONDS, RUN_SECONDS, ROUNDS = 3, 10, 2
PAGE = "/p/acme/"


def file_server(stack, port, files):
    """A server block of the same nginx serving `files`, set up as the page's server is where
    it matters: logging alike, the same open file cache as its cached pages, no version in the
    Server header."""
    return (
        f"server {{ listen 127.0.0.1:{port}; root {files}; server_tokens off;"
        f" access_log {stack.logs}/nginx-file-access.log heliograph buffer=64k flush=1s;"
        f" location / {{ default_type text/html;"
        f" open_file_cache max=10000 inactive=30s; open_file_cache_valid 5s; }} }}"
    )


def main():
    started = time.monotonic()
    if not have_wrk():
        return 1
    with tempfile.TemporaryDirectory(prefix="heliograph-bench-files-") as files:
        files = Path(files)
        files.chmod(0o755)  # nginx's workers (nobody) read it
        file_port = free_port()
        log("starting the stack (deploy/stack.py)")
        with Stack(
            free_port(), nginx_extra=lambda stack: file_server(stack, file_port, files)
        ) as stack:
            page = f"{stack.base}{PAGE}"
            fetch(page)
            status, headers, body = fetch(page)
            if status != 200 or headers.get("X-Cache-Status") != "HIT":
                log(f"{PAGE} is not served from nginx's cache: {status} {dict(headers)}")
                return 1
            (files / "page.html").write_bytes(body)
            (files / "page.html").chmod(0o644)
            urls = {"nginx cache": page, "nginx file": f"http://127.0.0.1:{file_port}/page.html"}
            if fetch(urls["nginx file"])[2] != body:
                log("the file server does not answer the page's bytes")
                return 1
            for url in urls.values():
                wrk(url, WARMUP_SECONDS)
            results = {label: [] for label in urls}
            for round_number in range(ROUNDS):
                for label, url in urls.items():
                    log(f"round {round_number + 1}/{ROUNDS}: {label}, {RUN_SECONDS} s")
                    results[label].append(wrk(url, RUN_SECONDS))
    cached = max(r["rps"] for r in results["nginx cache"])
    plain = max(r["rps"] for r in results["nginx file"])
    errors = sum(r["bad"] + r["errors"] for rounds in results.values() for r in rounds)
    ratio = cached / plain
    print(
        f"\nThrough nginx (deploy/nginx.conf, 2 gunicorn nodes behind it), {PAGE} "
        f"({len(body):,} bytes), wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{RUN_SECONDS}s, "
        f"best of {ROUNDS}:\n"
        f"  micro-cached page     {cached:>10,.0f} req/s\n"
        f"  same bytes as a file  {plain:>10,.0f} req/s\n"
        f"  ratio                 {ratio:>10.2f}   target >= {TARGET}: "
        f"{'met' if ratio >= TARGET else 'MISSED'}\n"
        f"  errors                {errors:>10}\n"
        f"  ({time.monotonic() - started:.0f} s in all)"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
