"""What every console view answers with, with and without HTMX.

A form posted by HTMX gets its own fragment back (with its errors) to swap in place, and a
finished change makes HTMX load the next page in full; without JavaScript the same views answer
a plain POST with the whole page or a redirect. Used by status/console.py, status/team.py,
incidents/console.py and notifications/console.py.
"""

from urllib.parse import urlsplit

from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

from status.models import Role


def can_edit(page):
    """Whether the member viewing `page` (through `page_member`) may change what it shows."""
    return page.membership.allows(Role.EDITOR)


def can_manage(page):
    """Whether the member viewing `page` may change its settings, the team and the API keys."""
    return page.membership.allows(Role.OWNER)


def render_form(request, template, partial, context, status=200):
    """The whole page, or with HTMX only the form's partial, to swap in place."""
    if request.htmx:
        template = f"{template}#{partial}"
    return render(request, template, context, status=status)


def done(request, url):
    """After a change: a redirect, which HTMX must follow as a full page load."""
    if request.htmx:
        if urlsplit(request.htmx.current_url or "").path == urlsplit(url).path:
            # Only another #fragment on the same page would scroll, not reload.
            url = url.split("#")[0]
        return HttpResponseClientRedirect(url)
    return redirect(url)


def confirm(request, page, *, title, text, button, cancel, error=None, extra=None):
    """The confirmation page a destructive button leads to without JavaScript (with HTMX the
    browser asks instead, through hx-confirm). It posts back to the same URL, with `extra` as
    hidden fields."""
    return render(
        request,
        "manage/team/confirm.html",
        {
            "page": page,
            "title": title,
            "text": text,
            "button": button,
            "cancel": cancel,
            "error": error,
            "extra": extra or {},
        },
    )
