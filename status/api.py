"""The management API v1's shared plumbing: key authentication, rate limit, errors, paging and
the `{key: {...}}` bodies, used by every API module (status/api_pages.py: pages, components and
groups; incidents/api.py: incidents, maintenance and postmortems; notifications/api.py:
subscribers), all mounted under /api/v1/ by config/urls_api.py. The API follows Statuspage's
conventions, so that existing automation works by changing only the base URL.

- Auth: `Authorization: OAuth <key>` (or `Bearer <key>`) with one of the tenant's API keys; a key
  reaches its tenant's pages only, and anything else answers 404 as if it did not exist.
- Bodies are wrapped in the resource's key (`{"incident": {...}}`); lists are bare arrays;
  POST answers 201; errors are `{"error": ..., "message": ...}` (400, 401, 404, 422, 429).
- Every write goes through the model methods the console uses (Incident.declare, post_update,
  Component.set_status, …) and is recorded in the audit log with the key.
"""

import hashlib
import json
import math
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, RawPostDataException
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import api_view
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from status.models import ApiKey, IdempotentRequest, Page, SendingQuotaExceeded, next_sending_day

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10**9


# Authentication, rate limit and errors ---------------------------------------------------------


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: OAuth <key>` as Statuspage documents it, or `Bearer <key>`."""

    def authenticate(self, request):
        scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() not in ("oauth", "bearer") or not secret.strip():
            return None
        key = ApiKey.authenticate(secret.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
        return (None, key)

    def authenticate_header(self, request):
        return 'OAuth realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`OAuth <key>` or `Bearer <key>`",
        }


class HasApiKey(BasePermission):
    def has_permission(self, request, view):
        return request.auth is not None


class ApiKeyThrottle(BaseThrottle):
    """A token bucket per key: API_RATE_LIMIT_PER_SECOND sustained, bursts of
    API_RATE_LIMIT_BURST. Kept in the shared cache, so it holds across web processes (a race
    between two processes can let a request or two more through, which is fine here)."""

    def allow_request(self, request, view):
        rate = settings.API_RATE_LIMIT_PER_SECOND
        burst = settings.API_RATE_LIMIT_BURST
        key = f"api-rate:{request.auth.pk}"
        now = time.time()
        tokens, last = cache.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        self.retry_after = 0
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        else:
            self.retry_after = (1 - tokens) / rate
        cache.set(key, (tokens, now), math.ceil(burst / rate) + 1)
        return allowed

    def wait(self):
        return max(1, math.ceil(self.retry_after))


ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "rate_limited",
}


class Unprocessable(exceptions.APIException):
    status_code = 422
    default_detail = "The request could not be processed."


def exception_handler(exc, context):
    """Every error as Statuspage's `{"error": ..., "message": ...}`."""
    if isinstance(exc, DjangoValidationError):
        exc = Unprocessable("; ".join(exc.messages))
    elif isinstance(exc, RequestDataTooBig):
        # Past DATA_UPLOAD_MAX_MEMORY_SIZE: Django's HTML 400 page unless answered here.
        exc = exceptions.ParseError("The request body is too large.")
    elif isinstance(exc, exceptions.ValidationError):
        exc = Unprocessable(flatten(exc.detail))
    elif isinstance(exc, SendingQuotaExceeded):
        wait = (next_sending_day() - timezone.now()).total_seconds()
        exc = exceptions.Throttled(wait=wait, detail=str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    message = str(detail) if detail is not None else flatten(response.data)
    response.data = {
        "error": ERROR_NAMES.get(response.status_code, "error"),
        "message": message,
    }
    return response


def flatten(detail, prefix=""):
    """DRF's nested error detail as one readable line."""
    if isinstance(detail, dict):
        parts = [flatten(v, f"{prefix}{k}." if k != "non_field_errors" else prefix)
                 for k, v in detail.items()]  # fmt: skip
        return "; ".join(parts)
    if isinstance(detail, list):
        return "; ".join(flatten(item, prefix) for item in detail)
    return f"{prefix.rstrip('.')}: {detail}" if prefix else str(detail)


class BodyParser(JSONParser):
    """DRF's JSON parser, with JSON nested too deep for Python's decoder (a RecursionError, where
    other bad JSON is a ValueError) a 400 too."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("The body is not valid JSON.") from None


def endpoint(*methods):
    """A management API view: authenticated by key, rate-limited, JSON only; POST and PATCH
    honour an `Idempotency-Key` header (see `idempotent`)."""

    def decorator(view):
        @wraps(view)
        def once(request, *args, **kwargs):
            return idempotent(request, lambda: view(request, *args, **kwargs))

        once.authentication_classes = [ApiKeyAuthentication]
        once.permission_classes = [HasApiKey]
        once.throttle_classes = [ApiKeyThrottle]
        once.renderer_classes = [JSONRenderer]
        once.parser_classes = [BodyParser]
        wrapped = api_view(list(methods))(once)
        wrapped.access = "api"
        return wrapped

    return decorator


IDEMPOTENT_METHODS = ("POST", "PATCH")
IDEMPOTENCY_KEY_MAX = 255


def idempotent(request, call):
    """Run `call` once per `Idempotency-Key` (a tenant's key, 24 hours): a retry of the same
    request gets the first answer again, with `Idempotent-Replayed: true`, and writes nothing.

    The answer is stored in the transaction of the write it answers, so either both are kept or
    neither; a second request with the key waits for the first to finish. The same key with
    another method, path or body is refused (422). Answers that are errors are not kept: the
    write did not happen, so trying again is safe.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None or request.method not in IDEMPOTENT_METHODS:
        return call()
    if not key.strip() or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise exceptions.ParseError(
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable characters."
        )
    tenant = request.auth.tenant
    try:
        body = request.body
    except RawPostDataException:
        # A form body, already parsed as one: the API reads JSON only (as without the key).
        raise exceptions.UnsupportedMediaType(request.content_type) from None
    fingerprint = hashlib.sha256(
        b"\n".join([request.method.encode(), request.path.encode(), body])
    ).hexdigest()
    with transaction.atomic():
        earlier = (
            IdempotentRequest.objects.select_for_update().filter(tenant=tenant, key=key).first()
        )
        if earlier is not None and earlier.is_expired:
            earlier.delete()
            earlier = None
        if earlier is not None:
            if earlier.fingerprint != fingerprint:
                raise Unprocessable(
                    "This Idempotency-Key was already used for another request; use a new key."
                )
            response = Response(
                json.loads(earlier.body) if earlier.body else None, status=earlier.status_code
            )
            response["Idempotent-Replayed"] = "true"
            return response
        response = call()
        if response.status_code < 400:
            try:
                with transaction.atomic():
                    IdempotentRequest.objects.create(
                        tenant=tenant,
                        key=key,
                        fingerprint=fingerprint,
                        status_code=response.status_code,
                        body=JSONRenderer().render(response.data).decode(),
                    )
            except IntegrityError:
                # The same key, sent twice at once: the other request wrote it first. This
                # one's write is undone, and the client is told to ask again for the answer.
                transaction.set_rollback(True)
                raise Conflict() from None
    return response


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = (
        "A request with this Idempotency-Key was being processed; send it again for its answer."
    )


def get_page(request, page_code):
    """The key's tenant's page with this code; another tenant's page is 404 like no page."""
    page = (
        Page.objects.select_related("tenant")
        .filter(tenant=request.auth.tenant, code=page_code)
        .first()
    )
    if page is None:
        raise Http404("No such page.")
    return page


def get_or_404(queryset, **lookup):
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name}.")
    return obj


def unwrap(request, key, serializer_class, *, partial=False, instance=None):
    """The validated `{key: {...}}` body."""
    if not isinstance(request.data, dict) or not isinstance(request.data.get(key), dict):
        raise exceptions.ParseError(f'The body must be a JSON object {{"{key}": {{...}}}}.')
    serializer = serializer_class(data=request.data[key], partial=partial, instance=instance)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def paginate(request, queryset):
    """Statuspage's `limit` (default 100) and 1-based `page` query parameters."""
    try:
        limit = min(max(int(request.query_params.get("limit", DEFAULT_LIMIT)), 1), MAX_LIMIT)
        number = max(int(request.query_params.get("page", 1)), 1)
    except ValueError as error:
        raise exceptions.ParseError("limit and page must be whole numbers.") from error
    offset = (number - 1) * limit
    if offset > MAX_OFFSET:
        # Past any real list, and past what the database takes as an OFFSET.
        return queryset.none()
    return queryset[offset : offset + limit]


def wrapped(key, serializer_class, name):
    """A schema-only serializer for `{key: {...}}` bodies."""
    return inline_serializer(name=name, fields={key: serializer_class()})


PAGING = [
    OpenApiParameter("limit", int, description="At most this many (default 100)."),
    OpenApiParameter("page", int, description="Page of results, from 1."),
]
