from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from status import accounts_views, views
from status.tenancy import public_view

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/confirm/<uidb64>/<token>/", views.signup_confirm, name="signup-confirm"),
    # Django's sign-in with the two-factor step and "SSO only" (status/accounts_views.py).
    path("login/", accounts_views.sign_in, name="login"),
    path("two-factor/", accounts_views.two_factor, name="two-factor"),
    path("two-factor/setup/", accounts_views.two_factor_setup, name="two-factor-setup"),
    path("two-factor/verify/", accounts_views.two_factor_verify, name="two-factor-verify"),
    path("sessions/", accounts_views.sessions, name="sessions"),
    path("sessions/<str:code>/end/", accounts_views.session_end, name="session-end"),
    path("sso/", accounts_views.sso_start, name="sso"),
    path("sso/callback/", accounts_views.sso_callback, name="sso-callback"),
    path("logout/", public_view(auth_views.LogoutView.as_view()), name="logout"),
    path(
        "password/reset/",
        # The link in the email is built on SITE_URL (ResetPasswordForm), not on this Host.
        public_view(views.ResetPassword.as_view()),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        public_view(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        public_view(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        public_view(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path(
        "password/change/",
        public_view(auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("manage:home"))),
        name="password_change",
    ),
]
