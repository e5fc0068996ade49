"""Bodies on a page boundary in nginx's cache files (NGINX_CACHE_ALIGN=true, deploy/nginx.conf).

nginx sends a micro-cached answer's body with sendfile() from its cache file, where the body
follows a binary header (NGINX_CACHE_HEADER_BYTES: 336 on 64-bit Linux, nginx 1.18 to 1.27),
the line "\\nKEY: <proxy_cache_key>\\n" and the status line and headers exactly as the web node
sent them. sendfile() from an offset that is not a multiple of the page size costs nginx about
twice the CPU of an aligned one (bench/stack.py: a hit of the demo page 52-85 µs against 20-27 µs
for the same bytes from a file; a Range request from byte 1,000 of a file halves its requests
per second against one from byte 0 or 4,096). So an answer nginx may keep (`s-maxage` in its
Cache-Control) gets one padding header, X-Cache-Align, whose length puts its body at a
multiple of 4,096 bytes in the cache file; nginx hides it from visitors.

What comes before the body is known here: the key is deploy/nginx.conf's
`proxy_cache_key "$scheme://$host$request_uri $http_hx_request $cookie_django_language
$http_accept_language"`, and a sync gunicorn worker
writes its status line, `Server: gunicorn`, `Date` (fixed width), `Connection: close`, then the
application's headers (hop-by-hop ones dropped) as `name: value` lines (gunicorn/http/wsgi.py).
Other servers and worker classes get no padding. tests/stack/test_stack.py reads a real cache
file and checks the body's offset, so a change on either side shows there.
"""

import re

NGINX_CACHE_HEADER_BYTES = 336
PAGE_BYTES = 4096
PADDING_HEADER = "X-Cache-Align"
# Date: Mon, 30 Nov 2026 11:06:46 GMT (always 29 characters).
_DATE_LINE = len("Date: ") + 29 + 2
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailers", "transfer-encoding", "upgrade"}  # fmt: skip
_PORT = re.compile(r":\d*$")


def nginx_host(environ):
    """nginx's $host: the Host header, lower case, without its port."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    if not host.endswith("]"):  # [::1] keeps its brackets; [::1]:8080 loses the port
        host = _PORT.sub("", host)
    return host.lower()


# The language cookie (settings.LANGUAGE_COOKIE_NAME), in nginx's cache key.
LANGUAGE_COOKIE = "django_language"


def nginx_cookie(environ, name):
    """The value nginx's $cookie_<name> has for this request: the raw text after the first
    "<name>=" of the Cookie header, up to its ";" (empty when there is none)."""
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.split(";", 1)[0]
    return ""


def padding(environ, status, headers):
    """The X-Cache-Align value that puts the body on a page boundary, or None when this answer
    is not one nginx keeps or its bytes before the body cannot be known."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or "gunicorn.socket" not in environ:
        return None
    if environ.get("wsgi.multithread") or environ.get("SERVER_PROTOCOL") != "HTTP/1.1":
        return None  # gthread and others may keep the connection alive; HTTP/1.0 differs
    names = {name.lower(): value for name, value in headers}
    control = names.get("cache-control", "")
    if "s-maxage" not in control or "private" in control or "no-store" in control:
        return None
    if "content-length" not in names:
        return None  # chunked: gunicorn adds Transfer-Encoding, and nginx keeps no chunks
    key = (
        f"{environ.get('wsgi.url_scheme', 'http')}://{nginx_host(environ)}"
        f"{environ.get('RAW_URI', '')} {environ.get('HTTP_HX_REQUEST', '')}"
        f" {nginx_cookie(environ, LANGUAGE_COOKIE)} {environ.get('HTTP_ACCEPT_LANGUAGE', '')}"
    )
    before = (
        NGINX_CACHE_HEADER_BYTES
        + len(f"\nKEY: {key}\n".encode("latin-1", "replace"))
        + len(f"HTTP/1.1 {status}\r\n".encode("latin-1", "replace"))
        + len("Server: gunicorn\r\n")
        + _DATE_LINE
        + len("Connection: close\r\n")
        + sum(
            len(f"{name}: {_stripped(value)}\r\n".encode("latin-1", "replace"))
            for name, value in headers
            if name.lower() not in _HOP_BY_HOP
        )
        + len(f"{PADDING_HEADER}: \r\n")
        + 2  # the blank line
    )
    # Never empty: gunicorn refuses a header without a value.
    return "." * (-before % PAGE_BYTES or PAGE_BYTES)


def _stripped(value):
    return value.strip(" \t")  # as gunicorn writes it (RFC 9110 5.5)


def aligned(application):
    """The WSGI `application`, its cacheable answers padded as `padding` says."""

    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            value = padding(environ, status, headers)
            if value is not None:
                headers = [*headers, (PADDING_HEADER, value)]
            return start_response(status, headers, exc_info)

        return application(environ, start)

    return wrapped
