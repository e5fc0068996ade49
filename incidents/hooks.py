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
"""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.alerts import BODY_MAX_BYTES, PayloadError, enqueue, read_body
from incidents.models import Integration
from incidents.tasks import queue_alert_processing
from status.tenancy import public_view


def error(status, name, message):
    return JsonResponse({"error": name, "message": message}, status=status)


@public_view
@csrf_exempt
@never_cache
@require_POST
def hook(request, token):
    integration = Integration.for_token(token)
    if integration is None or not integration.accepts_bearer(request.headers.get("Authorization")):
        return error(404, "not_found", "No such hook.")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return error(400, "bad_request", "Content-Length must be a number.")
    if length > BODY_MAX_BYTES:
        return error(413, "payload_too_large", f"Bodies are at most {BODY_MAX_BYTES} bytes.")
    raw = request.read(BODY_MAX_BYTES + 1)
    if len(raw) > BODY_MAX_BYTES:
        return error(413, "payload_too_large", f"Bodies are at most {BODY_MAX_BYTES} bytes.")
    try:
        notices = read_body(integration, raw)
    except PayloadError as problem:
        return error(400, "bad_request", str(problem))
    request_id = enqueue(integration, notices)
    queue_alert_processing(integration.pk)
    return JsonResponse({"status": "accepted", "alerts": len(notices), "request": request_id},
                        status=202)  # fmt: skip
