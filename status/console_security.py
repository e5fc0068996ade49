"""The console's security settings of a tenant (owners): two-factor required of every member, and
single sign-on through the tenant's OpenID Connect provider (status/sso.py)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from status import sso, twofactor
from status.htmx import can_manage, done, render_form
from status.models import Role, SingleSignOn, Tenant, record_audit, snapshot
from status.tenancy import page_member

SSO_FIELDS = ["enabled", "issuer", "client_id", "sso_only", "default_role"]


class SecurityForm(forms.Form):
    require_two_factor = forms.BooleanField(
        required=False,
        label="Require two-factor authentication",
        help_text="Members without an authenticator app are asked to set one up before they "
        "reach this organisation's pages. Sign-ins through your single sign-on count as your "
        "provider's own.",
    )
    enabled = forms.BooleanField(required=False, label="Single sign-on (OpenID Connect)")
    issuer = forms.URLField(
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="Your provider's issuer URL, such as https://login.example.com/realms/staff: "
        "its discovery document is read from <code>/.well-known/openid-configuration</code>.",
    )
    client_id = forms.CharField(required=False, max_length=200, label="Client ID")
    client_secret = forms.CharField(
        required=False,
        max_length=500,
        label="Client secret",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    sso_only = forms.BooleanField(
        required=False,
        label="Single sign-on only",
        help_text="Members may not sign in with a password.",
    )
    default_role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        help_text="The role of people who join through single sign-on.",
    )

    def __init__(self, *args, tenant, config, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.config = config
        self.user = user
        if config is not None and config.client_secret:
            self.fields["client_secret"].help_text = "Kept; leave empty to keep it."

    def clean(self):
        data = super().clean()
        turning_on = data.get("require_two_factor") and not self.tenant.require_two_factor
        if turning_on and not twofactor.has_two_factor(self.user):
            self.add_error(
                "require_two_factor",
                "Set up two-factor authentication for yourself first (Account security → Set up "
                "two-factor authentication), so that you are not shut out.",
            )
        if data.get("sso_only") and not data.get("enabled"):
            self.add_error("sso_only", "Single sign-on only needs single sign-on turned on.")
        if not data.get("enabled") or self.errors:
            return data
        secret = data.get("client_secret") or (self.config.client_secret if self.config else "")
        for name, value in (("issuer", data.get("issuer")), ("client_id", data.get("client_id"))):
            if not value:
                self.add_error(name, "Single sign-on needs this.")
        if not secret:
            self.add_error("client_secret", "Single sign-on needs this.")
        if self.errors:
            return data
        data["issuer"] = data["issuer"].rstrip("/")
        try:
            sso.check_config(SingleSignOn(issuer=data["issuer"]))
        except forms.ValidationError as error:
            self.add_error(None, error)
        return data


def initial_of(tenant, config):
    initial = {"require_two_factor": tenant.require_two_factor}
    if config is not None:
        initial.update({name: getattr(config, name) for name in SSO_FIELDS})
    return initial


@page_member(role=Role.VIEWER)
@require_http_methods(["GET", "POST"])
def security(request, page):
    """Every member reads the settings (never the secret); owners change them."""
    if request.method == "POST" and not can_manage(page):
        raise PermissionDenied("Only owners can change the security settings.")
    tenant = page.tenant
    config = SingleSignOn.objects.filter(tenant=tenant).first()
    form = SecurityForm(
        request.POST or None,
        initial=initial_of(tenant, config),
        tenant=tenant,
        config=config,
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
            before = {"require_two_factor": locked.require_two_factor}
            config = SingleSignOn.objects.select_for_update().filter(tenant=tenant).first()
            if config is not None:
                before.update(snapshot(config, SSO_FIELDS))
            locked.require_two_factor = data["require_two_factor"]
            locked.save(update_fields=["require_two_factor"])
            config = config or SingleSignOn(tenant=locked)
            for name in SSO_FIELDS:
                if name in ("issuer", "client_id") and not data[name]:
                    continue  # turning single sign-on off keeps what was entered
                setattr(config, name, data[name])
            if data["client_secret"]:
                config.client_secret = data["client_secret"]
            config.save()
            after = {
                "require_two_factor": locked.require_two_factor,
                **snapshot(config, SSO_FIELDS),
            }
            if before != after:
                # The secret is never written to the log, only that it changed.
                if data["client_secret"]:
                    after["client_secret"] = "changed"  # noqa: S105 (a word, not a secret)
                record_audit(page, "tenant.security", locked, before=before, after=after,
                             by=request.user)  # fmt: skip
        messages.success(request, "Security settings saved.")
        return done(request, reverse("manage:security", kwargs={"page_code": page.code}))
    return render_form(
        request,
        "manage/security.html",
        "security-form",
        {
            "page": page,
            "form": form,
            "config": config,
            "can_change": can_manage(page),
            "callback_url": sso.callback_url(),
        },
        status=400 if form.errors else 200,
    )
