import hashlib
import math
import re
import secrets
import string
import unicodedata
import zoneinfo
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import connections, models, transaction
from django.db.models import F, Q
from django.http.request import validate_host
from django.urls import reverse
from django.utils import timezone

from status import access, domains, signals, twofactor

CODE_ALPHABET = string.ascii_lowercase + string.digits
# A verified domain whose TXT record has been gone this long is released.
DOMAIN_RELEASE_DAYS = 7
CODE_LENGTH = 12
# Names a page slug cannot take: they are hostnames we need for ourselves.
RESERVED_SLUGS = {
    "admin", "api", "app", "assets", "console", "help", "mail", "manage", "media", "p",
    "smtp", "static", "status", "support", "www",
}  # fmt: skip


def new_domain_token():
    return secrets.token_hex(16)


def new_code():
    """A random public id in Statuspage's shape: 12 lowercase base-36 characters."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone, such as Europe/Paris.")


# The moments a page may hold: far enough inside datetime's years 1 to 9999 that no time zone
# (UTC-12 to UTC+14) and no day's or month's arithmetic on them leaves that range.
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(9000, 1, 1, tzinfo=UTC)


def validate_moment(value):
    """An aware date-time from a form or the API lies between EARLIEST_MOMENT and
    LATEST_MOMENT (outside it, storing or showing it in some time zone overflows)."""
    try:
        inside = EARLIEST_MOMENT <= value.astimezone(UTC) < LATEST_MOMENT
    except OverflowError:
        inside = False
    if not inside:
        raise ValidationError(
            f"Enter a time between the years {EARLIEST_MOMENT.year} and {LATEST_MOMENT.year - 1}."
        )


def validate_slug(value):
    if value in RESERVED_SLUGS:
        raise ValidationError(f"{value!r} is reserved; choose another.")


validate_domain = RegexValidator(
    r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    "Enter a domain name such as status.example.com (no scheme, no path).",
)


def normalise_domain(domain):
    """A custom domain as stored: lowercase, without the root's trailing dot; empty is None."""
    return (domain or "").strip().lower().rstrip(".") or None


def validate_not_our_domain(domain):
    """A page's custom domain cannot be one of the platform's own hosts, nor the public base
    domain or a name under it (those are the pages' subdomains)."""
    base = settings.PUBLIC_BASE_DOMAIN
    if validate_host(domain, settings.SITE_HOSTS) or (
        base and (domain == base or domain.endswith("." + base))
    ):
        raise ValidationError("This is one of our own addresses; use your own domain.")


validate_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #RRGGBB.")


def validate_no_control_characters(value):
    """Page and tenant names go into email headers (From, Subject), where a line break is
    refused and every email of the page would fail, and into other people's terminals and logs:
    no control characters (C0, DEL, C1) and no line or paragraph separators."""
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value):
        raise ValidationError(
            "Enter a name without line breaks, tabs or other control characters.",
            code="control_characters",
        )


slug_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1 to 50 lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
)


class CodeField(models.CharField):
    """The random public id used in URLs and APIs in place of the integer primary key."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", CODE_LENGTH)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", new_code)
        super().__init__(**kwargs)


class Audited:
    """A model whose changes go in the audit log under one name and one list of fields,
    whichever interface (console, API, scheduler) makes them.

    `AUDIT_NAME` is the first part of every action ("component" → "component.update");
    `AUDIT_FIELDS` are the fields recorded before and after.
    """

    AUDIT_NAME = ""
    AUDIT_FIELDS = ()

    def audit_values(self):
        return snapshot(self, self.AUDIT_FIELDS)

    def audit_page(self):
        return self.page

    def audit(self, action, *, by, before=None, after=None):
        """Record `action` ("update" → "component.update"; a name with a dot as it is) on
        this object by `by`."""
        if "." not in action:
            action = f"{self.AUDIT_NAME}.{action}"
        return record_audit(self.audit_page(), action, self, by=by, before=before, after=after)

    def stored_audit_values(self):
        """The audit values as stored, before unsaved changes (a form may have set some)."""
        return type(self).objects.get(pk=self.pk).audit_values()

    def save_audited(self, *, by, action="update"):
        """Save, and record "<name>.create" or "<name>.<action>" when something changed."""
        with transaction.atomic():
            adding = self._state.adding
            before = None if adding else self.stored_audit_values()
            self.save()
            after = self.audit_values()
            if before != after:
                self.audit("create" if adding else action, by=by, before=before, after=after)
        return self


class Positioned(Audited):
    """Components and groups are numbered 0..n-1 among their siblings (a group's components,
    the ungrouped components, a page's groups) after every change, whichever interface makes
    it, so "up" and "down" always swap with a real neighbour."""

    @classmethod
    def from_db(cls, db, field_names, values):
        obj = super().from_db(db, field_names, values)
        if "position" in field_names:
            # What save() compares with: a new position is taken among the siblings.
            obj._stored_position = obj.position
        return obj

    def save(self, *args, **kwargs):
        with transaction.atomic():
            super().save(*args, **kwargs)
            asked = self.__dict__.pop("_asked", False)
            stored = self.__dict__.get("_stored_position")
            if asked or (stored is not None and stored != self.position):
                self.place(self.position)
            self._stored_position = self.position

    def ask_position(self, position):
        """Ask for `position` among the siblings it has when saved (the others make room)."""
        self.position = position
        self._asked = True

    def siblings(self):
        raise NotImplementedError

    def ordered_siblings(self):
        return self.siblings().select_for_update().order_by("position", "id")

    @classmethod
    def add(cls, *, by, position=None, **fields):
        """A new one at the end of its siblings, or at `position` (the others make room)."""
        return cls(**fields).insert(by=by, position=position)

    def insert(self, *, by, position=None):
        """Save this new one at the end of its siblings, or at `position`."""
        with transaction.atomic():
            others = list(self.ordered_siblings())
            at = len(others) if position is None else min(position, len(others))
            self.position = at
            self.save()
            renumber(others[:at] + [self] + others[at:])
            self.audit("create", by=by, after=self.audit_values())
        return self

    def place(self, position):
        """Put this one at `position` among its siblings, closing the gap it leaves."""
        others = [o for o in self.ordered_siblings() if o.pk != self.pk]
        at = min(position, len(others))
        renumber(others[:at] + [self] + others[at:])
        self._stored_position = self.position

    def move(self, direction, *, by):
        """Swap with the neighbour above or below; False at either end."""
        with transaction.atomic():
            items = list(self.ordered_siblings())
            index = next((i for i, item in enumerate(items) if item.pk == self.pk), None)
            if index is None:
                return False  # moved to another group meanwhile
            other = index - 1 if direction == "up" else index + 1
            if not 0 <= other < len(items):
                renumber(items)
                return False
            before = {"position": self.position}
            items[index], items[other] = items[other], items[index]
            renumber(items)
            self.position = self._stored_position = other
            self.page.bump_version()
            self.audit("move", by=by, before=before, after={"position": self.position})
        return True

    def remove(self, *, by, before=None):
        """Delete, and close the gap among the siblings."""
        with transaction.atomic():
            before = before or self.audit_values()
            siblings = list(self.ordered_siblings().exclude(pk=self.pk))
            self.audit("delete", by=by, before=before)
            self.delete()
            renumber(siblings)


def renumber(items):
    """Number `items` (in the order given) 0..n-1, writing only the rows that change."""
    for position, item in enumerate(items):
        if item.position != position:
            type(item).objects.filter(pk=item.pk).update(position=position)
            item.position = position
        item._stored_position = position


class SendingQuotaExceeded(Exception):
    """A tenant has sent all it may send today (Tenant.take_sends)."""

    def __init__(self, tenant):
        self.tenant = tenant
        super().__init__(
            f"{tenant.name} has sent its {tenant.send_quota():,} messages for today; "
            "more can be sent after midnight UTC."
        )


def sending_day(now=None):
    """The day (UTC) a message sent at `now` counts against."""
    return (now or timezone.now()).astimezone(UTC).date()


def next_sending_day(now=None):
    """When the next day of the sending quota starts: midnight UTC."""
    return datetime.combine(sending_day(now) + timedelta(days=1), time.min, tzinfo=UTC)


class Tenant(models.Model):
    name = models.CharField(max_length=100, validators=[validate_no_control_characters])
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="tenants"
    )
    # Set by platform staff in the admin only, for a company they know: its staff may add
    # subscribers without a confirmation email (console, API, imports), and it sends under the
    # trusted quota. A new tenant's subscribers all confirm their address themselves.
    trusted = models.BooleanField(
        default=False,
        help_text="Known to the platform: may add subscribers without confirmation and sends "
        "under SENDING_QUOTA_TRUSTED_PER_DAY.",
    )
    daily_send_quota = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Messages a day (UTC) on this tenant's behalf; empty for the platform's "
        "default (SENDING_QUOTA_PER_DAY, or SENDING_QUOTA_TRUSTED_PER_DAY when trusted).",
    )
    # Members without a confirmed authenticator are sent to set one up before any of this
    # tenant's console pages (status/accounts_views.py's AccountSecurityMiddleware).
    require_two_factor = models.BooleanField(
        default=False, help_text="Every member needs two-factor authentication."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def send_quota(self):
        """Messages (emails, webhooks, confirmations, invitations) this tenant may have sent
        on its behalf each day, UTC."""
        if self.daily_send_quota is not None:
            return self.daily_send_quota
        if self.trusted:
            return settings.SENDING_QUOTA_TRUSTED_PER_DAY
        return settings.SENDING_QUOTA_PER_DAY

    def sent_today(self, now=None):
        day = sending_day(now)
        row = SendingDay.objects.filter(tenant=self, day=day).first()
        return row.sent if row else 0

    def take_sends(self, wanted, now=None):
        """Count up to `wanted` messages against today's quota: how many may go now (0 to
        `wanted`). The rest waits for the next day (next_sending_day)."""
        if wanted <= 0:
            return 0
        day = sending_day(now)
        quota = self.send_quota()
        with transaction.atomic():
            row, _ = SendingDay.objects.select_for_update().get_or_create(tenant=self, day=day)
            granted = max(0, min(wanted, quota - row.sent))
            if granted:
                SendingDay.objects.filter(pk=row.pk).update(sent=F("sent") + granted)
        return granted

    def take_send(self, now=None):
        """One message now, or SendingQuotaExceeded."""
        if not self.take_sends(1, now):
            raise SendingQuotaExceeded(self)

    def give_back_send(self, now=None):
        """A message counted by take_send that could not be sent after all."""
        day = sending_day(now)
        SendingDay.objects.filter(tenant=self, day=day, sent__gt=0).update(sent=F("sent") - 1)


class SendingDay(models.Model):
    """What a tenant had sent on its behalf on one day (UTC): its sending quota's count."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sending_days")
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="one_sending_day_per_tenant")
        ]

    def __str__(self):
        return f"{self.tenant}: {self.sent} on {self.day}"


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


# A role can do what every role after it in this list can do.
ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    code = CodeField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_tenant")
        ]

    def __str__(self):
        return f"{self.user} is {self.role} of {self.tenant}"

    def allows(self, role):
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]

    def api_keys(self):
        """The tenant's active API keys this member created."""
        return ApiKey.objects.active().filter(tenant_id=self.tenant_id, created_by_id=self.user_id)

    def revoke_api_keys(self):
        """Revoke the tenant's API keys this member created, as they leave: a key acts for the
        tenant with nobody's membership behind it, so a removed member must not keep working
        through one. Returns the keys revoked."""
        keys = list(self.api_keys().select_for_update())
        for key in keys:
            key.revoke()
        return keys


class PageQuerySet(models.QuerySet):
    def for_user(self, user, role=Role.VIEWER):
        """Pages of the tenants where `user` has at least `role`."""
        if not user.is_authenticated:
            return self.none()
        roles = [r for r in Role if ROLE_RANK[r] >= ROLE_RANK[Role(role)]]
        return self.filter(
            tenant__memberships__user=user, tenant__memberships__role__in=roles
        ).distinct()

    def free_slug(self, text):
        """A page address made from `text` ("Acme Corp" → "acme-corp") that no page has and
        that is not reserved: "acme-corp-2", "acme-corp-3"… when it is."""
        base = "-".join(slug_words(text))[:40].strip("-") or "status"
        slug, n = base, 1
        while slug in RESERVED_SLUGS or self.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug


def slug_words(text):
    """The lowercase ASCII words of `text`, accents dropped ("Café Ünion" → cafe, union)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", ascii_text.lower())


# The page's settings for each subscription channel, named after the channel they allow.
SUBSCRIBER_SETTINGS = (
    "allow_email_subscribers",
    "allow_webhook_subscribers",
    "allow_sms_subscribers",
    "allow_slack_subscribers",
    "allow_teams_subscribers",
    "allow_discord_subscribers",
    "allow_google_chat_subscribers",
)


def all_languages():
    """Every language Heliograph speaks (settings.LANGUAGES): what a page offers at first."""
    return [code for code, _name in settings.LANGUAGES]


def validate_languages(value):
    known = all_languages()
    if not isinstance(value, list) or not value or any(code not in known for code in value):
        raise ValidationError(f"Choose one or more of: {', '.join(known)}.")


class Page(Audited, models.Model):
    AUDIT_NAME = "page"
    AUDIT_FIELDS = (
        "name", "slug", "custom_domain", "time_zone", "company_url", "support_url", "logo",
        "accent_color", *SUBSCRIBER_SETTINGS, "visibility", "access_password", "allowed_ips",
        "allowed_email_domains", "access_session_days",
    )  # fmt: skip

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="pages")
    code = CodeField()
    name = models.CharField(
        max_length=100,
        validators=[validate_no_control_characters],
        help_text="The company or product name shown.",
    )
    slug = models.SlugField(
        max_length=50,
        unique=True,
        validators=[slug_validator, validate_slug],
        help_text="Used in /p/<slug>/ and in <slug>.<public base domain>.",
    )
    # Served only once verified (status/domains.py): claiming a domain proves nothing.
    custom_domain = models.CharField(
        max_length=253,
        null=True,
        blank=True,
        validators=[validate_domain, validate_not_our_domain],
    )
    domain_token = models.CharField(max_length=32, default=new_domain_token, editable=False)
    domain_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    domain_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the verified domain's TXT record was first found missing (released after 7 days).
    domain_missing_since = models.DateTimeField(null=True, blank=True, editable=False)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    company_url = models.URLField(blank=True)
    support_url = models.URLField(blank=True)
    logo = models.ImageField(upload_to="logos/", blank=True)
    accent_color = models.CharField(max_length=7, default="#2563eb", validators=[validate_colour])
    # Languages (status/languages.py): the one visitors get unless they choose or their browser
    # asks for another the page offers, and those it offers (all of settings.LANGUAGES at first).
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    languages = models.JSONField(default=all_languages, validators=[validate_languages])
    # The channels visitors may subscribe on (each one the page offers is also delivered to).
    allow_email_subscribers = models.BooleanField(default=True)
    allow_webhook_subscribers = models.BooleanField(default=True)
    allow_sms_subscribers = models.BooleanField(default=True)
    allow_slack_subscribers = models.BooleanField(default=True)
    allow_teams_subscribers = models.BooleanField(default=True)
    allow_discord_subscribers = models.BooleanField(default=True)
    allow_google_chat_subscribers = models.BooleanField(default=True)
    # Who may see the page (status/access.py): new pages start as drafts; pages made before
    # visibility existed were public, and stay so (migration 0018).
    visibility = models.CharField(
        max_length=10, choices=access.Visibility.choices, default=access.Visibility.DRAFT
    )
    # A private page's ways in: a password (a Django password hash, "" for none), client
    # networks (CIDR), and email domains or addresses that may ask for a sign-in link.
    access_password = models.CharField(max_length=128, blank=True, editable=False)
    allowed_ips = models.JSONField(default=list, blank=True, validators=[access.validate_networks])
    allowed_email_domains = models.JSONField(
        default=list, blank=True, validators=[access.validate_email_entries]
    )
    access_session_days = models.PositiveSmallIntegerField(
        default=access.DEFAULT_SESSION_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(access.MAX_SESSION_DAYS)],
        help_text="How long a visitor admitted by password or email link stays signed in.",
    )
    # What visitors' sessions, links and read tokens are derived from; renewed when the
    # password changes or an allow-list loses an entry, which ends them all.
    access_key = models.CharField(max_length=32, default=access.new_access_key, editable=False)
    # Bumped by every write that changes what the public page shows; part of its cache key.
    version = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PageQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # Many pages may claim a domain; one at most has proved it and is served there.
            models.UniqueConstraint(
                fields=["custom_domain"],
                condition=Q(domain_verified_at__isnull=False),
                name="one_verified_page_per_domain",
            )
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.custom_domain = normalise_domain(self.custom_domain)
        stored = (
            Page.objects.filter(pk=self.pk)
            .values_list(
                "custom_domain", "domain_verified_at", "time_zone", "access_password",
                "allowed_ips", "allowed_email_domains",
            )
            .first()
        )  # fmt: skip
        access_now = (self.access_password, self.allowed_ips, self.allowed_email_domains)
        if stored and access.narrowed(stored[3:], access_now):
            self.access_key = access.new_access_key()
        if stored and stored[0] != self.custom_domain and stored[1] == self.domain_verified_at:
            # A new domain proves nothing yet (unless its proof comes with it, as in check_domain).
            self.domain_verified_at = self.domain_checked_at = self.domain_missing_since = None
        if self.pk:
            self.version = F("version") + 1
        with transaction.atomic():
            super().save(*args, **kwargs)
            if stored and stored[2] != self.time_zone:
                # The days of the uptime bars are the page's: recount them in the new zone.
                UptimeDay.objects.rebuild(self.components.values_list("pk", flat=True))
        if self.pk and isinstance(self.version, F):
            self.refresh_from_db(fields=["version"])
        signals.page_changed.send(
            sender=Page, page_id=self.pk, hosts_changed=True, visibility=self.visibility
        )

    def get_absolute_url(self):
        return reverse("public:page", kwargs={"page_slug": self.slug})

    def audit_values(self):
        values = super().audit_values()
        values["access_password"] = "set" if self.access_password else ""  # never the hash
        return values

    def set_access_password(self, raw):
        """Set the private page's password ("" or None removes it); saved with the page."""
        self.access_password = access.password_hash(raw)

    def has_member(self, user):
        return Membership.objects.filter(tenant_id=self.tenant_id, user_id=user.pk).exists()

    @property
    def is_public(self):
        return self.visibility == access.Visibility.PUBLIC

    @property
    def read_token(self):
        """The private page's read token for API v2 clients and feed readers."""
        return access.read_token(self)

    def audit_page(self):
        return self

    def components_by_group(self):
        """The page's components group by group, each group's in position order (forms list
        them so), with their groups loaded."""
        return list(
            self.components.select_related("group").order_by(
                "group__position", "group__id", "position", "id"
            )
        )

    def groups_and_components(self):
        """The page's groups and components in display order (two queries), each component
        with `page` set, so reading its page costs nothing more."""
        groups = list(self.groups.all())
        components = list(self.components.all())
        for component in components:
            component.page = self
        return groups, components

    @property
    def embed_url(self):
        return self.public_url("embed/")

    @property
    def badge_url(self):
        return self.public_url("badge.svg")

    @property
    def preview_url(self):
        """The public page for staff: the version in the query makes it a new address for any
        cache between them and us (a CDN keeping it s-maxage seconds), so they see the change
        they just made at once."""
        return f"{self.get_absolute_url()}?v={self.version}"

    def clean_fields(self, exclude=None):
        # Before the field validators, so that every way in (console, API) stores
        # "Status.Example.COM." as status.example.com instead of refusing it.
        self.custom_domain = normalise_domain(self.custom_domain)
        if isinstance(self.allowed_ips, list):
            self.allowed_ips = access.normalise_networks(self.allowed_ips)
        if isinstance(self.allowed_email_domains, list):
            self.allowed_email_domains = access.normalise_email_entries(self.allowed_email_domains)
        super().clean_fields(exclude=exclude)

    def clean(self):
        if self.custom_domain:
            self.custom_domain = self.custom_domain.lower().strip().rstrip(".")
            taken = Page.objects.filter(
                custom_domain=self.custom_domain, domain_verified_at__isnull=False
            ).exclude(pk=self.pk)
            if taken.exists():
                raise ValidationError(
                    {"custom_domain": "Another status page has proved this domain is its own."}
                )
        else:
            self.custom_domain = None

    @property
    def domain_challenge_name(self):
        return domains.challenge_name(self.custom_domain)

    @property
    def domain_challenge_value(self):
        return domains.challenge_value(self.domain_token)

    @property
    def serves_custom_domain(self):
        return bool(self.custom_domain and self.domain_verified_at)

    def check_domain(self, now=None):
        """Look up the custom domain's TXT record: verify the domain when it is there; when a
        verified domain's record is gone, tell the owners, and release it after
        DOMAIN_RELEASE_DAYS. Returns whether the domain is verified now. A DNS that cannot be
        asked changes nothing (domains.LookupFailed is raised)."""
        if not self.custom_domain:
            return False
        now = now or timezone.now()
        found = self.domain_challenge_value in domains.txt_values(self.domain_challenge_name)
        with transaction.atomic():
            page = Page.objects.select_for_update().get(pk=self.pk)
            if page.custom_domain != self.custom_domain:
                return False  # changed meanwhile
            page.domain_checked_at = now
            news = None
            if found and not page.domain_verified_at:
                taken = Page.objects.filter(
                    custom_domain=page.custom_domain, domain_verified_at__isnull=False
                ).exclude(pk=page.pk)
                if not taken.exists():
                    page.domain_verified_at = now
                    news = "verified"
            elif found:
                page.domain_missing_since = None
            elif page.domain_verified_at and not page.domain_missing_since:
                page.domain_missing_since = now
                news = "missing"
            elif page.domain_verified_at and page.domain_missing_since <= now - timedelta(
                days=DOMAIN_RELEASE_DAYS
            ):
                page.domain_verified_at = page.domain_missing_since = None
                news = "released"
            Page.objects.filter(pk=page.pk).update(
                domain_verified_at=page.domain_verified_at,
                domain_checked_at=page.domain_checked_at,
                domain_missing_since=page.domain_missing_since,
            )
            if news in ("verified", "released"):
                page.audit(f"domain_{news}", by=None, after={"domain": page.custom_domain})
                signals.page_changed.send(sender=Page, page_id=page.pk, hosts_changed=True)
            if news in ("missing", "released"):
                transaction.on_commit(lambda: page.tell_owners_of_domain(news), robust=True)
        self.domain_verified_at = page.domain_verified_at
        self.domain_checked_at = page.domain_checked_at
        self.domain_missing_since = page.domain_missing_since
        return bool(self.domain_verified_at)

    def tell_owners_of_domain(self, news):
        """Email the tenant's owners that the domain's record is missing, or that the domain
        was released."""
        owners = Membership.objects.filter(tenant_id=self.tenant_id, role=Role.OWNER)
        addresses = [m.user.email for m in owners.select_related("user") if m.user.email]
        if not addresses:
            return
        record = f"{self.domain_challenge_name} TXT {self.domain_challenge_value}"
        if news == "missing":
            subject = f"[{self.name}] The DNS record of {self.custom_domain} is missing"
            text = (
                f"We could not find the TXT record that proves {self.custom_domain} is yours:\n\n"
                f"  {record}\n\nPut it back within {DOMAIN_RELEASE_DAYS} days, or the domain is"
                " released and your status page is no longer served there."
            )
        else:
            subject = f"[{self.name}] {self.custom_domain} was released"
            text = (
                f"The TXT record that proved {self.custom_domain} is yours has been missing for"
                f" {DOMAIN_RELEASE_DAYS} days, so the status page is no longer served there. Add"
                f" the record again to verify it:\n\n  {record}\n"
            )
        send_mail(subject, text, None, addresses)

    def has_activity(self):
        """Whether an incident is open or a maintenance in progress at the page (incidents
        answer the `page_activity` signal)."""
        return any(answer for _, answer in signals.page_activity.send(sender=Page, page=self))

    def bump_version(self):
        """Invalidate cached renderings of the public page."""
        Page.objects.filter(pk=self.pk).update(version=F("version") + 1, updated_at=timezone.now())
        signals.page_changed.send(sender=Page, page_id=self.pk)

    @property
    def tz(self):
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def hostname(self):
        """The host the page is canonically served on, or None for /p/<slug>/ only."""
        if self.serves_custom_domain:
            return self.custom_domain
        if settings.PUBLIC_BASE_DOMAIN:
            return f"{self.slug}.{settings.PUBLIC_BASE_DOMAIN}"
        return None

    def allows_subscribers(self, channel):
        """Whether the page's settings allow subscribers on `channel` ("email", "slack", …)."""
        return getattr(self, f"allow_{channel}_subscribers")

    @property
    def allows_any_subscribers(self):
        return any(getattr(self, name) for name in SUBSCRIBER_SETTINGS)

    def public_url(self, path=""):
        """Absolute URL of the page, or of `path` (relative to the page root) on it."""
        scheme = settings.SITE_URL.split("://", 1)[0]
        if self.hostname:
            return f"{scheme}://{self.hostname}/{path.lstrip('/')}"
        return f"{settings.SITE_URL}/p/{self.slug}/{path.lstrip('/')}"


class ComponentStatus(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"


# How bad a status is, for "worst status of a day" and the page indicator.
STATUS_SEVERITY = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


def worst_status(statuses, default=ComponentStatus.OPERATIONAL):
    """The most severe of some component statuses."""
    return max(statuses, key=lambda s: STATUS_SEVERITY[ComponentStatus(s)], default=default)


class PageContent(models.Model):
    """Something shown on a public page: saving or deleting it invalidates the page's cache."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self.page.bump_version()

    def delete(self, *args, **kwargs):
        page = self.page
        result = super().delete(*args, **kwargs)
        page.bump_version()
        return result


class ComponentGroup(Positioned, PageContent):
    AUDIT_NAME = "group"
    AUDIT_FIELDS = ("name", "description", "position", "collapsed")

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="groups")
    code = CodeField()
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    collapsed = models.BooleanField(default=False, help_text="Shown collapsed by default.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    def siblings(self):
        return ComponentGroup.objects.filter(page_id=self.page_id)

    def set_members(self, components, *, by):
        """Make `components` (of this page) the group's members: newcomers go to its end,
        those that leave go to the end of the ungrouped ones."""
        with transaction.atomic():
            before = self.audit_values()
            wanted = {c.pk for c in components}
            for component in self.components.exclude(pk__in=wanted):
                component.regroup(None)
            for component in components:
                if component.group_id != self.pk:
                    component.regroup(self)
            self.page.bump_version()
            after = self.audit_values()
            if before != after:
                self.audit("update", by=by, before=before, after=after)

    def audit_values(self):
        values = super().audit_values()
        values["components"] = sorted(self.components.values_list("code", flat=True))
        return values

    def remove(self, *, by):
        """Delete the group; its components stay on the page, after the ungrouped ones."""
        with transaction.atomic():
            before = self.audit_values()
            for component in self.components.order_by("position", "id"):
                component.regroup(None)
            super().remove(by=by, before=before)


class Component(Positioned, PageContent):
    AUDIT_NAME = "component"
    AUDIT_FIELDS = (
        "name", "description", "group", "position", "showcase", "only_show_if_degraded",
        "start_date",
    )  # fmt: skip

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="components")
    group = models.ForeignKey(
        ComponentGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="components",
    )
    code = CodeField()
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=24, choices=ComponentStatus.choices, default=ComponentStatus.OPERATIONAL
    )
    position = models.PositiveIntegerField(default=0)
    showcase = models.BooleanField(default=True, help_text="Show the uptime bar.")
    only_show_if_degraded = models.BooleanField(default=False)
    start_date = models.DateField(
        null=True, blank=True, help_text="Uptime is counted from this day (page time zone)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        adding = self._state.adding
        with transaction.atomic():
            stored_group = self.__dict__.get("_stored_group_id", self.group_id)
            regrouped = not adding and stored_group != self.group_id
            asked = None
            if regrouped:
                # To the end of its new group, or where it was asked to go in it; the old
                # group closes the gap below.
                if self.__dict__.pop("_asked", False) or self.position != self.__dict__.get(
                    "_stored_position", self.position
                ):
                    asked = self.position
                self.position = self._stored_position = self.siblings().exclude(pk=self.pk).count()
            super().save(*args, **kwargs)
            stored_start = self.__dict__.get("_stored_start")
            if adding:
                self.status_changes.create(status=self.status, started_at=self.history_start())
            elif stored_start and stored_start != (self.start_date, self.created_at):
                # Uptime is counted from the history's start: recount the days from the new one.
                UptimeDay.objects.rebuild([self.pk])
            if adding or stored_start:
                self._stored_start = (self.start_date, self.created_at)
            if regrouped:
                renumber(
                    Component.objects.filter(page_id=self.page_id, group_id=stored_group)
                    .exclude(pk=self.pk)
                    .order_by("position", "id")
                )
                if asked is not None:
                    self.place(asked)
            self._stored_group_id = self.group_id

    def siblings(self):
        return Component.objects.filter(page_id=self.page_id, group_id=self.group_id)

    @classmethod
    def from_db(cls, db, field_names, values):
        component = super().from_db(db, field_names, values)
        if "group_id" in field_names:
            # What save() compares with to keep positions in order when the group changes.
            component._stored_group_id = component.group_id
        if "start_date" in field_names and "created_at" in field_names:
            component._stored_start = (component.start_date, component.created_at)
        return component

    def regroup(self, group):
        """Move to `group` (or out of any group), to the end of its new siblings."""
        self.group = group
        self.save(update_fields=["group", "position", "updated_at"])

    def clean(self):
        if self.group_id and self.group.page_id != self.page_id:
            raise ValidationError({"group": "The group belongs to another page."})

    def history_start(self):
        """When the component's history begins: its start date, or its creation."""
        if self.start_date:
            start = datetime.combine(self.start_date, time.min, tzinfo=self.page.tz)
            return min(start, self.created_at)
        return self.created_at

    def set_status(self, status, *, at=None, cause=None, by=None, notify=False):
        """Move the component to `status` at `at` (default now), writing its history.

        Closes the open history row and opens a new one in one transaction. Returns False when
        the component already had that status (nothing is written). `cause` is the incident
        or maintenance behind the change, if any; a change without one is audited as
        "component.status" by `by` and announced with `component_status_changed`, which
        tells subscribers only when the change asks to `notify`: a status changed by hand is
        news for subscribers only when someone chose so (nothing is emailed by accident).
        """
        status = ComponentStatus(status)
        with transaction.atomic():
            # Lock the row so that two concurrent changes cannot both close the same period;
            # "now" is read under the lock so that it comes after the change we waited for.
            current = Component.objects.select_for_update().get(pk=self.pk)
            at = at or timezone.now()
            if current.status == status:
                self.status = status
                return False
            open_row = current.status_changes.filter(ended_at__isnull=True).first()
            if open_row:
                if at < open_row.started_at:
                    raise ValueError(
                        f"{self} has history from {open_row.started_at.isoformat()};"
                        " a change cannot be dated before it"
                    )
                open_row.ended_at = at
                open_row.save(update_fields=["ended_at"])
            self.status_changes.create(status=status, started_at=at, incident=cause)
            Component.objects.filter(pk=self.pk).update(status=status, updated_at=timezone.now())
            self.status = status
            self.page.bump_version()
            if cause is None:
                # A change outside incidents is news of its own (incidents notify through
                # their updates, and are audited as a whole).
                self.audit("status", by=by, before={"status": current.status},
                           after={"status": status})  # fmt: skip
                signals.component_status_changed.send(
                    sender=Component,
                    component=self,
                    old_status=current.status,
                    new_status=status,
                    notify=notify,
                )
        return True


class ComponentStatusChangeQuerySet(models.QuerySet):
    """History written, changed or deleted in bulk keeps its components' UptimeDays right."""

    def bulk_create(self, objs, *args, **kwargs):
        with transaction.atomic():
            made = super().bulk_create(objs, *args, **kwargs)
            UptimeDay.objects.rebuild({row.component_id for row in made})
        return made

    def update(self, **kwargs):
        with transaction.atomic():
            components = set(self.order_by().values_list("component_id", flat=True).distinct())
            count = super().update(**kwargs)
            UptimeDay.objects.rebuild(components)
        return count

    def delete(self):
        with transaction.atomic():
            components = set(self.order_by().values_list("component_id", flat=True).distinct())
            deleted = super().delete()
            UptimeDay.objects.rebuild(components)
        return deleted


class ComponentStatusChange(models.Model):
    """One period of a component's status. History is only ever closed, never rewritten.

    Closing a period that is not operational (Component.set_status) recounts the UptimeDays it
    covers, in the same transaction; so does any other save or delete of a closed period.
    """

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="status_changes"
    )
    status = models.CharField(max_length=24, choices=ComponentStatus.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="status_changes",
    )

    objects = ComponentStatusChangeQuerySet.as_manager()

    class Meta:
        ordering = ["component", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["component"],
                condition=Q(ended_at__isnull=True),
                name="one_open_status_per_component",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="status_change_ends_after_start",
            ),
        ]
        indexes = [
            # Uptime: a component's periods overlapping a date range.
            models.Index(fields=["component", "started_at"], name="status_change_by_start"),
        ]

    def __str__(self):
        return f"{self.component}: {self.status} from {self.started_at}"

    def save(self, *args, **kwargs):
        with transaction.atomic():
            super().save(*args, **kwargs)
            spans = {self.__dict__.get("_stored_span"), self.counted_span()} - {None}
            if spans:
                UptimeDay.objects.recount(self.component_id, spans)
            self._stored_span = self.counted_span()

    def delete(self, *args, **kwargs):
        span = self.__dict__.get("_stored_span", self.counted_span())
        with transaction.atomic():
            deleted = super().delete(*args, **kwargs)
            if span:
                UptimeDay.objects.recount(self.component_id, [span])
        return deleted

    @classmethod
    def from_db(cls, db, field_names, values):
        row = super().from_db(db, field_names, values)
        row._stored_span = row.counted_span()
        return row

    def counted_span(self):
        """(start, end) when the period counts in UptimeDays: closed, not operational."""
        status, started_at, ended_at = (
            self.__dict__.get(name) for name in ("status", "started_at", "ended_at")
        )
        if ended_at is None or started_at is None or status == ComponentStatus.OPERATIONAL:
            return None
        return (started_at, ended_at)


def day_seconds(periods, tz, start):
    """{local date: [major, partial, degraded, maintenance seconds, worst status]} of
    `periods`, [(status, started at, ended at)] closed and not operational, counted from
    `start` (the component's history start) and split at midnight in `tz`.

    Whole seconds, as status/uptime.py counts them: every instant is truncated to its second.
    """
    days = {}
    floor = int(start.timestamp())
    for status, started_at, ended_at in periods:
        begin, end = max(int(started_at.timestamp()), floor), int(ended_at.timestamp())
        if begin >= end:
            continue
        slot = UPTIME_SLOTS[status]
        day = datetime.fromtimestamp(begin, tz).date()
        while begin < end:
            midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
            cut = min(int(midnight.timestamp()), end)
            counter = days.get(day)
            if counter is None:
                counter = days[day] = [0, 0, 0, 0, status]
            counter[slot] += cut - begin
            if STATUS_SEVERITY[status] > STATUS_SEVERITY[counter[4]]:
                counter[4] = status
            begin = cut
            day += timedelta(days=1)
    return days


# The counter slot of each status that is not operational (see day_seconds).
UPTIME_SLOTS = {
    ComponentStatus.MAJOR_OUTAGE: 0,
    ComponentStatus.PARTIAL_OUTAGE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.UNDER_MAINTENANCE: 3,
}


class UptimeDayQuerySet(models.QuerySet):
    def rebuild(self, component_ids):
        """Recount all the days of these components from their whole history."""
        self._recount(list(component_ids), None)

    def recount(self, component_id, spans):
        """Recount the days of one component that the [(start, end)] spans touch."""
        self._recount([component_id], list(spans))

    def _recount(self, component_ids, spans):
        if not component_ids:
            return
        components = Component.objects.filter(pk__in=component_ids).select_related("page")
        starts = {c.pk: (c.page.tz, c.history_start()) for c in components}
        if not starts:
            return  # deleted with their history
        rows = ComponentStatusChange.objects.filter(
            component__in=component_ids, ended_at__isnull=False
        ).exclude(status=ComponentStatus.OPERATIONAL)
        days = self.filter(component__in=component_ids)
        dates = None
        if spans:
            (tz, _), *_ = starts.values()
            dates = set()
            overlap = Q()
            for start, end in spans:
                first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
                dates.update(first + timedelta(days=n) for n in range((last - first).days + 1))
                # Every period of those days, not only the span's: the days are counted anew.
                overlap |= Q(
                    started_at__lt=datetime.combine(last + timedelta(days=1), time.min, tz),
                    ended_at__gt=datetime.combine(first, time.min, tz),
                )
            rows = rows.filter(overlap)
            days = days.filter(date__in=dates)
        periods = {pk: [] for pk in starts}
        for component_id, status, started_at, ended_at in rows.values_list(
            "component_id", "status", "started_at", "ended_at"
        ).order_by():
            periods[component_id].append((status, started_at, ended_at))
        days.delete()
        self.bulk_create(
            UptimeDay(
                component_id=component_id,
                date=date,
                major_seconds=major,
                partial_seconds=partial,
                degraded_seconds=degraded,
                maintenance_seconds=maintenance,
                worst_status=worst,
            )
            for component_id, (tz, start) in starts.items()
            for date, (major, partial, degraded, maintenance, worst) in day_seconds(
                periods[component_id], tz, start
            ).items()
            if dates is None or date in dates
        )


class UptimeDay(models.Model):
    """A component's seconds per status on one day (in its page's time zone), counted from its
    closed history periods that are not operational (day_seconds); the open period is added
    when read (status/uptime.py), so that the status page reads 90 rows at most per component
    however long its history. Kept by every write of history (ComponentStatusChange), and
    recounted when the page's time zone or the component's start changes."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="uptime_days")
    date = models.DateField()
    major_seconds = models.PositiveIntegerField(default=0)
    partial_seconds = models.PositiveIntegerField(default=0)
    degraded_seconds = models.PositiveIntegerField(default=0)
    maintenance_seconds = models.PositiveIntegerField(default=0)
    worst_status = models.CharField(max_length=24, choices=ComponentStatus.choices)

    objects = UptimeDayQuerySet.as_manager()

    class Meta:
        constraints = [
            # Also the index of the status page's read: the components' days since a date.
            models.UniqueConstraint(fields=["component", "date"], name="one_uptime_day_per_date"),
        ]

    def __str__(self):
        return f"{self.component_id} on {self.date}: {self.worst_status}"


class OverallStatus:
    """The page indicator (Statuspage's `status.indicator`) and its words."""

    DESCRIPTIONS = {
        "none": "All Systems Operational",
        "degraded": "Partially Degraded Service",
        "minor": "Minor Service Outage",
        "major": "Partial System Outage",
        "critical": "Major System Outage",
        "maintenance": "Service Under Maintenance",
    }

    def __init__(self, component_statuses, incident_impacts=(), maintenance_in_progress=False):
        statuses = set(component_statuses)
        impacts = set(incident_impacts)
        if ComponentStatus.MAJOR_OUTAGE in statuses or "critical" in impacts:
            self.indicator, key = "critical", "critical"
        elif ComponentStatus.PARTIAL_OUTAGE in statuses or "major" in impacts:
            self.indicator, key = "major", "major"
        elif "minor" in impacts:
            self.indicator, key = "minor", "minor"
        elif ComponentStatus.DEGRADED_PERFORMANCE in statuses:
            self.indicator, key = "minor", "degraded"
        elif maintenance_in_progress or ComponentStatus.UNDER_MAINTENANCE in statuses:
            self.indicator, key = "maintenance", "maintenance"
        else:
            self.indicator, key = "none", "none"
        self.description = self.DESCRIPTIONS[key]

    @property
    def banner(self):
        """The description in sentence case, for the page banner."""
        return self.description.capitalize()

    def __repr__(self):
        return f"<OverallStatus {self.indicator}: {self.description}>"


API_KEY_PREFIX_LENGTH = 8


def hash_secret(secret):
    """Keys and tokens are stored as SHA-256: they are long random strings, so no salt or
    stretching is needed, and a lookup by hash stays one indexed query."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A tenant's key for the management API. Only its hash is kept; the key is shown once."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    code = CodeField()
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=API_KEY_PREFIX_LENGTH, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, tenant, name, by=None):
        """A new key: returns (ApiKey, the secret), the only time the secret exists."""
        secret = "hg_" + secrets.token_urlsafe(32)
        key = cls.objects.create(
            tenant=tenant,
            name=name,
            prefix=secret[:API_KEY_PREFIX_LENGTH],
            key_hash=hash_secret(secret),
            created_by=by,
        )
        return key, secret

    @classmethod
    def authenticate(cls, secret):
        """The active key with this secret, or None; notes when it was last used."""
        key = (
            cls.objects.active()
            .select_related("tenant")
            .filter(key_hash=hash_secret(secret or ""))
            .first()
        )
        if key is not None and (
            key.last_used_at is None or timezone.now() - key.last_used_at > timedelta(minutes=1)
        ):
            # At most once a minute: a busy key must not write on every request.
            key.last_used_at = timezone.now()
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=key.last_used_at)
        return key

    @property
    def is_active(self):
        return self.revoked_at is None

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


INVITATION_DAYS = 7


class Invitation(models.Model):
    """An invitation to join a tenant, sent by email, valid INVITATION_DAYS days."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    code = CodeField()
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accepted_invitations",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.email} to {self.tenant} as {self.role}"

    @classmethod
    def issue(cls, tenant, email, role, by=None):
        """A new invitation: returns (Invitation, token); the token goes in the email only."""
        token = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            tenant=tenant,
            email=email.strip().lower(),
            role=role,
            token_hash=hash_secret(token),
            invited_by=by,
            expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
        )
        return invitation, token

    @classmethod
    def find(cls, token):
        """The open invitation with this token, or None (unknown, used or expired)."""
        return (
            cls.objects.select_related("tenant")
            .filter(
                token_hash=hash_secret(token or ""),
                accepted_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .first()
        )

    @property
    def is_open(self):
        return self.accepted_at is None and self.expires_at > timezone.now()

    def is_for(self, user):
        """Only the invited address may accept: `user`'s email, which signing up proved (an
        account is active only once the link sent to its address was followed)."""
        email = (user.email or "").strip().lower()
        return user.is_active and bool(email) and email == self.email

    def accept(self, user):
        """`user` joins the tenant with the invited role (an existing member keeps the higher).
        PermissionDenied unless the invitation is for them (is_for)."""
        if not self.is_for(user):
            raise PermissionDenied(
                f"This invitation is for {self.email}; only that address can accept it."
            )
        with transaction.atomic():
            membership, created = Membership.objects.get_or_create(
                user=user, tenant=self.tenant, defaults={"role": self.role}
            )
            if not created and not membership.allows(self.role):
                membership.role = self.role
                membership.save(update_fields=["role"])
            self.accepted_at = timezone.now()
            self.accepted_by = user
            self.save(update_fields=["accepted_at", "accepted_by"])
        return membership


class AuditLogEntry(models.Model):
    """Who changed what, when, from the console or the API, with the values before and after."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_log")
    page = models.ForeignKey(
        Page, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_log"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True)
    # Who did it when it was neither a user nor a key, e.g. "Integration: Prometheus" (an
    # inbound alert integration, incidents/alerts.py).
    actor_label = models.CharField(max_length=200, blank=True, default="")
    action = models.CharField(max_length=64)  # e.g. "component.update", "incident.create"
    object_type = models.CharField(max_length=32, blank=True)
    object_code = models.CharField(max_length=32, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit log page: a page's entries, newest first.
            models.Index(fields=["page", "-created_at"], name="audit_page_created"),
        ]

    def __str__(self):
        return f"{self.action} {self.object_repr} by {self.actor or self.api_key}"

    @classmethod
    def record(cls, *, tenant, action, page=None, actor=None, api_key=None, obj=None,
               before=None, after=None, actor_label=""):  # fmt: skip
        if actor is not None and not actor.is_authenticated:
            actor = None
        # People and keys are named as they are now, so that the entry still names them once
        # the account or key is deleted (the link to it is then gone; the name stays).
        if not actor_label and actor is not None:
            actor_label = actor.email or actor.username
        elif not actor_label and api_key is not None:
            actor_label = f"API key “{api_key.name}”"
        return cls.objects.create(
            tenant=tenant,
            page=page,
            actor=actor,
            api_key=api_key,
            actor_label=actor_label[:200],
            action=action,
            object_type=obj._meta.model_name if obj is not None else "",
            object_code=getattr(obj, "code", "") if obj is not None else "",
            object_repr=str(obj)[:200] if obj is not None else "",
            before=before,
            after=after,
        )


def record_audit(page, action, obj=None, *, by=None, before=None, after=None, tenant=None):
    """One audit log entry. `by` is who did it: a user (console), an API key (API), or None
    for the platform itself (the scheduler, automation); anything else that acts names itself
    with an `audit_actor_label` (an alert integration: "Integration: <name>")."""
    label = getattr(by, "audit_actor_label", "")
    user = by if by is not None and not label and not isinstance(by, ApiKey) else None
    return AuditLogEntry.record(
        tenant=tenant or page.tenant,
        page=page,
        actor=user,
        api_key=by if isinstance(by, ApiKey) else None,
        actor_label=label,
        action=action,
        obj=obj,
        before=before,
        after=after,
    )


def snapshot(obj, fields):
    """The values of `fields` of `obj`, JSON-ready, for an audit log entry's before/after."""
    values = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, models.Model):
            value = getattr(value, "code", None) or str(value)
        elif isinstance(value, datetime):
            # One time zone whoever wrote it (forms give the page's, the API UTC).
            value = value.astimezone(UTC).isoformat()
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, models.fields.files.FieldFile):
            value = value.name or ""
        values[name] = value
    return values


IDEMPOTENCY_HOURS = 24


class IdempotentRequest(models.Model):
    """A POST or PATCH to the management API sent with an `Idempotency-Key`: the first answer,
    given again to a retry of the same request for IDEMPOTENCY_HOURS, so that a client who
    lost the answer (a timeout, a broken connection) can send it again without writing twice."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # A hash of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="one_request_per_key")
        ]
        indexes = [
            # Pruning: entries past IDEMPOTENCY_HOURS.
            models.Index(fields=["created_at"], name="idempotent_request_created"),
        ]

    def __str__(self):
        return f"{self.key} ({self.status_code})"

    @property
    def is_expired(self):
        return self.created_at < timezone.now() - timedelta(hours=IDEMPOTENCY_HOURS)


FORM_TOKEN_DAYS = 7


class SubmittedForm(models.Model):
    """A console form that made a change, by the token it was rendered with: the same form
    sent again (a double click, a reload, the back button) changes nothing twice."""

    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Pruning: tokens past FORM_TOKEN_DAYS.
            models.Index(fields=["created_at"], name="submitted_form_created"),
        ]

    def __str__(self):
        return self.token


def prune_request_records(now=None):
    """Forget idempotency answers, form tokens and sending counts that are past their use."""
    now = now or timezone.now()
    requests = IdempotentRequest.objects.filter(
        created_at__lt=now - timedelta(hours=IDEMPOTENCY_HOURS)
    ).delete()[0]
    forms = SubmittedForm.objects.filter(
        created_at__lt=now - timedelta(days=FORM_TOKEN_DAYS)
    ).delete()[0]
    # Sending counts are kept a month, for the admin's questions.
    days = SendingDay.objects.filter(day__lt=(now - timedelta(days=31)).date()).delete()[0]
    return {"idempotency_keys": requests, "form_tokens": forms, "sending_days": days}


# ---------------------------------------------------------------------------------------------
# System metrics: named series of numbers a page shows as charts (Statuspage's "system
# metrics"), from the API or from anything else that records points (a monitor's response
# times). Each point is kept raw for a while and folded at once into per-minute, per-hour and
# per-day roll-ups, which is what the charts read.


class MetricPeriod(models.TextChoices):
    MINUTE = "minute", "Minute"
    # What the day chart draws once a day has more points than it has room for.
    FIVE_MINUTES = "5min", "Five minutes"
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


PERIOD_SECONDS = {
    MetricPeriod.MINUTE: 60,
    MetricPeriod.FIVE_MINUTES: 300,
    MetricPeriod.HOUR: 3600,
    MetricPeriod.DAY: 86400,
}
MAX_DECIMAL_PLACES = 4


def period_start(at, period):
    """The start (UTC) of the minute, five minutes, hour or day that holds `at`."""
    seconds = PERIOD_SECONDS[MetricPeriod(period)]
    stamp = int(at.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, tz=UTC)


# The roll-ups kept past METRICS_MINUTE_RETENTION_DAYS.
COARSE_PERIODS = (MetricPeriod.HOUR, MetricPeriod.DAY)


class MetricQuerySet(models.QuerySet):
    def displayed(self):
        return self.filter(display=True)


# The largest magnitude a metric's value or axis limit may have: far beyond any response time,
# rate or count, and small enough that sums of many points stay finite.
METRIC_VALUE_LIMIT = 1e15


def metric_value_problem(value):
    """Why `value` cannot be a metric's value or axis limit, or "" when it can."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite or abs(value) > METRIC_VALUE_LIMIT:
        return f"must be a finite number from -{METRIC_VALUE_LIMIT:g} to {METRIC_VALUE_LIMIT:g}"
    return ""


class Metric(Positioned, PageContent):
    """A named series of numbers shown on the public page as a chart."""

    AUDIT_NAME = "metric"
    AUDIT_FIELDS = (
        "name", "suffix", "tooltip_description", "decimal_places", "y_axis_min", "y_axis_max",
        "y_axis_hidden", "display", "position", "source",
    )  # fmt: skip

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="metrics")
    code = CodeField()
    name = models.CharField(max_length=100, validators=[validate_no_control_characters])
    suffix = models.CharField(
        max_length=20, blank=True, help_text='Unit shown after values, e.g. "ms".'
    )
    tooltip_description = models.CharField(max_length=500, blank=True)
    decimal_places = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_DECIMAL_PLACES)]
    )
    y_axis_min = models.FloatField(null=True, blank=True)
    y_axis_max = models.FloatField(null=True, blank=True)
    y_axis_hidden = models.BooleanField(default=False)
    display = models.BooleanField(default=True, help_text="Show the chart on the public page.")
    position = models.PositiveIntegerField(default=0)
    # Where the points come from: "api" (submitted), "monitor" (a monitor's response times).
    source = models.CharField(max_length=20, blank=True, default="api")
    most_recent_data_at = models.DateTimeField(null=True, blank=True)
    # The value of the point at most_recent_data_at: "latest" without reading the points.
    most_recent_value = models.FloatField(null=True, blank=True)
    # Bumped by every write of points and by clear_data: the charts' data changed (a key of the
    # cached chart fragments, status/metrics.py).
    data_version = models.PositiveBigIntegerField(default=0, editable=False)
    # When a point last bumped the page's version (at most once a minute: record_many).
    page_bumped_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MetricQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name

    def siblings(self):
        return Metric.objects.filter(page_id=self.page_id)

    def clean(self):
        for name in ("y_axis_min", "y_axis_max"):
            value = getattr(self, name)
            if value is not None and metric_value_problem(value):
                raise ValidationError({name: f"The axis limit {metric_value_problem(value)}."})
        if (
            self.y_axis_min is not None
            and self.y_axis_max is not None
            and self.y_axis_min >= self.y_axis_max
        ):
            raise ValidationError({"y_axis_max": "The axis maximum must be above its minimum."})

    def remove(self, *, by, before=None):
        """Delete it (console and API); a monitor's response times go with their monitor."""
        if self.source == "monitor":
            raise ValidationError(
                "This metric holds a monitor's response times: it is deleted with its monitor."
                " Hide it to take it off the public page."
            )
        super().remove(by=by, before=before)

    def record(self, value, at=None):
        """Record one point (`at` defaults to now). Returns the number of points recorded."""
        return self.record_many([(at, value)])

    def record_many(self, points):
        """Record (at, value) pairs in one transaction, folding them into the roll-ups.

        A value that is not a finite number within METRIC_VALUE_LIMIT raises ValueError and
        records nothing. Concurrent
        writers add up (MetricRollupQuerySet.fold). Points older than METRICS_RAW_RETENTION_DAYS
        go into the roll-ups only (a backfill), not the raw points.

        The page's version is bumped (the public page regenerates) when the metric is displayed,
        as the database says under the metric's row lock, and at most once per UTC minute per
        metric: the first write of each minute bumps; the points written later in the same
        minute show with the next bump (the next minute's first point, or any other change of
        the page). The charts' finest bucket is a minute, so they lose nothing.
        """
        now = timezone.now()
        rows = []
        for at, value in points:
            problem = metric_value_problem(value)
            if problem:
                raise ValueError(f"{value!r}: {problem}")
            rows.append(MetricPoint(metric=self, at=at or now, value=float(value)))
        if not rows:
            return 0
        oldest_raw = now - timedelta(days=settings.METRICS_RAW_RETENTION_DAYS)
        with transaction.atomic():
            # The row lock orders concurrent writers (and clear_data) of this metric, and makes
            # what it says (display, the latest point, the last bump) true until commit.
            display, recent_at, bumped_at = (
                Metric.objects.select_for_update()
                .filter(pk=self.pk)
                .values_list("display", "most_recent_data_at", "page_bumped_at")
                .get()
            )
            MetricPoint.objects.bulk_create([row for row in rows if row.at >= oldest_raw])
            MetricRollup.objects.fold(self, rows, now=now)
            changes = {"data_version": F("data_version") + 1}
            # The last given of the newest points is the latest value, unless a newer one is
            # stored already (a backfill, or a concurrent writer).
            latest = max(reversed(rows), key=lambda row: row.at)
            if recent_at is None or recent_at <= latest.at:
                changes.update(most_recent_data_at=latest.at, most_recent_value=latest.value)
                self.most_recent_data_at, self.most_recent_value = latest.at, latest.value
            bump = display and (
                bumped_at is None or bumped_at < period_start(now, MetricPeriod.MINUTE)
            )
            if bump:
                changes["page_bumped_at"] = now
            Metric.objects.filter(pk=self.pk).update(**changes)
            self.display = display
            if bump:
                self.page.bump_version()
        return len(rows)

    def clear_data(self, *, by):
        """Delete every point and roll-up of the metric."""
        with transaction.atomic():
            Metric.objects.select_for_update().get(pk=self.pk)
            points = self.points.all().delete()[0]
            self.rollups.all().delete()
            Metric.objects.filter(pk=self.pk).update(
                most_recent_data_at=None, most_recent_value=None, data_version=F("data_version") + 1
            )
            self.most_recent_data_at = self.most_recent_value = None
            self.page.bump_version()
            self.audit("clear_data", by=by, before={"points": points})
        return points


class MetricPoint(models.Model):
    """One submitted value, kept METRICS_RAW_RETENTION_DAYS (the roll-ups keep the rest)."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="points")
    at = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        indexes = [
            # A metric's latest point; pruning by age.
            models.Index(fields=["metric", "at"], name="metric_point_by_time"),
            models.Index(fields=["at"], name="metric_point_at"),
        ]

    def __str__(self):
        return f"{self.metric}: {self.value} at {self.at}"


class MetricRollupQuerySet(models.QuerySet):
    # At most this many roll-ups per statement (7 parameters each: under SQLite's 32,766).
    FOLD_ROWS = 1000

    def fold(self, metric, points, now=None):
        """Add `points` (MetricPoints of `metric`) to its roll-ups of every period (minute and
        five-minute ones only for points within METRICS_MINUTE_RETENTION_DAYS of `now`): one
        INSERT … ON CONFLICT DO UPDATE per FOLD_ROWS roll-ups, adding to the stored count and sum
        and widening the stored minimum and maximum in the database, so that concurrent writers
        add up (the ORM cannot say this; PostgreSQL and SQLite both accept the statement)."""
        wanted = {}
        oldest_minute = (now or timezone.now()) - timedelta(
            days=settings.METRICS_MINUTE_RETENTION_DAYS
        )
        for point in points:
            for period in MetricPeriod if point.at >= oldest_minute else COARSE_PERIODS:
                key = (period.value, period_start(point.at, period))
                wanted.setdefault(key, []).append(point.value)
        connection = connections[self.db]
        quote = connection.ops.quote_name
        table = quote(MetricRollup._meta.db_table)
        rows = [
            (metric.pk, period, connection.ops.adapt_datetimefield_value(start), len(values),
             math.fsum(values), min(values), max(values))
            for (period, start), values in sorted(wanted.items())
        ]  # fmt: skip
        columns = ", ".join(
            quote(name)
            for name in ("metric_id", "period", "start", "count", "total", "minimum", "maximum")
        )
        count, total, minimum, maximum = (quote(n) for n in ("count", "total", "minimum",
                                                               "maximum"))  # fmt: skip
        with connection.cursor() as cursor:
            for first in range(0, len(rows), self.FOLD_ROWS):
                chunk = rows[first : first + self.FOLD_ROWS]
                values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {values}"  # noqa: S608 (our names)
                    f" ON CONFLICT ({quote('metric_id')}, {quote('period')}, {quote('start')})"
                    f" DO UPDATE SET {count} = {table}.{count} + excluded.{count},"
                    f" {total} = {table}.{total} + excluded.{total},"
                    f" {minimum} = CASE WHEN excluded.{minimum} < {table}.{minimum}"
                    f" THEN excluded.{minimum} ELSE {table}.{minimum} END,"
                    f" {maximum} = CASE WHEN excluded.{maximum} > {table}.{maximum}"
                    f" THEN excluded.{maximum} ELSE {table}.{maximum} END",
                    [value for row in chunk for value in row],
                )


class MetricRollup(models.Model):
    """Count, sum, minimum and maximum of a metric's points in one minute, five minutes, hour or
    day (UTC)."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="rollups")
    period = models.CharField(max_length=6, choices=MetricPeriod.choices)
    start = models.DateTimeField()
    count = models.PositiveIntegerField()
    total = models.FloatField()
    minimum = models.FloatField()
    maximum = models.FloatField()

    objects = MetricRollupQuerySet.as_manager()

    class Meta:
        ordering = ["metric", "period", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "period", "start"], name="one_rollup_per_metric_period"
            )
        ]
        indexes = [
            # Pruning minute and five-minute roll-ups by age.
            models.Index(fields=["period", "start"], name="metric_rollup_by_period"),
        ]

    def __str__(self):
        return f"{self.metric} {self.period} {self.start}: {self.count} points"

    @property
    def average(self):
        return self.total / self.count


class ExternalRefQuerySet(models.QuerySet):
    def known(self, page, kind):
        """{external id: (object id, digest)} of `page`'s objects of `kind` that came from an
        import."""
        return {
            ref: (object_id, digest)
            for ref, object_id, digest in self.filter(page=page, kind=kind).values_list(
                "external_id", "object_id", "digest"
            )
        }

    def written(self, page, kind):
        """{object id: its updated_at as the last import wrote it} of `page`'s objects of
        `kind`."""
        return dict(self.filter(page=page, kind=kind).values_list("object_id", "written_at"))


class ExternalRef(models.Model):
    """An object of a page that came from another platform (a Statuspage import), by the id it
    has there: a re-run of the import updates that object instead of adding another. `digest`
    is a hash of the source's object as last imported, so that what did not change there is
    left alone here. `kind` names the model ("group", "component", "incident",
    "incident_update", "subscriber", "incident_template", "metric", "history", "page");
    `object_id` is the row's primary key (for "history", the component's last status period
    the import wrote, to tell whether it changed here since)."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="external_refs")
    kind = models.CharField(max_length=32)
    external_id = models.CharField(max_length=64)
    object_id = models.BigIntegerField()
    digest = models.CharField(max_length=32, blank=True, default="")
    # The object's updated_at as the import wrote it: a later one means it changed here since.
    written_at = models.DateTimeField(null=True, blank=True)

    objects = ExternalRefQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["page", "kind", "external_id"], name="external_ref_once"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.external_id} → {self.object_id}"


class SingleSignOn(models.Model):
    """A tenant's OpenID Connect provider (status/sso.py): its members may sign in through it,
    and with `sso_only`, through nothing else. The secret is write-only in the console."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="single_sign_on")
    enabled = models.BooleanField(default=False)
    issuer = models.URLField(max_length=300, blank=True)
    client_id = models.CharField(max_length=200, blank=True)
    client_secret = models.CharField(max_length=500, blank=True)
    sso_only = models.BooleanField(
        default=False, help_text="Members may not sign in with a password."
    )
    default_role = models.CharField(
        max_length=10,
        choices=Role.choices,
        default=Role.VIEWER,
        help_text="The role of people who join through single sign-on.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.tenant}: {self.issuer}"


class UserSessionQuerySet(models.QuerySet):
    def live(self):
        """Sessions whose row in Django's session store has not expired or been deleted."""
        keys = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
        return self.filter(session_key__in=keys)

    def end(self):
        """Sign these sessions out: their rows in Django's session store go, so the next
        request of each is anonymous."""
        keys = list(self.values_list("session_key", flat=True))
        Session.objects.filter(session_key__in=keys).delete()
        return self.filter(session_key__in=keys).delete()


class UserSession(models.Model):
    """One signed-in browser of a user, as the sessions page lists it (recorded by
    status/accounts_views.py's AccountSecurityMiddleware). The session itself is Django's
    (django.contrib.sessions, in the database): ending it deletes that row."""

    code = CodeField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    signed_in_with = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = UserSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self):
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M}"

    @classmethod
    def record(cls, request, user):
        """Note that `request`'s session (signed in as `user`) was seen now: its row, made on
        first sight. The session remembers when, so that this writes at most once a minute."""
        session = request.session
        key = session.session_key
        if not key:
            return
        now = timezone.now()
        seen = session.get(SESSION_SEEN_KEY)
        if seen and seen[0] == key and now.timestamp() - seen[1] < SESSION_SEEN_SECONDS:
            return
        address = request.META.get("REMOTE_ADDR") or None
        agent = request.headers.get("User-Agent", "")[:300]
        cls.objects.update_or_create(
            session_key=key,
            defaults={"user": user, "last_seen_at": now, "user_agent": agent,
                      "ip_address": address},
            create_defaults={"user": user, "created_at": now, "last_seen_at": now,
                             "user_agent": agent, "ip_address": address},
        )  # fmt: skip
        session[SESSION_SEEN_KEY] = [key, now.timestamp()]


# Where the session notes when its UserSession row was last written, and how often it is.
SESSION_SEEN_KEY = "session_seen"
SESSION_SEEN_SECONDS = 60


# Set at every sign-in of someone with two-factor: until the session is verified with a code
# (django-otp), status/accounts_views.py's middleware lets it reach only the code step. Sign-ins
# other than ours (the admin's form) cannot skip the second factor so.
SECOND_FACTOR_DUE_KEY = "second_factor_due"


def record_sign_in(sender, request, user, **kwargs):
    """Every sign-in (a password, a code, single sign-on, an invitation's) starts its row, and
    notes whether a second factor is due."""
    if request is not None and hasattr(request, "session"):
        UserSession.record(request, user)
        request.session[SECOND_FACTOR_DUE_KEY] = twofactor.has_two_factor(user)


user_logged_in.connect(record_sign_in, dispatch_uid="status.models.record_sign_in")
