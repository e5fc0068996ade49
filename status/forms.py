import functools
import importlib.resources
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

from status.access import validate_access_password
from status.models import (
    RESERVED_SLUGS,
    SUBSCRIBER_SETTINGS,
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
)

User = get_user_model()


# Offered as checkboxes at sign-up; the chosen ones become the new page's first components.
COMPONENT_PRESETS = [
    "Website", "API", "Dashboard", "Mobile app", "Email", "Database", "Payments", "Search",
]  # fmt: skip
MAX_SIGNUP_COMPONENTS = 30


class SignupForm(UserCreationForm):
    """A new user, with the tenant they own and its first status page.

    It answers the same whether the email has an account or not (status/views.py tells the
    rest to the address's owner by email), so that nobody learns who has one."""

    email = forms.EmailField(label="Your email")
    company = forms.CharField(
        max_length=100,
        validators=[validate_no_control_characters],
        help_text="Shown at the top of your status page.",
    )
    page_slug = forms.CharField(
        max_length=50,
        required=False,
        label="Page address",
        help_text=(
            "Lowercase letters, digits and hyphens; your page is served at /p/your-address/."
            " Left empty, it is made from the company name."
        ),
    )
    # Filled by static/js/signup.js with the browser's zone; UTC without JavaScript.
    time_zone = forms.CharField(required=False, widget=forms.HiddenInput)
    components = forms.MultipleChoiceField(
        choices=[(name, name) for name in COMPONENT_PRESETS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Components",
        help_text="What your page shows the status of; you can change them later.",
    )
    other_components = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Other components, one per line",
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
            for name in ["company", "page_slug", "time_zone", "components", "other_components"]:
                del self.fields[name]
        else:
            self.order_fields(["company", "page_slug", "email"])

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def existing_user(self):
        email = self.cleaned_data["email"]
        return User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).first()

    def clean_page_slug(self):
        slug = self.cleaned_data["page_slug"].strip().lower()
        if not slug:
            return slug  # made from the company name in clean()
        try:
            slug_validator(slug)
        except forms.ValidationError as error:
            free = Page.objects.free_slug(slug)
            raise forms.ValidationError(f"{error.messages[0]} “{free}” is free.") from None
        if slug in RESERVED_SLUGS:
            free = Page.objects.free_slug(slug)
            raise forms.ValidationError(f"“{slug}” is reserved; “{free}” is free.")
        if Page.objects.filter(slug=slug).exists():
            free = Page.objects.free_slug(slug)
            raise forms.ValidationError(f"This address is taken; “{free}” is free.")
        return slug

    def clean_time_zone(self):
        return current_time_zone(self.cleaned_data["time_zone"])

    def clean_other_components(self):
        names = []
        for line in self.cleaned_data["other_components"].splitlines():
            name = " ".join(line.split())
            if len(name) > 100:
                raise forms.ValidationError(f"“{name[:30]}…” is longer than 100 characters.")
            validate_no_control_characters(name)
            if name:
                names.append(name)
        return names

    def clean(self):
        cleaned = super().clean()
        if self.joining:
            return cleaned
        if (
            not cleaned.get("page_slug")
            and cleaned.get("company")
            and "page_slug" not in self.errors
        ):
            cleaned["page_slug"] = Page.objects.free_slug(cleaned["company"])
        names, seen = [], set()
        presets = cleaned.get("components") or []
        for name in [n for n in COMPONENT_PRESETS if n in presets] + (
            cleaned.get("other_components") or []
        ):
            if name.casefold() not in seen:
                seen.add(name.casefold())
                names.append(name)
        if len(names) > MAX_SIGNUP_COMPONENTS:
            self.add_error(
                "other_components", f"Choose at most {MAX_SIGNUP_COMPONENTS} components for now."
            )
        cleaned["component_names"] = names
        return cleaned

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
        self.page = Page.objects.create(
            tenant=tenant, name=company, slug=slug, time_zone=self.cleaned_data["time_zone"]
        )
        for position, name in enumerate(self.cleaned_data["component_names"]):
            Component.objects.create(page=self.page, name=name, position=position)
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


@functools.cache
def current_time_zones():
    """The current IANA time zone names, and UTC: those of tzdata's zone.tab (one or more per
    country) and zone1970.tab, which leave out the deprecated aliases (Africa/Asmera,
    US/Eastern, Etc/GMT+5) that zoneinfo.available_timezones() also lists."""
    folder = importlib.resources.files("tzdata") / "zoneinfo"
    names = set()
    for table in ["zone.tab", "zone1970.tab"]:
        for line in (folder / table).read_text().splitlines():
            if line and not line.startswith("#"):
                names.add(line.split("\t")[2])
    return frozenset(names & zoneinfo.available_timezones()) | {"UTC"}


@functools.cache
def time_zone_links():
    """Deprecated name → current name, from tzdata's links ("L Asia/Kolkata Asia/Calcutta"):
    some browsers still report Asia/Calcutta or Europe/Kiev."""
    text = (importlib.resources.files("tzdata") / "zoneinfo" / "tzdata.zi").read_text()
    return {
        alias: target
        for kind, target, alias in (
            line.split()[:3] for line in text.splitlines() if line[:2] == "L "
        )
        if kind == "L"
    }


def current_time_zone(name):
    """`name` as one of current_time_zones() (a deprecated alias as its current name), or UTC."""
    name = (name or "").strip()
    if name in current_time_zones():
        return name
    target = time_zone_links().get(name)
    return target if target in current_time_zones() else "UTC"


def time_zone_choices(current=None):
    """current_time_zones() for a <select>: UTC, then one <optgroup> per region with its
    places ("Buenos Aires (America/Argentina/Buenos_Aires)", in that order so that typing a
    city finds it). `current`, a page's zone that is no longer on the list, is kept first: the
    page can still be saved as it is."""
    regions = {}
    for name in current_time_zones() - {"UTC"}:
        region, _, place = name.partition("/")
        label = f"{place.rpartition('/')[2].replace('_', ' ')} ({name})"
        regions.setdefault(region, []).append((name, label))
    choices = [("UTC", "UTC")]
    if current and current not in current_time_zones():
        choices.insert(0, (current, f"{current} (current setting)"))
    for region in sorted(regions):
        choices.append((region, sorted(regions[region], key=lambda choice: choice[1])))
    return choices


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

    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        initial="UTC",
        required=False,
        help_text="Times on the public page are shown in this zone.",
    )

    class Meta:
        model = Page
        fields = ["tenant", "name", "slug", "time_zone"]
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

    def clean_time_zone(self):
        return self.cleaned_data["time_zone"] or "UTC"

    def clean_slug(self):
        return self.cleaned_data["slug"].strip().lower()


class LogoInput(forms.ClearableFileInput):
    initial_text = "Current logo"
    input_text = "Replace it with"
    clear_checkbox_label = "Remove the logo"


class LinesField(forms.CharField):
    """A list edited as text, one entry a line (commas and spaces separate too)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [entry for entry in text.replace(",", " ").split() if entry]


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
    # A private page's ways in (status/access.py).
    access_password = forms.CharField(
        label="Page password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Private pages: visitors who know it may see the page. Empty keeps the current"
        " one; a new one signs everybody out who signed in with the old one.",
    )
    remove_access_password = forms.BooleanField(label="Remove the page password", required=False)
    allowed_ips = LinesField(
        label="Allowed networks",
        required=False,
        help_text="Private pages: visitors from these addresses or networks (CIDR, IPv4 or IPv6,"
        " such as 203.0.113.0/24), one a line, see the page without signing in.",
    )
    allowed_email_domains = LinesField(
        label="Allowed email domains and addresses",
        required=False,
        help_text="Private pages: people with an address at these domains (example.com) or these"
        " addresses (ann@example.com), one a line, may sign in with a link we email them.",
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
            *SUBSCRIBER_SETTINGS,
            "visibility",
            "allowed_ips",
            "allowed_email_domains",
            "access_session_days",
        ]
        labels = {
            "slug": "Page address",
            "accent_color": "Accent colour",
            "allow_email_subscribers": "Visitors may subscribe by email",
            "allow_webhook_subscribers": "Visitors may subscribe with a webhook",
            "allow_sms_subscribers": "Visitors may subscribe by SMS",
            "allow_slack_subscribers": "Visitors may subscribe in Slack",
            "allow_teams_subscribers": "Visitors may subscribe in Microsoft Teams",
            "allow_discord_subscribers": "Visitors may subscribe in Discord",
            "allow_google_chat_subscribers": "Visitors may subscribe in Google Chat",
            "visibility": "Who may see the page",
            "access_session_days": "Days a visitor stays signed in",
        }
        help_texts = {
            "slug": "Changing it changes the page's address; old links stop working.",
            "custom_domain": "Such as status.example.com; empty for our address only.",
            "allow_email_subscribers": (
                "Unticking a channel also stops updates to its existing subscribers, who are"
                " kept, and hear again if you tick it back."
            ),
            "allow_sms_subscribers": (
                "Offered while this platform has SMS set up and lets your team send it."
            ),
            "logo": (
                "PNG, JPEG, GIF or WebP, at most 1 MB and 4096×4096 pixels; shown in place of"
                " the name."
            ),
        }
        widgets = {
            "accent_color": forms.TextInput(attrs={"type": "color"}),
            "logo": LogoInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
            "visibility": forms.RadioSelect,
        }
        error_messages = {
            "slug": {"unique": "This address is taken; choose another."},
            "custom_domain": {"unique": "Another status page uses this domain."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices(current=self.instance.time_zone)
        access_fields = [
            "visibility", "access_password", "remove_access_password", "allowed_ips",
            "allowed_email_domains", "access_session_days",
        ]  # fmt: skip
        self.order_fields([n for n in self.fields if n not in access_fields] + access_fields)
        # A post without them (an older form, a script) keeps the page's values.
        self.fields["visibility"].required = False
        self.fields["access_session_days"].required = False
        if not self.instance.access_password:
            del self.fields["remove_access_password"]

    def clean_slug(self):
        return self.cleaned_data["slug"].strip().lower()

    def clean_access_password(self):
        raw = self.cleaned_data["access_password"]
        if raw:
            validate_access_password(raw)
        return raw

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("access_password"):
            self.instance.set_access_password(cleaned["access_password"])
        elif cleaned.get("remove_access_password"):
            self.instance.set_access_password("")
        return cleaned

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
