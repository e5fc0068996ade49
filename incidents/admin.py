from django.contrib import admin

from incidents.models import ComponentImpact, Incident, IncidentTemplate, IncidentUpdate
from status.admin_site import PlatformAdmin, PlatformAdminMixin, SamePageMixin


class IncidentUpdateInline(PlatformAdminMixin, admin.StackedInline):
    model = IncidentUpdate
    extra = 0
    fields = ["status", "body", "display_at", "deliver_notifications", "author"]
    readonly_fields = ["status", "author"]
    ordering = ["-display_at"]

    def has_add_permission(self, request, obj=None):
        # Updates are posted through Incident.post_update (console or API) only.
        return False


@admin.register(Incident)
class IncidentAdmin(SamePageMixin, PlatformAdmin):
    list_display = ["name", "page", "kind", "status", "impact", "started_at", "resolved_at"]
    list_filter = ["kind", "status", "impact", "backfilled"]
    search_fields = ["name", "code", "page__name", "page__custom_domain", "page__tenant__name"]
    list_select_related = ["page__tenant"]
    date_hierarchy = "started_at"
    readonly_fields = ["code", "status", "worst_component_status", "created_at", "updated_at"]
    autocomplete_fields = ["page"]
    filter_horizontal = ["components"]
    # An incident's components are its page's.
    same_page = ["components"]
    inlines = [IncidentUpdateInline]


@admin.register(IncidentTemplate)
class IncidentTemplateAdmin(SamePageMixin, PlatformAdmin):
    list_display = ["name", "page", "title", "status", "component_status", "created_at"]
    list_filter = ["status", "component_status"]
    search_fields = ["name", "title", "code", "page__name", "page__tenant__name"]
    list_select_related = ["page__tenant"]
    readonly_fields = ["code", "created_at"]
    autocomplete_fields = ["page"]
    filter_horizontal = ["components"]
    same_page = ["components"]


@admin.register(ComponentImpact)
class ComponentImpactAdmin(PlatformAdmin):
    list_display = ["component", "old_status", "new_status", "update"]
    list_filter = ["new_status"]
    search_fields = ["component__name", "update__incident__name"]
    list_select_related = ["component__page__tenant", "update__incident__page__tenant"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
