"""What every console view answers with, with and without HTMX.

A form posted by HTMX gets its own fragment back (with its errors) to swap in place, and a
finished change makes HTMX load the next page in full; without JavaScript the same views answer
a plain POST with the whole page or a redirect. Used by status/console.py, status/team.py,
incidents/console.py and notifications/console.py.
"""

import secrets
from urllib.parse import urlsplit

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from status.models import Role, SubmittedForm

SUBMIT_ONCE_FIELD = "submit_once"


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


class SubmitOnce:
    """`{{ submit_once }}` in a console form: a hidden field with a token of its own each time
    it is rendered, so that SubmitOnceMiddleware can tell the same form sent twice."""

    def __html__(self):
        return format_html(
            '<input type="hidden" name="{}" value="{}">',
            SUBMIT_ONCE_FIELD,
            secrets.token_urlsafe(16),
        )

    __str__ = __html__


class SubmitOnceMiddleware:
    """A console form is carried out once: a double click, a reload or the back button sends the
    same token again, and that second request changes nothing and says so.

    A POST with a form token runs in one transaction with the token's record, which is kept
    only when the view finished a change (it redirects, itself or through HTMX); when the same
    token was kept already (a second request waits for the first to commit), the second's
    writes are undone and it goes back to the page it came from.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request.POST.get(SUBMIT_ONCE_FIELD) if request.method == "POST" else None
        if not token or len(token) > 64:
            return self.get_response(request)
        with transaction.atomic():
            response = self.get_response(request)
            if not finished_a_change(response):
                return response
            try:
                with transaction.atomic():
                    SubmittedForm.objects.create(token=token)
            except IntegrityError:
                transaction.set_rollback(True)
                messages.info(request, "That form was already sent; nothing was changed twice.")
                return done(request, back_to(request))
        return response


QUICK_CHANGE_KEY = "quick_status_change"


def remember_quick_change(request, component, quick):
    """Without JavaScript, a quick status change redirects: the page it returns to shows the
    change's "Saved" and Undo (through `recall_quick_change`) once."""
    request.session[QUICK_CHANGE_KEY] = {"component": component.code, **quick}


def recall_quick_change(request, components):
    """Mark the component a quick change was just made to (without JavaScript) with its
    `quick` details, for manage/_component_status_form.html."""
    quick = request.session.pop(QUICK_CHANGE_KEY, None)
    if quick:
        for component in components:
            if component.code == quick["component"]:
                component.quick = quick


def finished_a_change(response):
    return response.status_code in (301, 302, 303) or "HX-Redirect" in response


def back_to(request):
    """The page a form was sent from, when it is ours; else the form's own URL."""
    referer = request.headers.get("referer", "")
    if url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure()):
        return referer
    return request.path
