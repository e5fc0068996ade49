"""The hook alert sources post to: `POST /hooks/<token>/` on the main site (config/urls.py).

The token in the URL finds the integration (only its hash is stored); an integration with a
bearer token also wants `Authorization: Bearer <token>`. An unknown token or a missing or wrong
bearer token answers 404, exactly as a URL that does not exist, and records nothing. Bodies over
1 MiB answer 413; bodies the integration's kind cannot read answer 400 with a message. Each of
these records nothing.

Accept, then apply (as PagerDuty's Events API does): a body that reads is recorded in the
integration's request log as "Queued" with its notices, answered 202 with
{"status": "accepted", "alerts": <n>, "request": <log row id>}, and applied by a Celery task
(incidents.tasks.process_alert_requests: one queued per integration however many requests
arrive) in the order received; its outcome replaces "Queued" in the log. With Celery eager (the
embedded default) the task runs before the answer is sent.

The hook is the busiest path of all (bench/alerts.py), so a request it accepts, once its
process knows the integration, costs one SQL statement and one Redis command (and a Celery task
sent, when none is queued):
- Each process keeps the integrations it accepted requests for in memory (`KNOWN`). The
  statement that records a request checks that the integration still has the token, bearer
  token and kind it was read with (`alerts.enqueue`), so a rotated token, a changed bearer token
  or a removed integration is never accepted from memory; when it has changed, or when the
  answer from memory would be anything but 202, the integration is read again and the request
  answered as the database says now.
- Django's per-request `SELECT 1` on a reused connection (CONN_HEALTH_CHECKS) is skipped: a
  connection found dead by the hook's first statement is closed and the statement sent once
  more on a new one (`lazily_checked`).
- config/settings.py runs the hook through `HookMiddleware`, before the middleware it has no use
  for (sessions, CSRF, authentication, messages, HTMX, django-axes): what it keeps of them is
  below.
"""

import functools

from django.db import InterfaceError, OperationalError, connection
from django.http import JsonResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import ResolverMatch
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_prometheus.middleware import PrometheusAfterMiddleware

from incidents.alerts import BODY_MAX_BYTES, PayloadError, enqueue, read_body
from incidents.models import Integration
from incidents.tasks import queue_alert_processing
from status.models import hash_secret
from status.tenancy import public_view

# {hash of a hook token: the Integration read for it}, for the requests after the first.
KNOWN = {}
KNOWN_LIMIT = 1000
TOKEN_MAX = 200


def error(status, name, message):
    return JsonResponse({"error": name, "message": message}, status=status)


@public_view
@csrf_exempt
@never_cache
@require_POST
def hook(request, token):
    if not token or len(token) > TOKEN_MAX:
        return error(404, "not_found", "No such hook.")
    token_hash = hash_secret(token)
    body = functools.cache(lambda: request.read(BODY_MAX_BYTES + 1))
    integration = KNOWN.get(token_hash)
    if integration is not None:
        answer = accept(request, body, integration, token_hash)
        if answer is not None and answer.status_code == 202:
            return answer
        # Changed since, or an answer only the database as it is now may give.
        KNOWN.pop(token_hash, None)
    integration = lazily_checked(lambda: Integration.for_token(token))
    answer = accept(request, body, integration, token_hash)
    if answer is None:  # changed between the two statements
        return error(404, "not_found", "No such hook.")
    if answer.status_code == 202:
        if len(KNOWN) >= KNOWN_LIMIT:
            KNOWN.clear()
        KNOWN[token_hash] = integration
    return answer


def accept(request, body, integration, token_hash):
    """The answer to a request for `integration` (None: no such hook), or None when the
    integration no longer has what it was read with (nothing is recorded then)."""
    if integration is None or not integration.accepts_bearer(request.headers.get("Authorization")):
        return error(404, "not_found", "No such hook.")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return error(400, "bad_request", "Content-Length must be a number.")
    if length > BODY_MAX_BYTES or len(body()) > BODY_MAX_BYTES:
        return error(413, "payload_too_large", f"Bodies are at most {BODY_MAX_BYTES} bytes.")
    try:
        notices = read_body(integration, body())
    except PayloadError as problem:
        return error(400, "bad_request", str(problem))
    request_id = lazily_checked(lambda: enqueue(integration, notices, token_hash))
    if request_id is None:
        return None
    queue_alert_processing(integration.pk)
    return JsonResponse({"status": "accepted", "alerts": len(notices), "request": request_id},
                        status=202)  # fmt: skip


def lazily_checked(statement):
    """`statement()` without the `SELECT 1` Django sends first on a reused connection when
    CONN_HEALTH_CHECKS is on: if the connection turns out dead, it is closed and `statement`
    runs once more on a new one. Both of the hook's statements may run twice: reading the
    integration changes nothing, and a request recorded twice (the connection died after its
    commit, before the answer) is a repeat, which changes nothing more (alerts.known_already)."""
    if not (connection.health_check_enabled and not connection.health_check_done):
        return statement()
    if connection.connection is None or connection.in_atomic_block:
        return statement()
    connection.health_check_done = True
    try:
        return statement()
    except (InterfaceError, OperationalError):
        connection.close()
        return statement()


class HookMiddleware:
    """`POST /hooks/<token>/` on the main site, answered before the middleware below this one
    in settings.MIDDLEWARE (the hook needs no session, CSRF check, user, messages, HTMX or
    sign-in lockout), but for what that middleware gives every answer: SecurityMiddleware's
    headers (and its HTTPS redirect), X-Frame-Options, and django-prometheus's counters by
    status and view (PrometheusAfterMiddleware). The middleware above it (the request id and
    log line, the Content-Security-Policy, host routing, the NUL check, the database outage's
    503) runs as for every request. Anything else under /hooks/ (a GET, Twilio's callbacks)
    goes the usual way."""

    ROUTE = "hooks/<str:token>/"

    def __init__(self, get_response):
        self.get_response = get_response
        self.prometheus = PrometheusAfterMiddleware(self.view)
        self.answer = SecurityMiddleware(XFrameOptionsMiddleware(self.prometheus))

    def __call__(self, request):
        token = self.token(request)
        if token is None:
            return self.get_response(request)
        request.resolver_match = ResolverMatch(hook, (), {"token": token}, url_name="hook",
                                               route=self.ROUTE)  # fmt: skip
        return self.answer(request)

    @staticmethod
    def token(request):
        """The token when this is a POST that config/urls.py would route to `hook`, else None
        (a page's own host has its own URLconf, status/hosts.py, without the hook)."""
        if request.method != "POST" or getattr(request, "urlconf", None) is not None:
            return None
        path = request.path_info
        if not path.startswith("/hooks/") or not path.endswith("/"):
            return None
        token = path[len("/hooks/") : -1]
        return token if token and "/" not in token else None

    def view(self, request):
        kwargs = request.resolver_match.kwargs
        self.prometheus.process_view(request, hook, (), kwargs)
        return hook(request, **kwargs)
