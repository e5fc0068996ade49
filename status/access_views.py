"""A private page's sign-in, under /p/<slug>/access/ (or /access/ on the page's own host).

The visitor signs in with the page's password or asks for a one-time link by email; either
marks their session for the page (status/access.py). Nothing here names the page or shows its
content to a visitor who is not admitted: the page's name is in the email only, which goes to
allow-listed addresses alone, and every address asking gets the same answer.
"""

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from status import access, limits
from status.hosts import page_reverse, private, public_page

WRONG_PASSWORD = "That is not the password of this page. Check it and try again."  # noqa: S105
TOO_MANY = (
    "Too many attempts from your network. Wait {minutes} minutes and try again, or ask the "
    "page's owner for another way in."
)


class PasswordForm(forms.Form):
    password = forms.CharField(label="Page password", strip=False, widget=forms.PasswordInput)


class EmailForm(forms.Form):
    email = forms.EmailField(label="Your work email address", max_length=254)


def next_path(request, page):
    """Where to go once admitted: the `next` the gate gave, when it is a path on this host."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=False
    ):
        return target
    return page_reverse(request, page, "page")


def opened(request, page):
    """The page for the access views: a draft page is not there for them, and a public one
    needs no sign-in."""
    if page.visibility == access.Visibility.DRAFT:
        raise Http404("No such page")


@public_page(cached=False, gate=False)
@require_http_methods(["GET", "POST"])
def sign_in(request, page):
    opened(request, page)
    if page.is_public:
        return go(request, page)
    if request.method == "GET" and access.admitted(request, page):
        return go(request, page) if request.GET.get("next") else signed_in(request, page)
    password_form, email_form = PasswordForm(), EmailForm()
    status, sent, error = 200, False, None
    if request.method == "POST" and request.POST.get("action") == "password":
        password_form = PasswordForm(request.POST)
        if password_form.is_valid():
            try:
                right = access.check_page_password(
                    request, page, password_form.cleaned_data["password"]
                )
            except access.TooManyAttempts:
                status, error = 429, TOO_MANY.format(minutes=access.PASSWORD_WINDOW // 60)
            else:
                if right:
                    access.grant(request, page, "password")
                    return go(request, page)
                status = 400
                password_form.add_error("password", WRONG_PASSWORD)
        else:
            status = 400
    elif request.method == "POST" and request.POST.get("action") == "email":
        email_form = EmailForm(request.POST)
        if email_form.is_valid():
            try:
                access.ask_link(
                    request,
                    page,
                    email_form.cleaned_data["email"],
                    lambda token: link_url(request, page, token),
                )
            except access.TooManyAttempts:
                status, error = 429, TOO_MANY.format(minutes=limits.RATE_WINDOW // 60)
            else:
                sent = email_form.cleaned_data["email"]
        else:
            status = 400
    elif request.method == "POST":
        status, error = 400, "Choose a way to sign in."
    response = render(
        request,
        "public/access/sign_in.html",
        {
            "offers_password": bool(page.access_password),
            "offers_email": bool(page.allowed_email_domains),
            "offers_address": bool(page.allowed_ips),
            "password_form": password_form,
            "email_form": email_form,
            "sent": sent,
            "error": error,
            "next": next_path(request, page),
            "link_minutes": access.LINK_SECONDS // 60,
        },
        status=status,
    )
    if status == 429:
        password = request.POST.get("action") == "password"
        response["Retry-After"] = str(access.PASSWORD_WINDOW if password else limits.RATE_WINDOW)
    return private(response)


def link_url(request, page, token):
    """The sign-in link, on the host the visitor asked from (their session is kept there)."""
    scheme = settings.SITE_URL.split("://", 1)[0]
    return f"{scheme}://{request.get_host()}" + page_reverse(
        request, page, "access-link", token=token
    )


def go(request, page):
    return private(HttpResponseRedirect(next_path(request, page), status=303))


def signed_in(request, page):
    """An admitted visitor's own page here: feed links carrying a token of their own (for those
    who signed in, and members; one admitted by address or token gets none, which would let
    them read the page from elsewhere), and signing out."""
    who = access.session_viewer(request, page)
    feeds = []
    if who is not None or access.is_member(request, page):
        token = access.viewer_token(page, who or f"member:{request.user.pk}")
        query = "?" + urlencode({"token": token})
        names = (
            ("Atom", "history-atom"),
            ("RSS", "history-rss"),
            ("Maintenance calendar", "maintenance-ics"),
        )
        feeds = [
            (label, request.build_absolute_uri(page_reverse(request, page, name)) + query)
            for label, name in names
        ]
    context = {
        "page": page,
        "who": who,
        "feeds": feeds,
        "home": page_reverse(request, page, "page"),
    }
    return private(render(request, "public/access/signed_in.html", context))


@public_page(cached=False, gate=False)
@require_http_methods(["GET", "POST"])
def use_link(request, page, token):
    """A sign-in link from the email. GET only asks to continue (mail scanners follow links,
    and would use it up); the POST signs in."""
    opened(request, page)
    if page.is_public:
        return go(request, page)
    if request.method == "GET":
        return private(render(request, "public/access/link.html", {"error": None}))
    try:
        email = access.use_link(page, token)
    except access.LinkRefused as refused:
        context = {
            "error": str(refused),
            "email_form": EmailForm(),
            "sign_in": page_reverse(request, page, "access"),
        }
        return private(render(request, "public/access/link.html", context, status=400))
    access.grant(request, page, email)
    return private(HttpResponseRedirect(page_reverse(request, page, "page"), status=303))


@public_page(cached=False, gate=False)
@require_http_methods(["POST"])
def sign_out(request, page):
    marks = dict(request.session.get(access.SESSION_KEY) or {})
    if marks.pop(str(page.pk), None) is not None:
        request.session[access.SESSION_KEY] = marks
    return private(HttpResponseRedirect(page_reverse(request, page, "access"), status=303))
