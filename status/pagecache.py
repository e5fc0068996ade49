"""Whole-response caching of public pages, which are read far more than written.

A response is stored under a key holding the page's version, which every write that changes
what the page shows bumps (Page.bump_version), so a write is visible at once; entries also
expire after MAX_AGE seconds because pages show relative times and today's uptime. Responses
carry ETag, Last-Modified and Cache-Control so that browsers, a CDN or a reverse proxy can absorb
an incident's traffic spike, and conditional GETs get 304.
"""

import hashlib
import time

from django.core.cache import cache
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date

MAX_AGE = 30
STALE_WHILE_REVALIDATE = 60
STALE_IF_ERROR = 86400
CACHE_SECONDS = 60


def version_key(page_id):
    return f"page-version:{page_id}"


def page_version(page_id):
    from status.models import Page

    version = cache.get(version_key(page_id))
    if version is None:
        version = Page.objects.filter(pk=page_id).values_list("version", flat=True).first()
        if version is None:
            return None
        cache.set(version_key(page_id), version, CACHE_SECONDS)
    return version


def forget_version(page_id):
    cache.delete(version_key(page_id))


def response_key(request, page_id, version):
    variant = "htmx" if request.headers.get("HX-Request") else "full"
    # Hashed: the query string is the client's, of any length.
    where = hashlib.blake2b(
        f"{request.get_host()}\n{request.get_full_path()}".encode(), digest_size=16
    ).hexdigest()
    return f"page-response:{page_id}:{version}:{variant}:{where}"


def lookup(request, page_id):
    version = page_version(page_id)
    if version is None:
        return None
    entry = cache.get(response_key(request, page_id, version))
    if entry is None:
        return None
    body, headers, etag, last_modified = entry
    response = HttpResponse(body)
    for name, value in headers.items():
        response[name] = value
    response["X-Cache"] = "hit"
    return get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=response
    )


def store(request, page, response):
    if response.status_code != 200 or response.streaming or response.cookies:
        return response
    body = response.content
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    # Pages change with time too (relative times, today's bar), so this is when it was
    # rendered, not when the page was last written.
    last_modified = int(time.time())
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    patch_cache_control(
        response,
        public=True,
        max_age=MAX_AGE,
        stale_while_revalidate=STALE_WHILE_REVALIDATE,
        stale_if_error=STALE_IF_ERROR,
    )
    response["Vary"] = "HX-Request"
    headers = {
        name: value
        for name, value in response.items()
        if name.lower() not in ("set-cookie", "x-cache")
    }
    # Stored under the version read before rendering: a write during the render can only
    # make this entry unreachable, never serve stale content under a newer version.
    cache.set(
        response_key(request, page.pk, page.version),
        (body, headers, etag, last_modified),
        CACHE_SECONDS,
    )
    response["X-Cache"] = "miss"
    return get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=response
    )
