"""config/cache_alignment.py against what a real gunicorn sync worker writes: the bytes nginx
would put before a kept body (its cache file's header, the key line, the answer's status line and
headers) add up to a multiple of the page size. tests/stack/test_stack.py checks nginx's own
cache files."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.cache_alignment import NGINX_CACHE_HEADER_BYTES, PAGE_BYTES, aligned, padding
from tests.services import free_port

BASE_DIR = Path(__file__).resolve().parent.parent.parent
BODY = b"<!doctype html>" + b"x" * 5000


def _plain_app(environ, start_response):
    """Answers as the status page does, its headers' sizes set by the query string."""
    extra = int(environ.get("QUERY_STRING", "").partition("=")[2] or 0)
    cache_control = environ.get("HTTP_X_TEST_CACHE_CONTROL", "public, max-age=0, s-maxage=5")
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", cache_control),
            ("ETag", '"' + "e" * extra + '"'),
            ("X-Spaces", "  padded value  "),  # gunicorn strips these
            ("Content-Length", str(len(BODY))),
        ],
    )
    return [BODY]


app = aligned(_plain_app)


@pytest.fixture(scope="module")
def server():
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "tests.status.test_cache_alignment:app",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
         "--log-level", "warning"],
        cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(10)


def raw_answer(port, path, host="Status.Example.com:8443", headers=()):
    """The bytes gunicorn writes for a GET of `path`, as nginx (HTTP/1.1) asks."""
    request = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close", *headers, "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall("\r\n".join(request).encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def body_offset(raw, key):
    """Where nginx's cache file would have the body: its header, the key line, the head."""
    head = raw[: raw.index(b"\r\n\r\n") + 4]
    return NGINX_CACHE_HEADER_BYTES + len(b"\nKEY: " + key.encode() + b"\n") + len(head)


@pytest.mark.parametrize("extra", [0, 1, 7, 100, 1000, 3000, 4100])
def test_a_kept_answer_puts_its_body_on_a_page(server, extra):
    path = f"/p/acme/?e={extra}"
    raw = raw_answer(server, path)
    assert raw.endswith(BODY)
    # nginx's $host: lower case, no port; then $request_uri, $http_hx_request,
    # $cookie_django_language and $http_accept_language (here all three empty).
    assert body_offset(raw, f"http://status.example.com{path}   ") % PAGE_BYTES == 0
    assert b"\r\nX-Cache-Align: ." in raw


def test_an_htmx_request_has_its_own_key(server):
    raw = raw_answer(server, "/p/acme/", headers=["HX-Request: true"])
    assert body_offset(raw, "http://status.example.com/p/acme/ true  ") % PAGE_BYTES == 0


def test_the_language_a_visitor_asks_for_is_in_the_key(server):
    raw = raw_answer(
        server,
        "/p/acme/",
        headers=["Cookie: a=1; django_language=es; b=2", "Accept-Language: es-EC,es;q=0.9"],
    )
    key = "http://status.example.com/p/acme/  es es-EC,es;q=0.9"
    assert body_offset(raw, key) % PAGE_BYTES == 0


@pytest.mark.parametrize("control", ["private, max-age=0", "no-store", "public, max-age=60"])
def test_answers_nginx_does_not_keep_get_no_padding(server, control):
    raw = raw_answer(server, "/p/acme/", headers=[f"X-Test-Cache-Control: {control}"])
    assert raw.endswith(BODY)
    assert b"X-Cache-Align" not in raw


def test_other_servers_and_methods_get_no_padding():
    headers = [("Cache-Control", "public, s-maxage=5"), ("Content-Length", "1")]
    gunicorn = {"gunicorn.socket": object(), "wsgi.multithread": False,
                "SERVER_PROTOCOL": "HTTP/1.1", "RAW_URI": "/", "HTTP_HOST": "a"}  # fmt: skip
    assert padding({**gunicorn, "REQUEST_METHOD": "GET"}, "200 OK", headers)
    assert padding({**gunicorn, "REQUEST_METHOD": "POST"}, "200 OK", headers) is None
    assert padding({**gunicorn, "REQUEST_METHOD": "GET", "wsgi.multithread": True},
                   "200 OK", headers) is None  # fmt: skip
    no_socket = {k: v for k, v in gunicorn.items() if k != "gunicorn.socket"}
    assert padding({**no_socket, "REQUEST_METHOD": "GET"}, "200 OK", headers) is None
    chunked = [("Cache-Control", "public, s-maxage=5")]
    assert padding({**gunicorn, "REQUEST_METHOD": "GET"}, "200 OK", chunked) is None
