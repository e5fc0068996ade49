"""The public pages' language switcher: a link per language the page offers leads here, which
remembers the choice in a cookie and sends the visitor back where they were
(status/languages.py chooses the language of every public request)."""

from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from status import languages
from status.hosts import page_reverse, public_page


# Gated as every public view: a draft's or a private page's switcher tells an outsider nothing
# (not even that the page exists, nor its languages).
@public_page(cached=False)
def choose_language(request, page):
    code = request.GET.get(languages.QUERY_PARAMETER, "")
    if code not in page.languages:
        offered = ", ".join(page.languages)
        return HttpResponseBadRequest(
            f"This page is offered in: {offered}.", content_type="text/plain; charset=utf-8"
        )
    # `next`: where to go back to, below the page's root ("history/"); anything else (an
    # address, a path outside the page) goes back to the page itself.
    root = page_reverse(request, page, "page")
    below = request.GET.get("next", "")
    back = root + below
    if (
        not below
        or below.startswith(("/", "\\"))
        or ":" in below
        or ".." in below
        or not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        back = root
    response = HttpResponseRedirect(back, status=303)
    response.set_cookie(
        languages.COOKIE_NAME,
        code,
        max_age=languages.COOKIE_SECONDS,
        samesite="Lax",
        secure=request.is_secure(),
    )
    response["Cache-Control"] = "private, no-store"
    return response
