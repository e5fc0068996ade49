from django.contrib import admin, messages
from django.db import transaction
from django.db.models import OuterRef, Subquery

from status.admin_site import PlatformAdmin, PlatformAdminMixin, ReadOnlyAdmin, SamePageMixin
from status.models import (
    ApiKey,
    AuditLogEntry,
    Component,
    ComponentGroup,
    ComponentStatusChange,
    IdempotentRequest,
    Invitation,
    Membership,
    Page,
    SendingDay,
    Tenant,
    sending_day,
)


class MembershipInline(PlatformAdminMixin, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class PageInline(PlatformAdminMixin, admin.TabularInline):
    model = Page
    extra = 0
    fields = ["name", "slug", "custom_domain", "time_zone"]
    show_change_link = True


@admin.register(Tenant)
class TenantAdmin(PlatformAdmin):
    """Platform staff vouch for a tenant here (trusted), or give it a quota of its own."""

    list_display = ["name", "slug", "trusted", "quota", "sent_today", "created_at"]
    list_filter = ["trusted"]
    search_fields = ["name", "slug", "pages__name", "pages__custom_domain"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "trusted", "daily_send_quota", "quota", "sent_today", "created_at"]
    readonly_fields = ["quota", "sent_today", "created_at"]
    inlines = [MembershipInline, PageInline]

    def get_queryset(self, request):
        # Each tenant's count of the day in the list's own query, not one query per row.
        today = SendingDay.objects.filter(tenant=OuterRef("pk"), day=sending_day())
        return (
            super()
            .get_queryset(request)
            .annotate(sent_today_count=Subquery(today.values("sent")[:1]))
        )

    @admin.display(description="Messages a day")
    def quota(self, tenant):
        return f"{tenant.send_quota():,}" if tenant.pk else "-"

    @admin.display(description="Sent today (UTC)")
    def sent_today(self, tenant):
        if not tenant.pk:
            return "-"
        if hasattr(tenant, "sent_today_count"):
            return f"{tenant.sent_today_count or 0:,}"
        return f"{tenant.sent_today():,}"


@admin.register(Membership)
class MembershipAdmin(PlatformAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]


class ComponentInline(PlatformAdminMixin, admin.TabularInline):
    model = Component
    extra = 0
    fields = ["name", "group", "status", "position", "showcase", "only_show_if_degraded"]
    show_change_link = True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Only the groups of the page being edited.
        if db_field.name == "group":
            page_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = ComponentGroup.objects.filter(page_id=page_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ComponentGroupInline(admin.TabularInline):
    model = ComponentGroup
    extra = 0
    fields = ["name", "position", "collapsed"]


@admin.register(Page)
class PageAdmin(PlatformAdmin):
    list_display = ["name", "slug", "custom_domain", "tenant", "time_zone", "public_link"]
    list_filter = ["time_zone"]
    list_select_related = ["tenant"]
    search_fields = ["name", "slug", "custom_domain", "code", "tenant__name"]
    readonly_fields = ["code", "version", "created_at", "updated_at"]
    autocomplete_fields = ["tenant"]
    inlines = [ComponentGroupInline, ComponentInline]

    @admin.display(description="public URL")
    def public_link(self, obj):
        return obj.public_url()


@admin.register(ComponentGroup)
class ComponentGroupAdmin(PlatformAdmin):
    list_display = ["name", "page", "position", "collapsed"]
    search_fields = ["name", "code", "page__name", "page__tenant__name"]
    list_select_related = ["page__tenant"]
    readonly_fields = ["code"]
    autocomplete_fields = ["page"]


class StatusChangeInline(PlatformAdminMixin, admin.TabularInline):
    model = ComponentStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["status", "started_at", "ended_at"]
    ordering = ["-started_at"]

    def has_add_permission(self, request, obj=None):
        # History is written by Component.set_status only.
        return False


@admin.register(Component)
class ComponentAdmin(SamePageMixin, PlatformAdmin):
    list_display = ["name", "page", "group", "status", "position", "showcase"]
    list_filter = ["status", "showcase", "only_show_if_degraded"]
    search_fields = ["name", "code", "page__name", "page__custom_domain", "page__tenant__name"]
    list_select_related = ["page__tenant", "group__page__tenant"]
    readonly_fields = ["code", "status", "created_at", "updated_at"]
    autocomplete_fields = ["page"]
    # A component's group is one of its page's (a select of them, not a search of all groups).
    same_page = ["group"]
    inlines = [StatusChangeInline]


@admin.register(ComponentStatusChange)
class ComponentStatusChangeAdmin(PlatformAdmin):
    list_display = ["component", "status", "started_at", "ended_at"]
    list_filter = ["status"]
    search_fields = ["component__name", "component__page__name", "component__page__tenant__name"]
    list_select_related = ["component__page__tenant"]
    date_hierarchy = "started_at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(PlatformAdmin):
    """A tenant's API keys, without their secrets (only a hash is kept, and not shown): staff
    see who made each and when it was last used, and revoke a leaked one."""

    list_display = ["name", "tenant", "prefix_shown", "created_by", "created_at", "last_used_at",
                    "revoked_at"]  # fmt: skip
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["tenant", "created_by"]
    search_fields = ["name", "prefix", "code", "tenant__name", "tenant__slug"]
    exclude = ["key_hash"]
    readonly_fields = ["tenant", "code", "prefix_shown", "created_by", "created_at",
                       "last_used_at", "revoked_at"]  # fmt: skip
    actions = ["revoke"]

    @admin.display(description="key")
    def prefix_shown(self, key):
        return f"{key.prefix}…"

    def has_add_permission(self, request):
        # A key's secret is shown once, to the owner who creates it in the console.
        return False

    @admin.action(description="Revoke (requests with them are refused from now on)")
    def revoke(self, request, queryset):
        with transaction.atomic():
            for key in (
                queryset.select_related(None).select_for_update().filter(revoked_at__isnull=True)
            ):
                key.revoke()
                AuditLogEntry.record(
                    tenant=key.tenant,
                    action="api_key.revoke",
                    actor=request.user,
                    obj=key,
                    before={"revoked_at": None},
                    after={"revoked_at": key.revoked_at.isoformat()},
                )
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(Invitation)
class InvitationAdmin(PlatformAdmin):
    """Invitations to join a tenant (sent from the console, where the email goes out with its
    link); staff read them and delete one to revoke it."""

    list_display = ["email", "tenant", "role", "invited_by", "created_at", "expires_at",
                    "accepted_at"]  # fmt: skip
    list_filter = ["role", ("accepted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["tenant", "invited_by"]
    search_fields = ["email", "code", "tenant__name", "tenant__slug"]
    exclude = ["token_hash"]
    readonly_fields = ["tenant", "code", "email", "role", "invited_by", "created_at",
                       "expires_at", "accepted_at", "accepted_by"]  # fmt: skip

    def has_add_permission(self, request):
        return False


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "page", "action", "object_repr", "actor", "api_key"]
    list_filter = ["object_type"]
    list_select_related = ["tenant", "page__tenant", "actor", "api_key__tenant"]
    search_fields = ["action", "object_repr", "object_code", "tenant__name", "actor__email"]
    date_hierarchy = "created_at"


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(ReadOnlyAdmin):
    """The management API's answers kept for clients retrying with an Idempotency-Key."""

    list_display = ["created_at", "tenant", "key", "status_code"]
    list_select_related = ["tenant"]
    search_fields = ["key", "tenant__name"]
    date_hierarchy = "created_at"
