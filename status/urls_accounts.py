from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from status import views
from status.forms import SignInForm
from status.tenancy import public_view

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/confirm/<uidb64>/<token>/", views.signup_confirm, name="signup-confirm"),
    path(
        "login/",
        public_view(
            auth_views.LoginView.as_view(
                authentication_form=SignInForm, redirect_authenticated_user=True
            )
        ),
        name="login",
    ),
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
