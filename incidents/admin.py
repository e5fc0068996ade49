from django.contrib import admin

from incidents.models import ComponentImpact, Incident, IncidentUpdate


class IncidentUpdateInline(admin.StackedInline):
    model = IncidentUpdate
    extra = 0
    fields = ["status", "body", "display_at", "deliver_notifications", "author"]
    readonly_fields = ["status", "author"]
    ordering = ["-display_at"]

    def has_add_permission(self, request, obj=None):
        # Updates are posted through Incident.post_update (console or API) only.
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["name", "page", "kind", "status", "impact", "started_at", "resolved_at"]
    list_filter = ["kind", "status", "impact", "backfilled"]
    search_fields = ["name", "code", "page__name", "page__custom_domain"]
    list_select_related = ["page"]
    date_hierarchy = "started_at"
    readonly_fields = ["code", "status", "worst_component_status", "created_at", "updated_at"]
    autocomplete_fields = ["page"]
    filter_horizontal = ["components"]
    inlines = [IncidentUpdateInline]


@admin.register(ComponentImpact)
class ComponentImpactAdmin(admin.ModelAdmin):
    list_display = ["component", "old_status", "new_status", "update"]
    list_filter = ["new_status"]
    search_fields = ["component__name", "update__incident__name"]
    list_select_related = ["component", "update__incident"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
