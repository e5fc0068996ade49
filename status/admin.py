from django.contrib import admin

from status.models import (
    Component,
    ComponentGroup,
    ComponentStatusChange,
    Membership,
    Page,
    Tenant,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class PageInline(admin.TabularInline):
    model = Page
    extra = 0
    fields = ["name", "slug", "custom_domain", "time_zone"]
    show_change_link = True


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug", "pages__name", "pages__custom_domain"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, PageInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]


class ComponentInline(admin.TabularInline):
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
class PageAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "custom_domain", "tenant", "time_zone", "public_link"]
    list_filter = ["time_zone"]
    search_fields = ["name", "slug", "custom_domain", "code", "tenant__name"]
    readonly_fields = ["code", "version", "created_at", "updated_at"]
    autocomplete_fields = ["tenant"]
    inlines = [ComponentGroupInline, ComponentInline]

    @admin.display(description="public URL")
    def public_link(self, obj):
        return obj.public_url()


@admin.register(ComponentGroup)
class ComponentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "page", "position", "collapsed"]
    search_fields = ["name", "code", "page__name"]
    list_select_related = ["page"]
    readonly_fields = ["code"]
    autocomplete_fields = ["page"]


class StatusChangeInline(admin.TabularInline):
    model = ComponentStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["status", "started_at", "ended_at"]
    ordering = ["-started_at"]

    def has_add_permission(self, request, obj=None):
        # History is written by Component.set_status only.
        return False


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    list_display = ["name", "page", "group", "status", "position", "showcase"]
    list_filter = ["status", "showcase", "only_show_if_degraded"]
    search_fields = ["name", "code", "page__name", "page__custom_domain"]
    list_select_related = ["page", "group"]
    readonly_fields = ["code", "status", "created_at", "updated_at"]
    autocomplete_fields = ["page", "group"]
    inlines = [StatusChangeInline]


@admin.register(ComponentStatusChange)
class ComponentStatusChangeAdmin(admin.ModelAdmin):
    list_display = ["component", "status", "started_at", "ended_at"]
    list_filter = ["status"]
    search_fields = ["component__name", "component__page__name"]
    list_select_related = ["component"]
    date_hierarchy = "started_at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
