"""The signed-in person's own account: sign-in (with the two-factor step), two-factor set-up,
the list of their sessions, and sign-in through an organisation's single sign-on; and the
middleware that holds the rules of all three on every request.

Account pages are about the person, never about a tenant's objects: they are marked "public"
(like Django's password change) and need a signed-in user themselves.

Session keys: a password accepted for someone with two-factor waits in PENDING until a code
comes; SSO_PENDING holds a single sign-on on its way to the provider and back; SSO_TENANT marks
a session opened through a tenant's single sign-on, which reaches that tenant's console only
(another tenant's owner could otherwise vouch for anyone's email address).
"""

import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from status import access, sso, twofactor
from status.forms import SignInForm
from status.models import (
    SECOND_FACTOR_DUE_KEY,
    Page,
    SingleSignOn,
    Tenant,
    UserSession,
)

PENDING = "two_factor_pending"
SSO_PENDING = "sso_pending"
SSO_TENANT = access.SSO_SESSION_KEY
# A password accepted this long ago, without a code since, has to be typed again.
PENDING_SECONDS = 600
# Wrong codes after a password before it has to be typed again (django-otp also slows each
# device down after every failure).
PENDING_TRIES = 5
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def account_view(view):
    """A page of the signed-in person's own account."""
    wrapped = login_required(view)
    wrapped.access = "public"
    return wrapped


def public(view):
    view.access = "public"
    return view


def next_url(request, default=""):
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


def with_next(name, url):
    return reverse(name) + ("?" + urlencode({"next": url}) if url else "")


# Who must do what: the middleware


def sso_tenant_of(request):
    return request.session.get(SSO_TENANT) if hasattr(request, "session") else None


class AccountSecurityMiddleware:
    """After authentication (and django-otp's middleware):

    - /admin/ needs a second factor for platform staff when settings.ADMIN_REQUIRES_TWO_FACTOR
      (DEBUG off), and a password sign-in (not a tenant's single sign-on);
    - a tenant's console pages need, for its members: its single sign-on when it is "SSO only";
      two-factor when the tenant requires it (a session through its own single sign-on counts,
      the provider being the tenant's own); and a session not opened through another tenant's
      single sign-on;
    - every signed-in request keeps its session's row (UserSession) up to date, at most once a
      minute, for the sessions page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        record_session(request)
        return response

    def process_view(self, request, view, args, kwargs):
        user = request.user
        if not user.is_authenticated:
            return None
        match = request.resolver_match
        if match is None:
            return None
        due = request.session.get(SECOND_FACTOR_DUE_KEY) and sso_tenant_of(request) is None
        if due and not user.is_verified() and match.url_name not in ("two-factor-verify", "logout"):
            if twofactor.has_two_factor(user):
                return second_factor_needed(request, "Your account has two-factor authentication.")
            request.session.pop(SECOND_FACTOR_DUE_KEY)  # turned off since
        if match.namespace == "admin":
            return admin_gate(request)
        if getattr(view, "access", None) == "tenant" and "page_code" in kwargs:
            return tenant_gate(request, kwargs["page_code"])
        return None


def admin_gate(request):
    user = request.user
    if not (settings.ADMIN_REQUIRES_TWO_FACTOR and user.is_staff):
        return None
    if sso_tenant_of(request) is not None:
        return render(
            request,
            "accounts/refused.html",
            {
                "title": "Sign in with your password",
                "text": "Platform administration needs a sign-in with your password and "
                "two-factor code, not an organisation's single sign-on.",
                "link": with_next("login", request.get_full_path()),
                "link_text": "Sign in with your password",
            },
            status=403,
        )
    if user.is_verified():
        return None
    return second_factor_needed(request, "Platform administration needs two-factor authentication.")


def second_factor_needed(request, why):
    """To the code step (who has an authenticator) or to setting one up, then back here."""
    here = request.get_full_path()
    if twofactor.has_two_factor(request.user):
        messages.info(request, f"{why} Enter a code from your authenticator app.")
        return redirect(with_next("two-factor-verify", here))
    messages.info(request, f"{why} Set it up to go on.")
    return redirect(with_next("two-factor", here))


def tenant_gate(request, page_code):
    user = request.user
    # One query: the page's tenant and its rules, if `user` is a member of it.
    found = (
        Page.objects.filter(code=page_code, tenant__memberships__user=user)
        .values(
            "tenant_id",
            "tenant__name",
            "tenant__slug",
            "tenant__require_two_factor",
            "tenant__single_sign_on__enabled",
            "tenant__single_sign_on__sso_only",
        )
        .first()
    )
    if found is None:
        return None  # the view answers 404, as for any page of another tenant
    tenant = found["tenant__name"]
    through = sso_tenant_of(request)
    if through is not None and through != found["tenant_id"]:
        other = Tenant.objects.filter(pk=through).first()
        messages.info(
            request,
            f"You signed in through {other or 'another organisation'}'s single sign-on, which "
            f"opens its pages only. Sign in with your password to reach {tenant}.",
        )
        return redirect(with_next("login", request.get_full_path()))
    ours = through == found["tenant_id"]
    sso_only = (
        found["tenant__single_sign_on__enabled"] and found["tenant__single_sign_on__sso_only"]
    )
    if sso_only and not ours:
        messages.info(request, f"Members of {tenant} sign in through its single sign-on.")
        return redirect(reverse("sso") + "?" + urlencode({"organisation": found["tenant__slug"]}))
    if found["tenant__require_two_factor"] and not ours and not user.is_verified():
        return second_factor_needed(request, f"{tenant} requires two-factor authentication.")
    return None


def record_session(request):
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and hasattr(request, "session"):
        UserSession.record(request, user)


def signed_in_with(request, how):
    """Say how this session signed in, on the sessions page."""
    UserSession.objects.filter(session_key=request.session.session_key).update(
        signed_in_with=how[:200]
    )


# Sign-in


def sso_only_tenants(user):
    return list(
        Tenant.objects.filter(
            memberships__user=user, single_sign_on__enabled=True, single_sign_on__sso_only=True
        )
    )


class SignInView(LoginView):
    """Django's sign-in, then: refused for members of a tenant that is "SSO only"; for someone
    with two-factor, the password alone signs nobody in: the code step does."""

    authentication_form = SignInForm
    # Someone signed in through a tenant's single sign-on may come here to sign in with a
    # password to reach another tenant.
    redirect_authenticated_user = False

    def form_valid(self, form):
        user = form.get_user()
        if tenants := sso_only_tenants(user):
            names = ", ".join(str(t) for t in tenants)
            form.add_error(
                None,
                f"Members of {names} sign in through single sign-on, not with a password: use "
                "“Sign in with your organisation's SSO” below.",
            )
            return self.form_invalid(form)
        session = self.request.session
        if twofactor.has_two_factor(user):
            session[PENDING] = {
                "user": user.pk,
                "backend": user.backend,
                "at": time.time(),
                "tries": 0,
                "next": self.get_success_url(),
            }
            return redirect("two-factor-verify")
        response = super().form_valid(form)
        self.request.session.pop(SSO_TENANT, None)
        signed_in_with(self.request, "Password")
        return response


sign_in = public(never_cache(SignInView.as_view()))


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6-digit code your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


WRONG_CODE = (
    "That code is not right, or was used already. Codes change every 30 seconds: check that "
    "your device's clock is right, or use a recovery code."
)


def checked_code(user, code, device=None):
    """(the device that accepts `code`, or None; the error to show when none does). After a
    wrong code django-otp makes the next try wait (a second, doubling): a try too soon is not
    made, and the person is told how long to wait."""
    if wait := twofactor.wait_seconds(user, device):
        return None, (
            f"Too many wrong codes for now: wait {wait} second{'s' if wait != 1 else ''}, then "
            "enter the code the app shows then."
        )
    if device is not None:
        codes = twofactor.confirm_enrolment(device, code)
        return codes, None if codes is not None else WRONG_CODE
    found = twofactor.verify(user, code)
    return found, None if found is not None else WRONG_CODE


def pending_user(request):
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return user, pending


@public
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    """The second step of signing in: a code from the authenticator app, or a recovery code.
    Also for a signed-in person whose session has no second factor yet where one is needed."""
    user, pending = pending_user(request)
    if user is None:
        if request.user.is_authenticated and twofactor.has_two_factor(request.user):
            user = request.user
            if request.user.is_verified():
                return redirect(next_url(request, reverse("manage:home")))
        else:
            request.session.pop(PENDING, None)
            messages.info(request, "Sign in again: the sign-in was too long ago.")
            return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device, error = checked_code(user, form.cleaned_data["code"])
        if device is None:
            if pending is not None:
                pending["tries"] = pending.get("tries", 0) + 1
                request.session[PENDING] = pending
                if pending["tries"] >= PENDING_TRIES:
                    request.session.pop(PENDING, None)
                    messages.error(request, "Too many wrong codes: sign in again.")
                    return redirect("login")
            form.add_error("code", error)
        else:
            target = next_url(request, "")
            if pending is not None:
                request.session.pop(PENDING, None)
                login(request, user, backend=pending["backend"])
                request.session.pop(SSO_TENANT, None)
                target = target or pending.get("next") or reverse("manage:home")
            otp_login(request, device)
            recovery = isinstance(device, StaticDevice)
            signed_in_with(
                request,
                "Password and a recovery code" if recovery else "Password and authenticator app",
            )
            if recovery:
                left = twofactor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You used a recovery code; {left} left. Make new ones in your account's "
                    "two-factor settings if you are running short.",
                )
            return redirect(target or reverse("manage:home"))
    status = 400 if form.errors else 200
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "next": next_url(request)},
        status=status,
    )


# Two-factor set-up


def required_by(user):
    """The tenants of `user` that require two-factor."""
    return list(Tenant.objects.filter(memberships__user=user, require_two_factor=True))


def refuse_through_sso(request):
    """Account security is changed after a password sign-in only: a session opened through a
    tenant's single sign-on (which that tenant's owner controls) may not change it."""
    if sso_tenant_of(request) is None:
        return None
    return render(
        request,
        "accounts/refused.html",
        {
            "title": "Sign in with your password",
            "text": "You signed in through your organisation's single sign-on. To change your "
            "account's security (two-factor authentication, sessions), sign in with your "
            "password.",
            "link": with_next("login", request.get_full_path()),
            "link_text": "Sign in with your password",
        },
        status=403,
    )


@account_view
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Two-factor authentication: on or off, and its recovery codes."""
    if refused := refuse_through_sso(request):
        return refused
    user = request.user
    device = twofactor.authenticator(user)
    form = CodeForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "start" and device is None:
            twofactor.start_enrolment(user)
            return redirect(with_next("two-factor-setup", next_url(request)))
        if device is not None and not user.is_verified():
            return second_factor_needed(request, "Confirm it is you first.")
        if action == "codes" and device is not None:
            codes = twofactor.new_recovery_codes(user)
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": ""})
        if action == "off" and device is not None:
            form = CodeForm(request.POST)
            tenants = required_by(user)
            if tenants:
                form.add_error(
                    None,
                    f"{', '.join(map(str, tenants))} requires two-factor authentication of its "
                    "members, so it stays on.",
                )
            elif form.is_valid():
                found, error = checked_code(user, form.cleaned_data["code"])
                if found is None:
                    form.add_error("code", error)
                else:
                    twofactor.turn_off(user)
                    messages.success(request, "Two-factor authentication is off.")
                    return redirect("two-factor")
        elif action not in ("start", "codes", "off"):
            raise Http404("No such action")
    return render(
        request,
        "accounts/two_factor.html",
        {
            "device": device,
            "codes_left": twofactor.recovery_codes_left(user) if device else 0,
            "required_by": required_by(user),
            "form": form,
            "next": next_url(request),
        },
        status=400 if form.errors else 200,
    )


@account_view
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request):
    """Setting up an authenticator app: its QR code (and key, to type in), then a code from it
    to confirm; the recovery codes are shown once, in the answer."""
    if refused := refuse_through_sso(request):
        return refused
    user = request.user
    if twofactor.has_two_factor(user):
        return redirect("two-factor")
    device = twofactor.pending_authenticator(user) or twofactor.start_enrolment(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes, error = checked_code(user, form.cleaned_data["code"], device)
        if codes is None:
            form.add_error("code", error)
        else:
            otp_login(request, device)
            return render(
                request,
                "accounts/recovery_codes.html",
                {"codes": codes, "next": next_url(request), "new": True},
            )
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr_code": twofactor.qr_code_svg(device),
            "secret": twofactor.secret_of(device),
            "uri": device.config_url,
            "next": next_url(request),
        },
        status=400 if form.errors else 200,
    )


# Sessions


@account_view
@never_cache
@require_http_methods(["GET", "POST"])
def sessions(request):
    """The person's signed-in browsers; POST signs out every one but this."""
    refused = refuse_through_sso(request)
    if refused:
        return refused
    user = request.user
    current = request.session.session_key
    if request.method == "POST":
        others = UserSession.objects.filter(user=user).exclude(session_key=current)
        ended, _ = others.end()
        messages.success(
            request,
            "Signed out everywhere else." if ended else "There was nowhere else to sign out.",
        )
        return redirect("sessions")
    record_session(request)
    # Rows of sessions that ended otherwise (signed out, expired) go.
    UserSession.objects.filter(user=user).exclude(
        pk__in=UserSession.objects.live().filter(user=user).values("pk")
    ).delete()
    rows = list(UserSession.objects.filter(user=user))
    for row in rows:
        row.current = row.session_key == current
    return render(request, "accounts/sessions.html", {"sessions": rows})


@account_view
@require_POST
def session_end(request, code):
    refused = refuse_through_sso(request)
    if refused:
        return refused
    row = get_object_or_404(UserSession, user=request.user, code=code)
    if row.session_key == request.session.session_key:
        messages.info(request, "That is this session: use Sign out.")
        return redirect("sessions")
    UserSession.objects.filter(pk=row.pk).end()
    messages.success(request, "That session is signed out.")
    return redirect("sessions")


# Single sign-on


class OrganisationForm(forms.Form):
    organisation = forms.SlugField(
        label="Organisation",
        max_length=50,
        help_text="Your organisation's short name on this site, as your team's owner gave it.",
        widget=forms.TextInput(attrs={"autofocus": True, "autocapitalize": "none"}),
    )


@public
@never_cache
@require_http_methods(["GET", "POST"])
def sso_start(request):
    """ "Sign in with your organisation's SSO": the organisation's short name, then off to its
    provider."""
    if request.method == "POST":
        form = OrganisationForm(request.POST)
    else:
        form = OrganisationForm(initial={"organisation": request.GET.get("organisation", "")})
    if request.method == "POST" and form.is_valid():
        slug = form.cleaned_data["organisation"].lower()
        config = SingleSignOn.objects.select_related("tenant").filter(
            tenant__slug=slug, enabled=True
        )
        config = config.first()
        if config is None:
            form.add_error(
                "organisation", "No organisation of that name signs in with single sign-on here."
            )
        else:
            try:
                url, pending = sso.start(config, sso.callback_url())
            except sso.SignOnError as error:
                form.add_error(
                    None,
                    f"{config.tenant}'s sign-in service cannot be used right now: {error} Ask "
                    "its owner, or sign in with your password.",
                )
            else:
                request.session[SSO_PENDING] = pending
                # A page that moves on by itself rather than a redirect: the form's POST may
                # only lead to our own origin (Content-Security-Policy form-action 'self').
                return render(
                    request, "accounts/sso_redirect.html", {"url": url, "tenant": config.tenant}
                )
    return render(
        request,
        "accounts/sso_start.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@public
@never_cache
@require_http_methods(["GET"])
def sso_callback(request):
    """Where the provider sends the person back: signed in, or told why not."""
    # Taken out first: a state is good for one try, whatever its outcome.
    pending = request.session.pop(SSO_PENDING, None)
    try:
        config, claims = sso.finish(pending, request.GET, sso.callback_url())
        membership = sso.member_for(config, claims)
    except sso.SignOnError as error:
        return render(request, "accounts/sso_failed.html", {"error": str(error)}, status=400)
    user = membership.user
    login(request, user, backend=MODEL_BACKEND)
    request.session[SSO_TENANT] = config.tenant_id
    # The tenant's provider stands for the second factor, on this tenant's pages only.
    request.session.pop(SECOND_FACTOR_DUE_KEY, None)
    signed_in_with(request, f"{config.tenant}'s single sign-on")
    page = config.tenant.pages.order_by("created_at").first()
    if page is None:
        return redirect("manage:home")
    return redirect("manage:page", page_code=page.code)
