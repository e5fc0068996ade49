"""Which language a public request or a subscriber gets, and the words visitors read that are
stored in English (statuses, the page banner), marked for translation here.

A page has a default language (Page.language) and the languages it offers (Page.languages). A
public request gets, of the languages the page offers: the one named by `?lang=` (the hreflang
alternates' addresses), else the visitor's choice from the language switcher (a cookie,
settings.LANGUAGE_COOKIE_NAME), else the best match of the browser's Accept-Language, else the
page's default. status.hosts.public_page activates it for the view. What the request asks for
(`preference`, a few codes) is part of every cached response's key (status/pagecache.py): with
the page's version, which every change of its languages bumps, it decides the language, so the
cache is asked without reading the page. Responses vary on Cookie and Accept-Language. A
subscriber gets the language of the request they subscribed in (Subscriber.language), and every
email to them is written in it.

The console and the account pages stay in English.
"""

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_noop
from django.utils.translation.trans_real import parse_accept_lang_header

COOKIE_NAME = settings.LANGUAGE_COOKIE_NAME
# The query parameter that names a language outright: the hreflang alternates' addresses.
QUERY_PARAMETER = "lang"
COOKIE_SECONDS = 365 * 86400
# settings.LANGUAGE_CODE is "en-us"; the pages' English is "en".
FALLBACK = "en"

# The component statuses, the page banner and incident statuses and impacts, stored in English
# and translated where they are shown (`{% translate value %}`, gettext(value)).
STORED_WORDS = (
    # Component statuses (status.models.ComponentStatus).
    gettext_noop("Operational"),
    gettext_noop("Degraded performance"),
    gettext_noop("Partial outage"),
    gettext_noop("Major outage"),
    gettext_noop("Under maintenance"),
    # The page banner (status.models.OverallStatus.banner).
    gettext_noop("All systems operational"),
    gettext_noop("Partially degraded service"),
    gettext_noop("Minor service outage"),
    gettext_noop("Partial system outage"),
    gettext_noop("Major system outage"),
    gettext_noop("Service under maintenance"),
    # The same in title case (OverallStatus.description): the badge and the widget.
    gettext_noop("All Systems Operational"),
    gettext_noop("Partially Degraded Service"),
    gettext_noop("Minor Service Outage"),
    gettext_noop("Partial System Outage"),
    gettext_noop("Major System Outage"),
    gettext_noop("Service Under Maintenance"),
    # Incident statuses and impacts (incidents.models.IncidentStatus, Impact).
    gettext_noop("Investigating"),
    gettext_noop("Identified"),
    gettext_noop("Monitoring"),
    gettext_noop("Resolved"),
    gettext_noop("Postmortem"),
    gettext_noop("Scheduled"),
    gettext_noop("In progress"),
    gettext_noop("Verifying"),
    gettext_noop("Completed"),
    gettext_noop("Update"),
    gettext_noop("None"),
    gettext_noop("Minor"),
    gettext_noop("Major"),
    gettext_noop("Critical"),
    gettext_noop("Maintenance"),
)


def codes():
    """Every language Heliograph speaks, in settings order."""
    return [code for code, _name in settings.LANGUAGES]


def names(offered):
    """[(code, the language's own name)] of the languages in `offered`, in settings order."""
    return [(code, name) for code, name in settings.LANGUAGES if code in offered]


def matching(value, offered):
    """The language of `offered` that `value` ("es", "pt-BR", "es-EC", "pt") names, or None."""
    value = (value or "").strip().lower().replace("_", "-")
    if not value or value == "*":
        return None
    if value in offered:
        return value
    generic = value.split("-")[0]
    if generic in offered:
        return generic
    return next((code for code in offered if code.split("-")[0] == generic), None)


def best_accepted(header, offered):
    """The language of `offered` the Accept-Language `header` prefers, or None."""
    for value, quality in parse_accept_lang_header(header or ""):
        if quality <= 0:
            continue
        found = matching(value, offered)
        if found:
            return found
    return None


def preference(request):
    """What the request asks for, as codes of settings.LANGUAGES: (the `?lang=` one or "",
    the cookie's or "", the Accept-Language ones in order). With the page's languages it
    decides the request's language (`choose`), so the cache keys answers by it
    (status/pagecache.py) without reading the page: a handful of variants at most."""
    every = codes()
    explicit = (request.GET.get(QUERY_PARAMETER) or "").strip().lower()
    cookie = (request.COOKIES.get(COOKIE_NAME) or "").strip().lower()
    accepted = []
    for value, quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        found = matching(value, every) if quality > 0 else None
        if found and found not in accepted:
            accepted.append(found)
    return (
        explicit if explicit in every else "",
        cookie if cookie in every else "",
        tuple(accepted),
    )


def preference_key(request):
    """`preference` in a cache key's characters: "es..", ".pt-br.en+fr"."""
    explicit, cookie, accepted = preference(request)
    return f"{explicit}.{cookie}.{'+'.join(accepted)}"


def choose(default, offered, *, chosen=None, accept=""):
    """A request's language: the visitor's choice (`chosen`, a code) when the page offers it,
    else the best of Accept-Language among those it offers, else the page's default."""
    offered = [code for code in offered if code in codes()] or [default]
    if chosen:
        code = (chosen or "").strip().lower()
        if code in offered:
            return code
    return best_accepted(accept, offered) or (default if default in codes() else FALLBACK)


def choose_for(wanted, default, offered):
    """`choose` for a request's `preference`: the `?lang=` one, else the cookie's, when the page
    offers it; else the first Accept-Language one it offers; else its default."""
    explicit, cookie, accepted = wanted
    for code in (explicit, cookie, *accepted):
        if code and code in offered:
            return code
    return default if default in codes() else FALLBACK


def for_request(request, page):
    """The language of a public request for `page`."""
    return choose_for(preference(request), page.language, page.languages)


def activate_for(request, page):
    """Activate the language of a public request (status.hosts.public_page restores the one
    before when the view has answered) and note it as request.LANGUAGE_CODE."""
    code = for_request(request, page)
    translation.activate(code)
    request.LANGUAGE_CODE = code
    return code


def in_language(response, request):
    """The view's answer says which language it is in (kept with a cached copy)."""
    code = getattr(request, "LANGUAGE_CODE", None)
    if code:
        response.headers.setdefault("Content-Language", code)
    return response


def varied(response):
    """A public answer varies with what chose its language (the cache's stored headers say
    HX-Request only: this is added to hits as to misses)."""
    patch_vary_headers(response, ("Cookie", "Accept-Language"))
    return response


def of_subscribe_request(request, page):
    """The language a subscriber subscribing with `request` gets: the page's language of the
    request (public_page chose it), else the page's default."""
    return getattr(request, "LANGUAGE_CODE", None) or page.language


def for_subscriber(subscriber):
    """What to write to a subscriber in (settings.LANGUAGES' code)."""
    return subscriber.language if subscriber.language in codes() else FALLBACK
