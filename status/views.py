import hashlib
import logging
import smtplib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.http import HttpResponseNotFound, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import (
    url_has_allowed_host_and_scheme,
    urlsafe_base64_decode,
    urlsafe_base64_encode,
)
from django.views import defaults
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_http_methods
from django.views.static import serve

from status.forms import ResetPasswordForm, SignupForm
from status.limits import RATE_WINDOW, client_key, over_limit
from status.models import Page, Role
from status.tenancy import public_view

log = logging.getLogger(__name__)


@public_view
def home(request):
    if request.user.is_authenticated:
        return redirect("manage:home")
    return render(request, "status/home.html")


def not_found(request, exception):
    """404 on the main site; under /api/ in Statuspage's error shape, which API clients read."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": "not_found", "message": f"There is no API endpoint at {request.path}."},
            status=404,
        )
    return defaults.page_not_found(request, exception)


def page_host_not_found(request, exception):
    """404 on a page's own host, where the main site's links do not resolve."""
    return HttpResponseNotFound(render_to_string("page_not_found.html", request=request))


@public_view
@cache_control(public=True, max_age=3600)
def media(request, path):
    """Uploaded files (page logos). Small and rarely changed; a CDN may keep them an hour."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


def safe_next(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return ""
    return next_url


class SignupTokenGenerator(PasswordResetTokenGenerator):
    """Tokens of the link that activates a new account: of their own kind (a password reset
    token does not activate, nor the reverse), and dead once the account is active."""

    key_salt = "status.views.SignupTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


signup_tokens = SignupTokenGenerator()
SIGNUP_LINK_DAYS = settings.PASSWORD_RESET_TIMEOUT // 86400


def send_signup_email(user, created, next_url):
    """Tell the address's owner what their sign-up did: the link that activates a new account
    (again, for an account never activated), or that they already have one."""
    context = {"SITE_NAME": settings.SITE_NAME, "days": SIGNUP_LINK_DAYS}
    if created or (not user.is_active and user.last_login is None):
        template = "signup_confirm"
        path = reverse(
            "signup-confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": signup_tokens.make_token(user),
            },
        )
        query = f"?{urlencode({'next': next_url})}" if next_url else ""
        context["url"] = f"{settings.SITE_URL}{path}{query}"
    else:
        template = "signup_exists"
        context["login_url"] = settings.SITE_URL + reverse("login")
        context["reset_url"] = settings.SITE_URL + reverse("password_reset")
    subject = render_to_string(f"emails/{template}_subject.txt", context)
    try:
        send_mail(
            " ".join(subject.split()),
            render_to_string(f"emails/{template}.txt", context),
            None,
            [user.email or user.username],
            html_message=render_to_string(f"emails/{template}.html", context),
        )
    except (smtplib.SMTPException, OSError):
        # Answered the same anyway; signing up again sends it again.
        log.exception("Sending the sign-up email to user %s failed", user.pk)


def account_email_limit(request, email):
    """Sign-up and password reset send email to an address anyone may type: counted per IP
    address and per email address, together. "ip" or "address" when over one, else None."""
    if over_limit(f"account-ip:{client_key(request)}", settings.ACCOUNT_EMAILS_PER_IP):
        log.info("sign-up or password reset: over the limit of its IP address")
        return "ip"
    address = hashlib.sha256((email or "").strip().lower().encode()).hexdigest()
    if over_limit(f"account-address:{address}", settings.ACCOUNT_EMAILS_PER_ADDRESS):
        # Answered as usual (nothing tells whether the address has an account); logged, for
        # the operators of someone who says their reset email never came.
        log.warning("sign-up or password reset: over the limit of address %s…", address[:12])
        return "address"
    return None


def too_many_requests(request):
    response = render(
        request, "registration/too_many.html", {"minutes": RATE_WINDOW // 60}, status=429
    )
    response["Retry-After"] = str(RATE_WINDOW)
    return response


class ResetPassword(auth_views.PasswordResetView):
    """Django's, rate-limited like sign-up. Over the limit for an address it answers as
    usual and sends nothing (the answer never says whether an address has an account)."""

    form_class = ResetPasswordForm
    extra_email_context = {"site_name": settings.SITE_NAME}

    def form_valid(self, form):
        limited = account_email_limit(self.request, form.cleaned_data["email"])
        if limited == "ip":
            return too_many_requests(self.request)
        if limited == "address":
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


@public_view
def signup(request):
    """Answers the same whether the email has an account or not: the rest goes by email."""
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or "manage:home")
    # Signing up to accept an invitation: an account only, the team comes with the invitation.
    joining = next_url.startswith("/invitations/")
    form = SignupForm(request.POST or None, joining=joining)
    if request.method == "POST" and form.is_valid():
        limited = account_email_limit(request, form.cleaned_data["email"])
        if limited == "ip":
            return too_many_requests(request)
        if limited is None:
            user, created = form.save()
            send_signup_email(user, created, next_url)
        # Over the limit for the address: the same answer, and no account or email.
        return render(
            request,
            "registration/signup_sent.html",
            {"email": form.cleaned_data["email"], "next": next_url, "days": SIGNUP_LINK_DAYS},
        )
    return render(
        request,
        "registration/signup.html",
        {"form": form, "next": next_url, "joining": joining},
    )


@public_view
@never_cache
@require_http_methods(["GET", "POST"])
def signup_confirm(request, uidb64, token):
    """The link in the sign-up email. GET shows a button (a mail scanner following links
    activates nothing); its POST activates the account and signs its owner in."""
    User = get_user_model()
    try:
        user = User.objects.get(pk=urlsafe_base64_decode(uidb64).decode())
    except (ValueError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or user.is_active or not signup_tokens.check_token(user, token):
        return render(request, "registration/signup_invalid.html", status=404)
    next_url = safe_next(request)
    if request.method == "GET":
        return render(
            request, "registration/signup_confirm.html", {"email": user.email, "next": next_url}
        )
    user.is_active = True
    user.save(update_fields=["is_active"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if next_url:
        return redirect(next_url)
    page = Page.objects.for_user(user, Role.OWNER).order_by("created_at").first()
    if page is None:
        return redirect("manage:home")
    return redirect("manage:page", page_code=page.code)  # its start checklist
