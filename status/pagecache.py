"""Whole-response caching of public pages, which are read far more than written.

A response is stored under a key holding the page's version, which every write that changes
what the page shows bumps (Page.bump_version), so a write is visible at once; entries also
expire after CACHE_SECONDS because pages show relative times and today's uptime. Responses
carry ETag and Last-Modified, and conditional GETs get 304 (no body, no SQL). Browsers must
revalidate every time (max-age=0, must-revalidate): a visitor who clicks "Status" right after a
change sees it, and the 304 keeps that cheap. Shared caches (a CDN, nginx's micro-cache) may
keep a page SHARED_MAX_AGE seconds, which is what absorbs an incident's traffic spike, and
serve it stale while the origin fails. Stale-while-revalidate is for CDNs only (in
CDN-Cache-Control, RFC 9213): browsers honour it too, and would show the old status once more.

In front of a shared cache (Redis), each process also keeps what it read for
settings.PAGE_CACHE_LOCAL_SECONDS: the page's version (read from the database, the truth), and
the most recent responses (their key holds the version, so they are never served for a newer
one). A cache hit then costs no round trip at all, and a write reaches every process within
that second (at once in the process that made it). Redis being down or restarted only costs
renders (config/cache.py answers a miss): it can never serve a page older than the last write.
"""

import hashlib
import time
from collections import OrderedDict
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date

from status.memo import LocalMemo
from status.models import Page
from status.signals import page_changed

SHARED_MAX_AGE = 5
STALE_WHILE_REVALIDATE = 5
STALE_IF_ERROR = 86400
CACHE_SECONDS = 60
# How long a page's version is kept in this process's own memory cache (embedded default).
MEMORY_VERSION_SECONDS = 2


LOCAL_RESPONSES_BYTES = 64 * 1024 * 1024


_local_versions = LocalMemo()  # page id -> version
_local_responses = OrderedDict()  # response key -> (entry, deadline), least recently used first
_local_bytes = 0


def version_key(page_id):
    return f"page-version:{page_id}"


def versions_in_cache():
    """Whether page versions may be kept in the cache: only when it is this process's own
    memory (the embedded default), which no restart can fill with old data. A shared cache
    (Redis) may come back from a restart holding versions older than the last write, so then
    the version is read from the database, at most once per PAGE_CACHE_LOCAL_SECONDS a process,
    and the write path never touches Redis."""
    return isinstance(caches["default"], LocMemCache)


def page_version(page_id):
    version = _local_versions.get(page_id)
    if version is not None:
        return version
    in_cache = versions_in_cache()
    version = cache.get(version_key(page_id)) if in_cache else None
    if version is None:
        version = Page.objects.filter(pk=page_id).values_list("version", flat=True).first()
        if version is None:
            return None
        if in_cache:
            # Briefly: another process (the scheduler beside `make run`, a shell) writes to the
            # same database but cannot reach this memory, so its changes show within seconds.
            cache.set(version_key(page_id), version, MEMORY_VERSION_SECONDS)
    _local_versions.set(page_id, version)
    return version


def forget_version(page_id):
    _local_versions.pop(page_id)
    if versions_in_cache():
        cache.delete(version_key(page_id))


@receiver(page_changed)
def forget_changed_page(sender, page_id, **kwargs):
    forget_version(page_id)
    # A reader may have cached the old version before the writer's transaction commits.
    transaction.on_commit(lambda: forget_version(page_id), robust=True)


def _local_get(key):
    found = _local_responses.get(key)
    if found is None:
        return None
    entry, deadline = found
    if deadline <= time.monotonic():
        _local_drop(key)
        return None
    _local_responses.move_to_end(key)
    return entry


def _local_set(key, entry):
    """Keep a response in this process for as long as the shared cache keeps it."""
    global _local_bytes
    if not settings.PAGE_CACHE_LOCAL_SECONDS or key in _local_responses:
        return
    _local_responses[key] = (entry, time.monotonic() + CACHE_SECONDS)
    _local_bytes += len(entry[0])
    while _local_bytes > LOCAL_RESPONSES_BYTES and _local_responses:
        _local_drop(next(iter(_local_responses)))


def _local_drop(key):
    global _local_bytes
    entry, _deadline = _local_responses.pop(key)
    _local_bytes -= len(entry[0])


def clear_local():
    global _local_bytes
    LocalMemo.clear_all()
    _local_responses.clear()
    _local_bytes = 0


def response_key(request, page_id, version, reads=()):
    """The entry of this request's answer: its host and path, and of its query string only the
    parameters the view reads (`reads`), so that `?cb=1`, `?cb=2`, … share one entry instead
    of each filling the cache with a copy."""
    variant = "htmx" if request.headers.get("HX-Request") else "full"
    query = urlencode(sorted((name, request.GET.getlist(name)) for name in reads), doseq=True)
    # Hashed: the query string is the client's, of any length.
    where = hashlib.blake2b(
        f"{request.get_host()}\n{request.path}\n{query}".encode(), digest_size=16
    ).hexdigest()
    return f"page-response:{page_id}:{version}:{variant}:{where}"


def lookup(request, page_id, reads=()):
    version = page_version(page_id)
    if version is None:
        return None
    key = response_key(request, page_id, version, reads)
    entry = _local_get(key)
    if entry is None:
        entry = cache.get(key)
        if entry is None:
            return None
        _local_set(key, entry)
    body, headers, etag, last_modified = entry
    response = HttpResponse(body)
    for name, value in headers.items():
        response[name] = value
    response["X-Cache"] = "hit"
    return get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=response
    )


def store(request, page, response, reads=()):
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
        max_age=0,
        must_revalidate=True,
        s_maxage=SHARED_MAX_AGE,
        stale_if_error=STALE_IF_ERROR,
    )
    response["CDN-Cache-Control"] = (
        f"public, max-age={SHARED_MAX_AGE}, stale-while-revalidate={STALE_WHILE_REVALIDATE}, "
        f"stale-if-error={STALE_IF_ERROR}"
    )
    response["Vary"] = "HX-Request"
    headers = {
        name: value
        for name, value in response.items()
        if name.lower() not in ("set-cookie", "x-cache")
    }
    # Stored under the version read before rendering: a write during the render can only
    # make this entry unreachable, never serve stale content under a newer version.
    key = response_key(request, page.pk, page.version, reads)
    entry = (body, headers, etag, last_modified)
    cache.set(key, entry, CACHE_SECONDS)
    _local_set(key, entry)
    response["X-Cache"] = "miss"
    return get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=response
    )
