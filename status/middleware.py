"""Requests refused before any view sees them, and what is answered when the database is down."""

import ipaddress
import logging
import re
import sys

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from status.pagecache import DATABASE_DOWN

log = logging.getLogger(__name__)

NUL_MESSAGE = "The request contains a NUL character (%00), which no field accepts."
# Where answers are JSON: the management API, and the public API on either kind of host.
API_PATH = re.compile(r"^(/p/[^/]+)?/api/")
# A NUL written as JSON writes it: \u0000, unless its backslash is itself escaped (\\u0000 is
# the text "\u0000", which is harmless).
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class TrustedProxyMiddleware:
    """The visitor's address behind our own proxies (nginx, a load balancer).

    Per-address limits (sign-in lockout, sign-up, subscribe, password reset) and the logs read
    REMOTE_ADDR; behind nginx that is nginx's address, and every visitor would share one limit.
    When the request comes from an address in settings.TRUSTED_PROXIES, REMOTE_ADDR becomes
    the last address in X-Forwarded-For that is not one of them (the one our first proxy saw
    connect; what a client writes into the header itself sits further left and is never read).
    From anywhere else the header is ignored.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.proxies = [ipaddress.ip_network(n, strict=False) for n in settings.TRUSTED_PROXIES]

    def trusted(self, address):
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return None
        return any(ip in network for network in self.proxies)

    def __call__(self, request):
        if self.proxies and self.trusted(request.META.get("REMOTE_ADDR", "")):
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
            for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
                verdict = self.trusted(hop)
                if verdict is None:
                    break  # not an address: nothing left of it can be believed
                if not verdict:
                    request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(hop))
                    break
        return self.get_response(request)


class RefuseNulMiddleware:
    """400 for a request with a NUL character in its path, query string or form or JSON body.

    PostgreSQL refuses NUL in any string, so one that reached a query (a code in a URL, a
    search, a form's choice) was a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The alert hook (incidents/hooks.py) answers JSON like the APIs, and reads its body raw.
        api = API_PATH.match(request.path) is not None or request.path.startswith("/hooks/")
        if has_nul(request, api):
            if api:
                return JsonResponse({"error": "bad_request", "message": NUL_MESSAGE}, status=400)
            return defaults.bad_request(request, BadRequest(NUL_MESSAGE))
        return self.get_response(request)


def has_nul(request, api):
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in request.path or "%00" in query or "\x00" in query:
        return True
    if request.content_type == "application/x-www-form-urlencoded":
        body = read_body(request)
        return b"%00" in body or b"\x00" in body
    if request.content_type == "application/json":
        body = read_body(request)
        return b"\x00" in body or (b"u0000" in body and JSON_NUL.search(body) is not None)
    if request.content_type == "multipart/form-data" and request.method == "POST" and not api:
        # Parsed once, for the view too (as the CSRF check would); files may hold NULs. The
        # API reads JSON only, and refuses multipart itself.
        return any(
            "\x00" in name or any("\x00" in value for value in values)
            for name, values in request.POST.lists()
        )
    return False


def read_body(request):
    """The body, which Django keeps for the view; too large a body is left to the view, which
    answers that in its own way."""
    try:
        return request.body
    except RequestDataTooBig:
        return b""


# -- The database is down -------------------------------------------------------------------

RETRY_AFTER_SECONDS = 30
NOT_SAVED = (
    "Heliograph cannot reach its database; your change was not saved. Try again in a minute."
)
NOT_SHOWN = (
    "Heliograph cannot reach its database, so this page cannot be shown right now. Nothing "
    "saved before is lost. Try again in a minute."
)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class DatabaseOutageMiddleware:
    """503, never 500, when PostgreSQL cannot be reached (or the connection died) while a view
    ran. Public pages already answer with their last good copy when there is one
    (status.hosts.public_page); this is for everything else: the console and the management
    API (which need the database), and public pages never seen before. What fails before or
    after the views (a session saved, a host looked up) reaches the same answer through
    `server_error` (handler500 in config/urls.py and config/urls_page.py).

    Connections that died are not kept: CONN_HEALTH_CHECKS (config/settings.py) checks a
    reused connection before a request's first query, and Django closes one that saw an error
    when the request ends, so the first request after PostgreSQL returns connects again."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_DOWN):
            return database_unavailable(request, exception)
        return None


def server_error(request):
    """handler500: the outage's 503 when the error was the database's, Django's 500 otherwise."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_DOWN):
        return database_unavailable(request, error)
    return defaults.server_error(request)


def database_unavailable(request, error=None):
    """503 with Retry-After: JSON `{"error": "unavailable", "message": ...}` under /api/, else a
    short page (templates/503.html, rendered without the database or a request context)."""
    log.warning("database unreachable, %s %s answered 503: %s", request.method, request.path, error)
    message = NOT_SHOWN if request.method in SAFE_METHODS else NOT_SAVED
    if API_PATH.match(request.path):
        response = JsonResponse({"error": "unavailable", "message": message}, status=503)
    else:
        response = HttpResponse(
            render_to_string("503.html", {"message": message}),
            status=503,
            content_type="text/html; charset=utf-8",
        )
        if request.headers.get("HX-Request"):
            # The whole page replaces the one the form was on (htmx swaps a 503 only when its
            # responseHandling says so).
            response["HX-Retarget"] = "body"
            response["HX-Reswap"] = "innerHTML"
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
