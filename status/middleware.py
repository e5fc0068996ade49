"""Requests refused before any view sees them."""

import re

from django.core.exceptions import BadRequest, RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults

NUL_MESSAGE = "The request contains a NUL character (%00), which no field accepts."
# Where answers are JSON: the management API, and the public API on either kind of host.
API_PATH = re.compile(r"^(/p/[^/]+)?/api/")
# A NUL written as JSON writes it: \u0000, unless its backslash is itself escaped (\\u0000 is
# the text "\u0000", which is harmless).
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class RefuseNulMiddleware:
    """400 for a request with a NUL character in its path, query string or form or JSON body.

    PostgreSQL refuses NUL in any string, so one that reached a query (a code in a URL, a
    search, a form's choice) was a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = API_PATH.match(request.path) is not None
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
