"""The heartbeat ping a monitored job calls: `/ping/<token>` on the main site (config/urls.py),
GET, POST or HEAD, answering 200 "OK" (404 for an unknown token). What a ping does is
incidents/monitors.py's: the heartbeat monitor is up again, and late only when no ping comes
within its period and grace."""

from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from incidents import monitors
from status.tenancy import public_view


@public_view
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST", "HEAD"])
def ping(request, token):
    if monitors.ping(token) is None:
        return HttpResponse("Not found", status=404, content_type="text/plain")
    return HttpResponse("OK", content_type="text/plain")
