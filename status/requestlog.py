"""One log line per request, and the request id that ties it to everything the request caused.

The id comes from the X-Request-ID header when it is a sane value (a proxy such as nginx sets
it), else it is made here; it goes back in the response's X-Request-ID header and, through a
context variable (status/observability.py), into every log line written while the request is
answered and into the Celery tasks it enqueues (config/celery.py).
"""

import logging
import time

from django.core.signals import request_finished
from django.dispatch import receiver
from django.utils.functional import empty

from status import observability

log = logging.getLogger("heliograph.request")

REQUEST_ID_HEADER = "X-Request-ID"
# Probes hit these every few seconds: their lines are written at DEBUG only.
QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = observability.sane_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        # Kept until the response is closed (request_finished), so that what Django logs after
        # the middleware ("Not Found: …") carries it too.
        observability.request_id.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
        if log.isEnabledFor(level):
            duration_ms = (time.perf_counter() - started) * 1000
            log.log(level, "%s %s %s", request.method, request.path, response.status_code,
                    extra=request_fields(request, response, duration_ms))  # fmt: skip
        return response


@receiver(request_finished)
def forget_request_id(sender, **kwargs):
    observability.request_id.set(None)


def request_fields(request, response, duration_ms):
    fields = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round(duration_ms, 2),
        "host": request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", ""),
    }
    page = getattr(request, "page", None)
    match = getattr(request, "resolver_match", None)
    kwargs = match.kwargs if match else {}
    if page is not None:
        fields["page"] = page.slug
        fields["tenant_id"] = page.tenant_id
    elif kwargs.get("page_slug") or kwargs.get("page_code"):
        fields["page"] = kwargs.get("page_slug") or kwargs.get("page_code")
    elif getattr(request, "page_host_id", None):
        fields["page_id"] = request.page_host_id
    # Only a user the request already loaded: a cached public page reads no session at all.
    user = getattr(request, "user", None)
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is not empty and wrapped is not None and getattr(wrapped, "pk", None):
        fields["user_id"] = wrapped.pk
    return fields
