"""Which page a request is for, by its Host.

The main site (console, accounts, admin and every page under /p/<slug>/) answers on the hosts in
settings.SITE_HOSTS. A page is also served at the root of its custom domain and of
<slug>.<PUBLIC_BASE_DOMAIN>. Any other host gets a plain 404 before any other code runs, which
is what keeps Host-header tricks (poisoned reset links, cache poisoning) out.

With the database unreachable, a host or slug this process or the shared cache has seen still
finds its page (the last answer is kept, `known_page_id`), and public_page answers GETs with the
last good copy of the response (status/pagecache.py); only what was never seen needs the
database, and fails (status.middleware answers 503).
"""

from functools import wraps
from urllib.parse import urlencode

from csp.constants import NONE, SELF
from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver
from django.http import Http404, HttpResponseNotFound, HttpResponseRedirect, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from status import access, languages, pagecache
from status.memo import LocalMemo
from status.models import Page
from status.pagecache import DATABASE_DOWN
from status.signals import page_changed

HOST_CACHE_SECONDS = 300
# Bumped when any page's slug or domain changes, so every cached host mapping goes at once.
HOSTS_GENERATION_KEY = "page-hosts:generation"
# How long the last answer for a host or slug is kept for when the database cannot be reached.
KNOWN_SECONDS = 86400


def forget_hosts():
    _local_ids.clear()
    _known_ids.clear()
    try:
        cache.incr(HOSTS_GENERATION_KEY)
    except ValueError:
        cache.set(HOSTS_GENERATION_KEY, 1, None)


@receiver(page_changed)
def forget_changed_hosts(sender, hosts_changed=False, **kwargs):
    if hosts_changed:
        forget_hosts()


# (kind, value) -> page id, or 0 for "no page".
_local_ids = LocalMemo()
# (kind, value) -> page id, or 0: the last answer, for when the database cannot be reached.
_known_ids = {}


def cached_page_id(kind, value, find):
    """The page id for a host or slug: from this process's memory, the shared cache, or
    `find(value)` (the database); 0 is remembered for "no page". When the database cannot be
    reached, the last answer known here or in the shared cache."""
    page_id = _local_ids.get((kind, value))
    if page_id is not None:
        return page_id or None
    generation = cache.get_or_set(HOSTS_GENERATION_KEY, 1, None)
    key = f"page-{kind}:{generation}:{value}"
    known_key = f"page-{kind}-known:{generation}:{value}"
    page_id = cache.get(key)
    if page_id is None:
        try:
            page_id = find(value) or 0
        except DATABASE_DOWN:
            page_id = known_page_id(kind, value, known_key)
            if page_id is None:
                raise
            return page_id or None
        cache.set(key, page_id, HOST_CACHE_SECONDS)
        if _known_ids.get((kind, value)) != page_id:
            cache.set(known_key, page_id, KNOWN_SECONDS)
    _local_ids.set((kind, value), page_id)
    if len(_known_ids) > LocalMemo.LIMIT:
        _known_ids.clear()
    _known_ids[(kind, value)] = page_id
    return page_id or None


def known_page_id(kind, value, known_key):
    page_id = _known_ids.get((kind, value))
    return page_id if page_id is not None else cache.get(known_key)


def page_id_for_host(domain):
    """The id of the page served at `domain`, or None."""
    return cached_page_id("host", domain, _find_host)


def _find_host(domain):
    base = settings.PUBLIC_BASE_DOMAIN
    if base and domain.endswith("." + base):
        slug = domain[: -len(base) - 1]
        page_id = _find_slug(slug) if "." not in slug else None
        if page_id:
            return page_id
    verified = Page.objects.filter(custom_domain=domain, domain_verified_at__isnull=False)
    return verified.values_list("pk", flat=True).first()


def page_id_for_slug(slug):
    """The id of the page with this slug, or None."""
    return cached_page_id("slug", slug, _find_slug)


def _find_slug(slug):
    return Page.objects.filter(slug=slug).values_list("pk", flat=True).first()


class HostRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw_host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
        domain, _port = split_domain_port(raw_host)
        domain = domain.rstrip(".")
        request.page_host_id = None
        if domain and validate_host(domain, settings.SITE_HOSTS):
            return self.get_response(request)
        page_id = page_id_for_host(domain) if domain else None
        if page_id is None:
            return HttpResponseNotFound(render_to_string("unknown_host.html"))
        request.page_host_id = page_id
        request.urlconf = settings.PAGE_HOST_URLCONF
        return self.get_response(request)


def on_page_host(request):
    return getattr(request, "page_host_id", None) is not None


# Set by a public view whose page refreshes its live parts by itself (static/js/live.js); its
# value is the interval in seconds.
LIVE_REFRESH_HEADER = "X-Live-Refresh"


# The public views a private page refuses with 404 rather than the sign-in page: formats read
# by programs (feeds, calendar, badge, widget). API v2's ("api-…") answer 401 with JSON.
REFUSED_WITH_404 = {"history-atom", "history-rss", "maintenance-ics", "badge", "embed"}
PRIVATE_API_MESSAGE = (
    "This status page is private. Send its read token as ?api_key=…, in an X-Api-Key header or "
    "as Authorization: Bearer …."
)


def public_page(view=None, *, cached=True, reads=(), framable=False, gate=True):
    """Give a public view the page it is for: from the Host, or from /p/<page_slug>/.

    With `cached`, whole GET responses are kept in the cache under the page's version and
    served with ETag, Last-Modified and Cache-Control (see status/pagecache.py); a hit runs no
    SQL at all. `reads` names the query parameters the view reads: only they tell cached
    answers apart. A miss is rendered by one request at a time (the others get the previous
    version meanwhile), and with the database unreachable the last good copy is served.

    Public pages run no script at all: their Content-Security-Policy says script-src 'none',
    but for a page that refreshes itself while something is going on (it sets the
    LIVE_REFRESH_HEADER): that one may run our own static scripts ('self').
    With `framable`, any site may show the response in a frame (the embeddable widget).

    Draft and private pages (status/access.py) are never cached: a visitor the page does not
    admit gets a 404 (draft; feeds, calendar, badge and widget of a private page), the private
    page's sign-in page (HTML), or 401 JSON (API v2), none of which shows anything of the page;
    one it admits gets the view's answer with `Cache-Control: private, no-store`. Without
    `gate`, the view decides itself (the sign-in pages, and unsubscribing, which must work
    from any email client).
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, page_slug=None, **kwargs):
            # Languages (issue 18): `render` activates the visitor's language
            # (status/languages.py); the one active before is back once the view has answered.
            with translation.override(translation.get_language()):
                response = answer(request, *args, page_slug=page_slug, **kwargs)
            return with_public_policy(languages.varied(response))

        def answer(request, *args, page_slug=None, **kwargs):
            host_page = on_page_host(request)
            page_id = request.page_host_id if host_page else page_id_for_slug(page_slug)
            if page_id is None:
                raise Http404("No such page")
            if not cached or request.method not in ("GET", "HEAD"):
                return checked(request, get_object_or_404(Page, pk=page_id), *args, **kwargs)
            try:
                state = pagecache.page_state(page_id)
                if state is None:
                    raise Http404("No such page")
                if state[1] != access.Visibility.PUBLIC:
                    return checked(request, get_object_or_404(Page, pk=page_id), *args, **kwargs)
                return cached_answer(request, page_id, *args, **kwargs)
            except DATABASE_DOWN:
                # The last good copy, as it was when the database went away: only of a page
                # last known to be public.
                if not pagecache.known_public(page_id):
                    raise
                stale = pagecache.previous(request, page_id, reads)
                if stale is None:
                    raise
                return stale

        def checked(request, page, *args, **kwargs):
            """The answer of a page not served from the cache: gated unless it is public."""
            if page.is_public or not gate:
                return render(request, page, *args, **kwargs)
            if not access.admitted(request, page):
                return refused(request, page)
            return private(render(request, page, *args, **kwargs))

        def cached_answer(request, page_id, *args, **kwargs):
            hit = pagecache.lookup(request, page_id, reads)
            if hit is not None:
                return hit
            lock = pagecache.claim_render(request, page_id, reads)
            if lock is None:
                # Another request is rendering this version: the previous one meanwhile.
                stale = pagecache.previous(request, page_id, reads, keep=False)
                if stale is not None:
                    return stale
            try:
                if lock:
                    # It may have been stored between our lookup and our lock.
                    hit = pagecache.lookup(request, page_id, reads)
                    if hit is not None:
                        return hit
                page = get_object_or_404(Page, pk=page_id)
                if not page.is_public:
                    # It stopped being public since its state was read: never stored.
                    return checked(request, page, *args, **kwargs)
                return pagecache.store(request, page, render(request, page, *args, **kwargs), reads)
            finally:
                pagecache.release_render(lock)

        def render(request, page, *args, **kwargs):
            request.page = page
            languages.activate_for(request, page)  # Languages (issue 18)
            return languages.in_language(view(request, page, *args, **kwargs), request)

        def with_public_policy(response):
            # Read by csp.middleware.CSPMiddleware (and Django's XFrameOptionsMiddleware) on
            # the way out, on a cache hit as on a miss: the stored headers hold neither.
            # A page that refreshes itself (an incident or maintenance going on) says so in a
            # header (kept with a cached copy) and may run our own scripts, and no others.
            live = LIVE_REFRESH_HEADER in response
            replace = {"script-src": [SELF] if live else [NONE]}
            if framable:
                replace["frame-ancestors"] = ["*"]
                response.xframe_options_exempt = True
            response._csp_replace = {**(getattr(response, "_csp_replace", None) or {}), **replace}
            return response

        wrapper.access = "public"
        return wrapper

    return decorator(view) if view is not None else decorator


def private(response):
    """No shared cache keeps it, and a browser keeps it only for the visitor it was sent to.
    Nor may another site's scripts read it (API v2 allows any origin for public pages): a
    visitor admitted by their network would otherwise hand it to any site they visit."""
    response["Cache-Control"] = "private, no-store"
    for name in (
        "CDN-Cache-Control", "ETag", "Last-Modified", "Expires", "Access-Control-Allow-Origin",
    ):  # fmt: skip
        if name in response:
            del response[name]
    patch_vary_headers(response, ["Cookie"])
    return response


def refused(request, page):
    """The answer to a visitor `page` does not admit: nothing of the page in it."""
    name = request.resolver_match.url_name if request.resolver_match else ""
    if page.visibility != access.Visibility.PRIVATE or name in REFUSED_WITH_404:
        raise Http404("No such page")
    if name.startswith("api-"):
        response = JsonResponse(
            {"error": "unauthorized", "message": PRIVATE_API_MESSAGE}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="status page"'
    else:
        sign_in = page_reverse(request, page, "access")
        response = HttpResponseRedirect(
            f"{sign_in}?{urlencode({'next': request.get_full_path()})}", status=303
        )
    return private(response)


def page_reverse(request, page, name, **kwargs):
    """The path of public view `name` of `page`, as the current request's host serves it."""
    if request is not None and on_page_host(request) and request.page_host_id == page.pk:
        return reverse(f"public:{name}", urlconf=settings.PAGE_HOST_URLCONF, kwargs=kwargs)
    return reverse(
        f"public:{name}", urlconf=settings.ROOT_URLCONF, kwargs={"page_slug": page.slug, **kwargs}
    )
