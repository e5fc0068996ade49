from django.contrib import admin

from notifications.models import NotificationEvent


@admin.register(NotificationEvent)
class NotificationEventAdmin(admin.ModelAdmin):
    list_display = ["kind", "page", "incident", "created_at", "fanned_out_at"]
    list_filter = ["kind"]
    search_fields = ["page__name", "incident__name"]
    list_select_related = ["page", "incident"]
    date_hierarchy = "created_at"
    readonly_fields = ["page", "kind", "incident", "update", "component", "created_at"]
