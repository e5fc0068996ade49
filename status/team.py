"""The console's team area: members and roles, invitations, API keys and the audit log.

Every member reads these pages; only owners change the team, invite, and create or revoke keys.
Team and key changes are tenant-wide; their audit entries name the page they were made from.
"""

import logging
import smtplib
from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.mail import send_mail
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from status import audit
from status.htmx import can_manage, confirm, done, render_form
from status.models import (
    EARLIEST_MOMENT,
    INVITATION_DAYS,
    LATEST_MOMENT,
    ApiKey,
    AuditLogEntry,
    Invitation,
    Membership,
    Role,
    SendingQuotaExceeded,
    UserSession,
    record_audit,
    snapshot,
)
from status.tenancy import page_member, public_view

log = logging.getLogger(__name__)

ROLE_HELP = (
    "Viewers read; editors also run components, incidents and maintenance; "
    "owners also manage the team, page settings and API keys."
)
AUDIT_PAGE_SIZE = 50


# Forms


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR, help_text=ROLE_HELP)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        members = self.tenant.memberships.filter(
            Q(user__email__iexact=email) | Q(user__username__iexact=email)
        )
        if members.exists():
            raise forms.ValidationError(f"{email} is already a member of {self.tenant}.")
        pending = self.tenant.invitations.filter(
            email=email, accepted_at__isnull=True, expires_at__gt=timezone.now()
        )
        if pending.exists():
            raise forms.ValidationError(
                f"{email} already has a pending invitation; revoke it to send a new one."
            )
        return email


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses the key, such as “Deploy pipeline” or “Terraform”."
    )


# Members


def team_context(request, page, **extra):
    members = list(
        page.tenant.memberships.select_related("user").order_by("user__email", "user__username")
    )
    for member in members:
        member.error = None
        if extra.get("failed") and member.pk == extra["failed"].pk:
            member.error = extra["failed"].error
    invitations = page.tenant.invitations.filter(accepted_at__isnull=True).select_related(
        "invited_by"
    )
    return {
        "page": page,
        "members": members,
        "invitations": invitations,
        "invite_form": extra.pop("invite_form", None) or InviteForm(tenant=page.tenant),
        "can_manage": can_manage(page),
        "roles": Role.choices,
        "invitation_days": INVITATION_DAYS,
        **extra,
    }


@page_member(role=Role.VIEWER)
@require_GET
def team(request, page):
    return render(request, "manage/team/team.html", team_context(request, page))


def lock_owners(tenant):
    """The ids of the tenant's owners, locked for this transaction, so that two owners who
    demote or remove each other at the same moment cannot leave the tenant with none."""
    owners = Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER)
    return set(owners.values_list("pk", flat=True))


def last_owner_error(page):
    return f"{page.tenant} needs at least one owner: make another member an owner first."


def member_error_response(request, page, membership, error):
    """The member's row with `error` (HTMX), or the team page showing it there."""
    membership.error = error
    if request.htmx:
        return render(
            request,
            "manage/team/team.html#member-row",
            {"page": page, "member": membership, "can_manage": True, "roles": Role.choices},
        )
    return render(request, "manage/team/team.html", team_context(request, page, failed=membership))


@page_member(role=Role.OWNER)
@require_POST
def member_role(request, page, member_code):
    membership = get_object_or_404(
        Membership.objects.select_related("user"), tenant=page.tenant, code=member_code
    )
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        return member_error_response(request, page, membership, "Choose owner, editor or viewer.")
    role = form.cleaned_data["role"]
    with transaction.atomic():
        owners = lock_owners(page.tenant)
        current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
        if current is None:
            raise Http404("No such member")
        membership.role = current.role
        if membership.role == Role.OWNER and role != Role.OWNER and owners == {membership.pk}:
            return member_error_response(request, page, membership, last_owner_error(page))
        if role != membership.role:
            before = snapshot(membership, ["role"])
            membership.role = role
            membership.save(update_fields=["role"])
            record_audit(
                page,
                "member.role",
                membership,
                before=before,
                after={"role": role},
                by=request.user,
            )

    if membership.user_id == request.user.id and role != Role.OWNER:
        # The owner demoted themselves: the page they are on loses its controls.
        messages.success(request, f"You are now {membership.get_role_display().lower()}.")
        return done(request, reverse("manage:team", args=[page.code]))
    membership.error = None
    if request.htmx:
        return render(
            request,
            "manage/team/team.html#member-row",
            {
                "page": page,
                "member": membership,
                "can_manage": True,
                "roles": Role.choices,
                "saved": True,
            },
        )
    messages.success(
        request, f"{member_name(membership.user)} is now {membership.get_role_display().lower()}."
    )
    return redirect("manage:team", page_code=page.code)


@page_member(role=Role.OWNER)
@require_http_methods(["GET", "POST"])
def member_remove(request, page, member_code):
    membership = get_object_or_404(
        Membership.objects.select_related("user"), tenant=page.tenant, code=member_code
    )
    name = member_name(membership.user)
    if request.method == "GET":
        is_last = membership.role == Role.OWNER and not (
            page.tenant.memberships.filter(role=Role.OWNER).exclude(pk=membership.pk).exists()
        )
        text = f"{name} loses access to every page of {page.tenant}."
        if keys := membership.api_keys().count():
            verb = "is" if keys == 1 else "are"
            text = (
                f"{name} loses access to every page of {page.tenant}, and "
                f"{api_keys_phrase(keys)} they created {verb} revoked."
            )
        return confirm(
            request,
            page,
            title=f"Remove {name}?",
            text=text,
            button="Remove member",
            cancel=reverse("manage:team", args=[page.code]),
            error=last_owner_error(page) if is_last else None,
        )

    with transaction.atomic():
        owners = lock_owners(page.tenant)
        current = Membership.objects.select_for_update().filter(pk=membership.pk).first()
        if current is None:
            raise Http404("No such member")
        membership.role = current.role
        if membership.role == Role.OWNER and owners == {membership.pk}:
            return member_error_response(request, page, membership, last_owner_error(page))
        before = snapshot(membership, ["user", "role"])
        # Their keys go with them, in the same transaction.
        revoked = membership.revoke_api_keys()
        membership.delete()
        # And so do their sessions (every one: a session is the person's, not the tenant's),
        # but the one of a member leaving on their own.
        sessions = UserSession.objects.filter(user=membership.user_id)
        if membership.user_id == request.user.id:
            sessions = sessions.exclude(session_key=request.session.session_key)
        sessions.end()
        record_audit(page, "member.remove", membership, before=before, by=request.user)
        for key in revoked:
            record_audit(page, "api_key.revoke", key, before={"revoked_at": None},
                         after=snapshot(key, ["revoked_at"]), by=request.user)  # fmt: skip

    leaving = membership.user_id == request.user.id
    also = ""
    if revoked:
        who = "you" if leaving else "they"
        also = f" and revoked {api_keys_phrase(len(revoked))} {who} created"
    if leaving:
        messages.success(request, f"You left {page.tenant}{also}.")
        return done(request, reverse("manage:home"))
    if request.htmx and not revoked:
        return HttpResponse("")  # the row is swapped out, and there is nothing more to say
    messages.success(request, f"Removed {name} from {page.tenant}{also}.")
    return done(request, reverse("manage:team", args=[page.code]))


def member_name(user):
    return user.email or user.username


def api_keys_phrase(count):
    return "the API key" if count == 1 else f"the {count} API keys"


# Invitations


def invitation_url(token):
    return settings.SITE_URL + reverse("invitation-accept", kwargs={"token": token})


def send_invitation(invitation, token):
    context = {
        "invitation": invitation,
        "tenant": invitation.tenant,
        "role": invitation.get_role_display(),
        "inviter": member_name(invitation.invited_by) if invitation.invited_by else None,
        "url": invitation_url(token),
        "SITE_NAME": settings.SITE_NAME,
    }
    subject = render_to_string("emails/invitation_subject.txt", context)
    send_mail(
        " ".join(subject.split()),
        render_to_string("emails/invitation.txt", context),
        None,
        [invitation.email],
        html_message=render_to_string("emails/invitation.html", context),
    )


def invitations_response(request, page, **extra):
    """The invitations block (HTMX) or the whole team page."""
    return render_form(
        request, "manage/team/team.html", "invitations", team_context(request, page, **extra)
    )


@page_member(role=Role.OWNER)
@require_POST
def invite_create(request, page):
    form = InviteForm(request.POST, tenant=page.tenant)
    if not form.is_valid():
        return invitations_response(request, page, invite_form=form)
    try:
        # An email on the tenant's behalf, to an address it chose: counted like the others.
        page.tenant.take_send()
    except SendingQuotaExceeded as error:
        form.add_error(None, str(error))
        return invitations_response(request, page, invite_form=form)
    invitation, token = Invitation.issue(
        page.tenant, form.cleaned_data["email"], form.cleaned_data["role"], by=request.user
    )
    try:
        send_invitation(invitation, token)
    except (smtplib.SMTPException, OSError):
        log.exception("Sending the invitation to %s failed", invitation.email)
        # An invitation nobody received would only block a new one to the same address, and
        # counts against nothing.
        invitation.delete()
        page.tenant.give_back_send()
        form.add_error(None, "The invitation email could not be sent. Try again in a moment.")
        return invitations_response(request, page, invite_form=form)
    record_audit(
        page,
        "invitation.create",
        invitation,
        after=snapshot(invitation, ["email", "role", "expires_at"]),
        by=request.user,
    )
    notice = f"Invitation sent to {invitation.email}."
    if request.htmx:
        return invitations_response(request, page, notice=notice)
    messages.success(request, notice)
    return redirect("manage:team", page_code=page.code)


@page_member(role=Role.OWNER)
@require_POST
def invite_revoke(request, page, invitation_code):
    invitation = get_object_or_404(
        Invitation, tenant=page.tenant, code=invitation_code, accepted_at__isnull=True
    )
    with transaction.atomic():
        before = snapshot(invitation, ["email", "role", "expires_at"])
        invitation.delete()
        record_audit(page, "invitation.revoke", invitation, before=before, by=request.user)
    notice = f"Revoked the invitation to {invitation.email}."
    if request.htmx:
        return invitations_response(request, page, notice=notice)
    messages.success(request, notice)
    return redirect("manage:team", page_code=page.code)


def invitation_gone(request):
    return render(
        request,
        "manage/team/invitation_invalid.html",
        {"invitation_days": INVITATION_DAYS},
        status=404,
    )


@public_view
@require_http_methods(["GET", "POST"])
@never_cache
def accept_invitation(request, token):
    """Reached from the invitation email: anyone holding the token may see what it offers;
    accepting needs an account, new or existing, with the invited (and so proved) address."""
    invitation = Invitation.find(token)
    if invitation is None:
        return invitation_gone(request)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(request.path)
        return render(request, "manage/team/invitation.html", {"invitation": invitation})

    for_you = invitation.is_for(request.user)
    if request.method == "POST" and for_you:
        with transaction.atomic():
            # Locked and checked again: the same link clicked twice joins once.
            invitation = (
                Invitation.objects.select_for_update()
                .filter(pk=invitation.pk, accepted_at__isnull=True, expires_at__gt=timezone.now())
                .first()
            )
            if invitation is None:
                return invitation_gone(request)
            membership = invitation.accept(request.user)
            AuditLogEntry.record(
                tenant=invitation.tenant,
                actor=request.user,
                action="invitation.accept",
                obj=invitation,
                after={"user": member_name(request.user), "role": membership.role},
            )
        messages.success(
            request, f"You joined {invitation.tenant} as {membership.get_role_display().lower()}."
        )
        return redirect("manage:home")

    membership = invitation.tenant.memberships.filter(user=request.user).first()
    return render(
        request,
        "manage/team/invitation.html",
        {"invitation": invitation, "membership": membership, "for_you": for_you},
        # Another account posting: refused, and told why.
        status=403 if request.method == "POST" else 200,
    )


# API keys


def api_keys_context(page, **extra):
    return {
        "page": page,
        "keys": page.tenant.api_keys.select_related("created_by"),
        "can_manage": can_manage(page),
        "form": extra.pop("form", None) or ApiKeyForm(),
        # What a program needs besides its key: this page's id in the API's URLs, and the docs.
        "api_components_url": settings.SITE_URL
        + reverse("api-components", kwargs={"page_code": page.code}),
        "api_pages_url": settings.SITE_URL + reverse("api-pages"),
        "api_docs_url": reverse("api-docs"),
        **extra,
    }


@page_member(role=Role.VIEWER)
@require_GET
def api_keys(request, page):
    return render(request, "manage/api_keys/api_keys.html", api_keys_context(page))


@page_member(role=Role.OWNER)
@require_POST
def api_key_create(request, page):
    form = ApiKeyForm(request.POST)
    context = {"form": form}
    if form.is_valid():
        with transaction.atomic():
            key, secret = ApiKey.issue(page.tenant, form.cleaned_data["name"], by=request.user)
            record_audit(
                page,
                "api_key.create",
                key,
                after=snapshot(key, ["name", "prefix"]),
                by=request.user,
            )
        # Shown in this response and never again: it is not stored anywhere we could read.
        context = {"form": ApiKeyForm(), "new_key": key, "secret": secret}
    response = render_form(
        request, "manage/api_keys/api_keys.html", "keys", api_keys_context(page, **context)
    )
    add_never_cache_headers(response)
    return response


@page_member(role=Role.OWNER)
@require_http_methods(["GET", "POST"])
def api_key_revoke(request, page, key_code):
    key = get_object_or_404(ApiKey, tenant=page.tenant, code=key_code)
    if request.method == "GET":
        return confirm(
            request,
            page,
            title=f"Revoke the key “{key.name}”?",
            text=f"Requests with {key.prefix}… are refused from now on. This cannot be undone.",
            button="Revoke key",
            cancel=reverse("manage:api-keys", args=[page.code]),
            error=None if key.is_active else "This key is already revoked.",
        )
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.is_active:
            before = snapshot(key, ["revoked_at"])
            key.revoke()
            record_audit(
                page,
                "api_key.revoke",
                key,
                before=before,
                after=snapshot(key, ["revoked_at"]),
                by=request.user,
            )
    if request.htmx:
        return render(
            request,
            "manage/api_keys/api_keys.html#key-row",
            {"page": page, "key": key, "can_manage": True},
        )
    messages.success(request, f"Revoked the key “{key.name}”.")
    return redirect("manage:api-keys", page_code=page.code)


# Audit log


class AuditFilterForm(forms.Form):
    """The audit log's filters, read from the query string: who, what about, and which days
    (in the page's time zone)."""

    who = forms.ChoiceField(label="Person", required=False)
    kind = forms.ChoiceField(
        label="Object",
        required=False,
        choices=[("", "Everything"), *((kind, label) for kind, (label, _) in audit.KINDS.items())],
    )
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["who"].choices = [("", "Anyone"), *audit.people(tenant)]

    def clean(self):
        data = super().clean()
        for name in ("since", "until"):
            day = data.get(name)
            if day and not EARLIEST_MOMENT.year <= day.year < LATEST_MOMENT.year:
                self.add_error(
                    name,
                    f"Enter a day between the years {EARLIEST_MOMENT.year} and "
                    f"{LATEST_MOMENT.year - 1}.",
                )
                data.pop(name, None)
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "Enter a day on or after the first day.")
            data.pop("until", None)
        return data

    def filter(self, entries, tz):
        """`entries` narrowed by the valid filters; an invalid one (shown as an error on the
        form) narrows nothing."""
        self.is_valid()
        data = self.cleaned_data
        if data.get("who"):
            entries = audit.by_whom(entries, data["who"])
        if data.get("kind"):
            entries = audit.of_kind(entries, data["kind"])
        if data.get("since"):
            entries = entries.filter(created_at__gte=datetime.combine(data["since"], time(), tz))
        if data.get("until"):
            day_after = data["until"] + timedelta(days=1)
            entries = entries.filter(created_at__lt=datetime.combine(day_after, time(), tz))
        return entries

    def active(self):
        self.is_valid()
        return any(self.cleaned_data.get(name) for name in self.fields)


@page_member(role=Role.VIEWER)
@require_GET
def audit_log(request, page):
    entries = (
        AuditLogEntry.objects.filter(tenant=page.tenant)
        .filter(Q(page=page) | Q(page__isnull=True))
        .select_related("actor", "api_key")
    )
    form = AuditFilterForm(request.GET, tenant=page.tenant)
    entries = form.filter(entries, page.tz)
    entries = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    entries.object_list = audit.readable(entries.object_list, page)
    return render(
        request,
        "manage/audit/audit.html",
        {
            "page": page,
            "entries": entries,
            "form": form,
            "filtered": form.active(),
            "automatic": audit.automatic_actor(),
        },
    )
