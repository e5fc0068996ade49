from django.contrib import admin, messages
from django.db import transaction

from notifications.models import (
    Delivery,
    NotificationEvent,
    PageImport,
    Subscriber,
    SubscriberState,
)
from status.admin_site import PlatformAdmin, SamePageMixin


@admin.register(NotificationEvent)
class NotificationEventAdmin(PlatformAdmin):
    list_display = ["kind", "page", "incident", "component", "created_at", "fanned_out_at"]
    list_filter = ["kind"]
    search_fields = ["page__name", "page__tenant__name", "incident__name", "code"]
    list_select_related = ["page__tenant", "incident__page__tenant", "component__page__tenant"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "page", "code", "kind", "incident", "update", "component", "old_status", "new_status",
        "created_at", "payload", "fan_out_lease_until", "fanned_out_at",
    ]  # fmt: skip


@admin.register(Subscriber)
class SubscriberAdmin(SamePageMixin, PlatformAdmin):
    list_display = ["__str__", "channel", "page", "state", "consecutive_failures", "created_at"]
    list_filter = ["channel", "state"]
    search_fields = ["email", "endpoint", "code", "page__name", "page__tenant__name"]
    list_select_related = ["page__tenant"]
    autocomplete_fields = ["page"]
    filter_horizontal = ["components", "groups"]
    # A subscriber's scope is made of its page's components and groups.
    same_page = ["components", "groups"]
    readonly_fields = [
        "code", "token", "secret", "created_at", "confirmation_sent_at", "confirmed_at",
        "unsubscribed_at", "quarantined_at", "consecutive_failures", "first_failure_at",
    ]  # fmt: skip
    actions = ["reactivate"]

    @admin.action(description="Reactivate (confirm, reset failures)")
    def reactivate(self, request, queryset):
        stopped = [SubscriberState.QUARANTINED, SubscriberState.DISABLED]
        for subscriber in queryset.filter(state__in=stopped):
            subscriber.reactivate()
        self.message_user(request, "Reactivated.", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(PlatformAdmin):
    list_display = [
        "event", "subscriber", "channel", "status", "attempts", "response_code",
        "next_attempt_at", "sent_at",
    ]  # fmt: skip
    list_filter = ["status", "channel"]
    search_fields = ["subscriber__email", "subscriber__endpoint", "uuid"]
    list_select_related = ["event__page__tenant", "subscriber__page__tenant"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "event", "subscriber", "channel", "uuid", "status", "attempts", "next_attempt_at",
        "enqueued_at", "claim", "lease_until", "last_attempt_at", "sent_at", "response_code",
        "last_error", "created_at",
    ]  # fmt: skip
    actions = ["resend"]

    @admin.action(description="Send again (same webhook-id and Message-ID)")
    def resend(self, request, queryset):
        with transaction.atomic():
            for delivery in queryset.exclude(status="sending"):
                delivery.resend()
        self.message_user(request, "Queued again.", messages.SUCCESS)


@admin.register(PageImport)
class PageImportAdmin(PlatformAdmin):
    """Imports from Statuspage, to follow and explain them: read only (the source's key and
    its converted document stay out of sight)."""

    list_display = ["__str__", "tenant", "page", "source", "state", "created_at", "finished_at"]
    list_filter = ["source", "state"]
    search_fields = ["code", "source_url", "source_page_id", "tenant__name", "page__name"]
    list_select_related = ["tenant", "page"]
    date_hierarchy = "created_at"
    fields = readonly_fields = [
        "tenant", "code", "page", "source", "source_url", "source_page_id", "state", "error",
        "summary", "steps_done", "progress", "report", "created_by", "created_at", "updated_at",
        "finished_at",
    ]  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
