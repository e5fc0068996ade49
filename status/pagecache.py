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

Two more things keep pages up and fast when something fails:

- The last good copy. Every stored response is also kept under a key without the version
  (`last_good_key`), for STALE_SECONDS, in the shared cache and in this process. When the
  database cannot be reached, status.hosts.public_page answers with that copy (`previous`):
  visitors see the page as it was when the database went away, with a 200, instead of an error.
- One regeneration at a time. After a write, the first request for the new version takes a short
  lock in the shared cache (`cache.add`, RENDER_LOCK_SECONDS, one per page version and request)
  and renders; the requests that arrive meanwhile get the previous version (the last good copy,
  with no s-maxage, so no shared cache keeps it) instead of rendering it too. So a page that
  changes every second under load is rendered once a change, not once a waiting request, and
  nobody waits for it. The process that made the write never gets the previous version
  (WRITER_SECONDS): there it renders itself, so a write is visible at once where it was made.
  A lock that cannot be read back (Redis down) is no lock: everyone renders, as before. The
  previous version is served for as long as the render takes, never more than
  RENDER_LOCK_SECONDS (a renderer that died, a lock left behind by a Redis call that timed out),
  and it is the newest copy known (this process's, or the shared one when that is newer).

Only public pages are cached (status.hosts.public_page answers draft and private ones itself,
`Cache-Control: private, no-store`). A page's visibility is read with its version and is part of
every response key, so an entry stored while a page was public is never found for it once it is
not, whatever its version; and the last good copy is served while the database is down only for
a page last known to be public (`known_public`).
"""

import hashlib
import time
from collections import OrderedDict
from urllib.parse import urlencode

import xxhash
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import InterfaceError, OperationalError, transaction
from django.dispatch import receiver
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date

from status import languages
from status.access import Visibility
from status.memo import LocalMemo
from status.models import Page
from status.observability import count_page_cache
from status.signals import page_changed

SHARED_MAX_AGE = 5
STALE_WHILE_REVALIDATE = 5
STALE_IF_ERROR = 86400
CACHE_SECONDS = 60
# How long a page's version is kept in this process's own memory cache (embedded default).
MEMORY_VERSION_SECONDS = 2


LOCAL_RESPONSES_BYTES = 64 * 1024 * 1024
# How long the last good copy of each response is kept (served while the database is down).
STALE_SECONDS = 86400
# One regeneration at a time: how long a render may hold its lock (it is released when stored),
# so the longest the previous version is served when a renderer dies or its lock is left behind.
RENDER_LOCK_SECONDS = 2
# After a write, how long the writing process renders for itself instead of serving the previous
# version while another process regenerates.
WRITER_SECONDS = 5
# What psycopg raises, wrapped by Django, when PostgreSQL cannot be reached or the connection died.
DATABASE_DOWN = (OperationalError, InterfaceError)


_local_versions = LocalMemo()  # page id -> (version, visibility)
_known_visibility = {}  # page id -> the visibility last read or written here
_local_responses = OrderedDict()  # response key -> (entry, deadline), least recently used first
_local_bytes = 0
_last_good = OrderedDict()  # last-good key -> (version, entry), least recently stored first
_last_good_bytes = 0
_written_here = {}  # page id -> monotonic deadline: this process changed the page


def version_key(page_id):
    return f"page-version:{page_id}"


def versions_in_cache():
    """Whether page versions may be kept in the cache: only when it is this process's own
    memory (the embedded default), which no restart can fill with old data. A shared cache
    (Redis) may come back from a restart holding versions older than the last write, so then
    the version is read from the database, at most once per PAGE_CACHE_LOCAL_SECONDS a process,
    and the write path never touches Redis."""
    return isinstance(caches["default"], LocMemCache)


def page_state(page_id):
    """(version, visibility) of the page, or None when there is no such page."""
    state = _local_versions.get(page_id)
    if state is not None:
        return state
    in_cache = versions_in_cache()
    state = cache.get(version_key(page_id)) if in_cache else None
    if state is None:
        found = Page.objects.filter(pk=page_id).values_list("version", "visibility").first()
        if found is None:
            return None
        state = tuple(found)
        remember_visibility(page_id, state[1])
        if in_cache:
            # Briefly: another process (the scheduler beside `make run`, a shell) writes to the
            # same database but cannot reach this memory, so its changes show within seconds.
            cache.set(version_key(page_id), state, MEMORY_VERSION_SECONDS)
    _local_versions.set(page_id, state)
    return state


def page_version(page_id):
    state = page_state(page_id)
    return state[0] if state is not None else None


def visibility_key(page_id):
    return f"page-visibility:{page_id}"


def remember_visibility(page_id, visibility):
    """Keep the page's visibility here and in the shared cache (when it changed) for
    `known_public`, which is asked when the database cannot be."""
    if _known_visibility.get(page_id) != visibility:
        _known_visibility[page_id] = visibility
        cache.set(visibility_key(page_id), visibility, STALE_SECONDS)


def known_public(page_id):
    """Whether the page was public when last seen by any process (the shared record first: the
    process that changed it wrote it there; this one's may be older): only then may its last
    good copy be served while the database is down."""
    visibility = cache.get(visibility_key(page_id)) or _known_visibility.get(page_id)
    return visibility == Visibility.PUBLIC


def forget_version(page_id):
    _local_versions.pop(page_id)
    if versions_in_cache():
        cache.delete(version_key(page_id))


@receiver(page_changed)
def forget_changed_page(sender, page_id, visibility=None, **kwargs):
    _written_here[page_id] = time.monotonic() + WRITER_SECONDS
    if visibility is not None:
        remember_visibility(page_id, visibility)
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
    global _local_bytes, _last_good_bytes
    LocalMemo.clear_all()
    _known_visibility.clear()
    _local_responses.clear()
    _local_bytes = 0
    _last_good.clear()
    _last_good_bytes = 0
    _written_here.clear()


def response_key(request, page_id, version, reads=(), visibility=Visibility.PUBLIC):
    """The entry of this request's answer: its host and path, and of its query string only the
    parameters the view reads (`reads`), so that `?cb=1`, `?cb=2`, … share one entry instead
    of each filling the cache with a copy. The page's visibility is part of it: an entry of a
    public page is never found once the page is draft or private."""
    return f"page-response:{page_id}:{version}:{visibility}:{_where(request, reads)}"


def last_good_key(request, page_id, reads=()):
    """The entry of the last good copy of this request's answer, whatever its version."""
    return f"page-last-good:{page_id}:{_where(request, reads)}"


def _where(request, reads):
    variant = "htmx" if request.headers.get("HX-Request") else "full"
    # What decides the answer's language, with the page's version (status/languages.py): never
    # one visitor's language for another's.
    variant += ":" + languages.preference_key(request)
    query = urlencode(sorted((name, request.GET.getlist(name)) for name in reads), doseq=True)
    # Hashed: the query string is the client's, of any length.
    where = hashlib.blake2b(
        f"{request.get_host()}\n{request.path}\n{query}".encode(), digest_size=16
    ).hexdigest()
    return f"{variant}:{where}"


def answer_from(request, entry, cache_status):
    body, headers, etag, last_modified = entry
    response = HttpResponse(body)
    for name, value in headers.items():
        response[name] = value
    response["X-Cache"] = cache_status
    return get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=response
    )


def lookup(request, page_id, reads=()):
    state = page_state(page_id)
    if state is None or state[1] != Visibility.PUBLIC:
        return None
    key = response_key(request, page_id, state[0], reads, state[1])
    entry = _local_get(key)
    if entry is None:
        entry = cache.get(key)
        if entry is None:
            return None
        _local_set(key, entry)
    count_page_cache(hit=True)
    return answer_from(request, entry, "hit")


def previous(request, page_id, reads=(), *, keep=True):
    """The last good copy of this request's answer (X-Cache: stale), or None.

    With `keep`, it carries the headers it was stored with, so shared caches may keep it
    (the database is down: it is the best there is). Without, it is the previous version while
    the new one renders, and no shared cache may keep it."""
    key = last_good_key(request, page_id, reads)
    # (version, entry): this process's copy when it is the previous version (no round trip for
    # a large page), else the newer of it and the shared one (another process may have
    # rendered versions this one never served).
    kept = _last_good.get(key)
    if keep or kept is None or kept[0] < (page_version(page_id) or 0) - 1:
        kept = max(
            (found for found in (kept, cache.get(key)) if found is not None),
            key=lambda found: found[0],
            default=None,
        )
    if kept is None:
        return None
    response = answer_from(request, kept[1], "stale")
    if not keep:
        response["Cache-Control"] = "public, max-age=0, must-revalidate"
        del response["CDN-Cache-Control"]
    return response


def wrote_here(page_id):
    """Whether this process changed the page within WRITER_SECONDS."""
    deadline = _written_here.get(page_id)
    if deadline is None:
        return False
    if deadline <= time.monotonic():
        _written_here.pop(page_id, None)
        return False
    return True


def claim_render(request, page_id, reads=()):
    """Ask to render this request's answer for the page's current version: the lock's key when
    this request should render it (release it with `release_render`), "" when it should render
    without a lock (the lock cannot be had: Redis is down), None when another request is
    rendering it already."""
    key = "page-render:" + response_key(request, page_id, page_version(page_id), reads)
    if cache.add(key, 1, RENDER_LOCK_SECONDS):
        return key
    if wrote_here(page_id) or cache.get(key) is None:
        # Our own write; or the lock was released in between, or the cache cannot answer.
        return ""
    return None


def release_render(key):
    if key:
        cache.delete(key)


def store(request, page, response, reads=()):
    count_page_cache(hit=False)  # a miss: the page was rendered
    if not page.is_public:
        raise ValueError("Only a public page's responses are stored.")
    if response.status_code != 200 or response.streaming or response.cookies:
        return response
    body = response.content
    # xxh3 (not a cryptographic hash: an ETag only tells versions apart) reads a 1.7 MB page
    # in a tenth of a millisecond, where blake2b took three.
    etag = '"' + xxhash.xxh3_128_hexdigest(body) + '"'
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
    key = response_key(request, page.pk, page.version, reads, page.visibility)
    entry = (body, headers, etag, last_modified)
    cache.set(key, entry, CACHE_SECONDS)
    _local_set(key, entry)
    _keep_last_good(last_good_key(request, page.pk, reads), (page.version, entry))
    response["X-Cache"] = "miss"
    return get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=response
    )


def _keep_last_good(key, kept):
    """Keep `kept`, (version, entry), as the last good copy under `key`."""
    global _last_good_bytes
    cache.set(key, kept, STALE_SECONDS)
    if not settings.PAGE_CACHE_LOCAL_SECONDS:
        return  # the cache is this process's memory already
    old = _last_good.pop(key, None)
    if old is not None:
        _last_good_bytes -= len(old[1][0])
    _last_good[key] = kept
    _last_good_bytes += len(kept[1][0])
    while _last_good_bytes > LOCAL_RESPONSES_BYTES and _last_good:
        _key, dropped = _last_good.popitem(last=False)
        _last_good_bytes -= len(dropped[1][0])
