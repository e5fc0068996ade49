import zoneinfo
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordResetForm,
    UserCreationForm,
    UsernameField,
)
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.text import slugify

from status.models import (
    Component,
    ComponentGroup,
    Membership,
    Page,
    Role,
    Tenant,
    normalise_domain,
    slug_validator,
    validate_no_control_characters,
    validate_not_our_domain,
    validate_slug,
)

User = get_user_model()


class SignupForm(UserCreationForm):
    """A new user, with the tenant they own and its first status page.

    It answers the same whether the email has an account or not (status/views.py tells the
    rest to the address's owner by email), so that nobody learns who has one."""

    email = forms.EmailField()
    company = forms.CharField(
        max_length=100,
        validators=[validate_no_control_characters],
        help_text="Shown at the top of your status page.",
    )
    page_slug = forms.CharField(
        max_length=50,
        label="Page address",
        validators=[slug_validator, validate_slug],
        help_text="Lowercase letters, digits and hyphens; your page is served at /p/your-address/.",
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["email"]

    def __init__(self, *args, joining=False, **kwargs):
        """`joining`: the user signs up to accept an invitation, so no tenant or page of
        their own is created."""
        super().__init__(*args, **kwargs)
        self.joining = joining
        self.page = None
        if joining:
            del self.fields["company"]
            del self.fields["page_slug"]

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def existing_user(self):
        email = self.cleaned_data["email"]
        return User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).first()

    def clean_page_slug(self):
        slug = self.cleaned_data["page_slug"].strip().lower()
        if Page.objects.filter(slug=slug).exists():
            raise forms.ValidationError("This address is taken; choose another.")
        return slug

    @transaction.atomic
    def save(self, commit=True):
        """(user, created): a new account, inactive until its owner follows the link we email
        them, with its tenant and first page unless joining; or the email's existing account,
        unchanged."""
        user = super().save(commit=False)  # hashes the password: the same time either way
        user.username = user.email = self.cleaned_data["email"]
        user.is_active = False
        existing = self.existing_user()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            # The same email signed up at the same moment: that request made the account.
            return self.existing_user(), False
        if self.joining:
            return user, True
        company = self.cleaned_data["company"]
        slug = self.cleaned_data["page_slug"]
        tenant = Tenant.objects.create(name=company, slug=unique_tenant_slug(slug or company))
        Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
        self.page = Page.objects.create(tenant=tenant, name=company, slug=slug)
        return user, True


def unique_tenant_slug(text):
    base = slugify(text)[:40] or "tenant"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


class SignInForm(AuthenticationForm):
    """Django's sign-in form; people sign up with their email, which is their username."""

    username = UsernameField(
        label="Email or username",
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    def clean(self):
        if self.cleaned_data.get("username"):
            username = self.cleaned_data["username"].strip()
            if "@" in username:
                self.cleaned_data["username"] = username.lower()
        return super().clean()


class ResetPasswordForm(PasswordResetForm):
    """Django's, with the link in the email built on SITE_URL: never on the request's Host, which
    SITE_HOSTS lets through with any port and which says nothing of the scheme."""

    def save(self, **kwargs):
        site = urlsplit(settings.SITE_URL)
        # The template writes {{ protocol }}://{{ domain }}{% url ... %}: SITE_URL and the path.
        kwargs.update(domain_override=site.netloc + site.path, use_https=site.scheme == "https")
        return super().save(**kwargs)


def time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


LOGO_MAX_BYTES = 1024 * 1024
# A few bytes can claim a huge picture, which every visitor's browser would have to decode.
LOGO_MAX_PIXELS = 4096
# Formats every browser shows. SVG is not among them on purpose: it can carry scripts.
LOGO_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}


class PageCreateForm(forms.ModelForm):
    """A new page in one of the tenants the user owns."""

    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), to_field_name="slug", empty_label=None, label="Team"
    )

    class Meta:
        model = Page
        fields = ["tenant", "name", "slug"]
        labels = {"slug": "Page address"}
        help_texts = {
            "slug": "Lowercase letters, digits and hyphens; the page is served at /p/address/."
        }
        error_messages = {"slug": {"unique": "This address is taken; choose another."}}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        tenants = Tenant.objects.filter(memberships__user=user, memberships__role=Role.OWNER)
        self.fields["tenant"].queryset = tenants
        if len(tenants) == 1:
            # Nothing to choose: the one team the user owns.
            self.only_tenant = tenants[0]
            self.fields["tenant"].widget = forms.HiddenInput()
            self.fields["tenant"].required = False
            self.initial.setdefault("tenant", self.only_tenant.slug)

    def clean_tenant(self):
        return self.cleaned_data["tenant"] or getattr(self, "only_tenant", None)

    def clean_slug(self):
        return self.cleaned_data["slug"].strip().lower()


class LogoInput(forms.ClearableFileInput):
    initial_text = "Current logo"
    input_text = "Replace it with"
    clear_checkbox_label = "Remove the logo"


class PageSettingsForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=time_zone_choices, help_text="Times on the public page are shown in this zone."
    )
    company_url = forms.URLField(
        label="Company URL",
        max_length=200,
        required=False,
        assume_scheme="https",
        help_text="The logo links here.",
    )
    support_url = forms.URLField(
        label="Support URL",
        max_length=200,
        required=False,
        assume_scheme="https",
        help_text="Shown as “Support” in the page's header.",
    )

    class Meta:
        model = Page
        fields = [
            "name",
            "slug",
            "custom_domain",
            "time_zone",
            "company_url",
            "support_url",
            "logo",
            "accent_color",
            "allow_email_subscribers",
            "allow_webhook_subscribers",
        ]
        labels = {
            "slug": "Page address",
            "accent_color": "Accent colour",
            "allow_email_subscribers": "Visitors may subscribe by email",
            "allow_webhook_subscribers": "Visitors may subscribe with a webhook",
        }
        help_texts = {
            "slug": "Changing it changes the page's address; old links stop working.",
            "custom_domain": "Such as status.example.com; empty for our address only.",
            "logo": (
                "PNG, JPEG, GIF or WebP, at most 1 MB and 4096×4096 pixels; shown in place of"
                " the name."
            ),
        }
        widgets = {
            "accent_color": forms.TextInput(attrs={"type": "color"}),
            "logo": LogoInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        }
        error_messages = {
            "slug": {"unique": "This address is taken; choose another."},
            "custom_domain": {"unique": "Another status page uses this domain."},
        }

    def clean_slug(self):
        return self.cleaned_data["slug"].strip().lower()

    def clean_custom_domain(self):
        domain = normalise_domain(self.cleaned_data["custom_domain"])
        if not domain:
            return None
        validate_not_our_domain(domain)
        return domain

    def clean_logo(self):
        logo = self.cleaned_data["logo"]
        if not isinstance(logo, UploadedFile):
            return logo  # unchanged (the current file), cleared (False) or none
        if logo.size > LOGO_MAX_BYTES:
            raise forms.ValidationError("The logo is larger than 1 MB; upload a smaller image.")
        extension = LOGO_FORMATS.get(getattr(logo, "image", None) and logo.image.format)
        if extension is None:
            raise forms.ValidationError("Upload a PNG, JPEG, GIF or WebP image.")
        width, height = logo.image.size
        if width > LOGO_MAX_PIXELS or height > LOGO_MAX_PIXELS:
            raise forms.ValidationError(
                f"The logo is {width}×{height} pixels; upload one of at most"
                f" {LOGO_MAX_PIXELS}×{LOGO_MAX_PIXELS} pixels."
            )
        # The uploader's file name is theirs; ours says whose logo it is.
        logo.name = f"{self.instance.code}.{extension}"
        return logo


class ComponentForm(forms.ModelForm):
    group = forms.ModelChoiceField(
        queryset=ComponentGroup.objects.none(),
        to_field_name="code",
        required=False,
        empty_label="No group",
    )

    class Meta:
        model = Component
        fields = ["name", "description", "group", "showcase", "only_show_if_degraded", "start_date"]
        labels = {
            "showcase": "Show its uptime bar",
            "only_show_if_degraded": "Hide it while it is operational",
        }
        help_texts = {
            "description": "Optional; shown beside the name on the public page.",
            "showcase": "",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, page, **kwargs):
        # Distinct ids: this form and the group form share the components page.
        kwargs.setdefault("auto_id", "id_component_%s")
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = page.groups.all()


class GroupForm(forms.ModelForm):
    class Meta:
        model = ComponentGroup
        fields = ["name", "description", "collapsed"]
        labels = {"collapsed": "Collapsed by default on the public page"}
        help_texts = {"collapsed": "", "description": "Optional; shown under the group's name."}
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_group_%s")
        super().__init__(*args, **kwargs)
