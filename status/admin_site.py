"""The platform admin (/admin/), for platform operators: a site named after the platform, and
what every app's admin shares.

- Objects are named with their tenant and page wherever one is chosen or listed among others
  (two tenants' "Dashboard" components read "Acme · Status · Dashboard" and "Bravo · Status ·
  Dashboard"), in select boxes, autocomplete results and list columns alike.
- Times carry their time zone: list columns and read-only fields show it, and date-time inputs
  say which zone they are in.

settings.INSTALLED_APPS names PlatformAdminConfig in place of django.contrib.admin, so that
`admin.site` is a PlatformAdminSite. This module imports no model: it is imported while the app
registry is being filled.
"""

import functools

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.text import capfirst

TIME_FORMAT = "Y-m-d H:i:s T"


def admin_label(obj):
    """How the admin names `obj` among others of its kind: after its tenant and page."""
    try:
        page = getattr(obj, "page", None)
        if isinstance(page, models.Model):
            return f"{page.tenant.name} · {page.name} · {obj}"
        tenant = getattr(obj, "tenant", None)
        if isinstance(tenant, models.Model):
            return f"{tenant.name} · {obj}"
    except ObjectDoesNotExist:
        pass
    if hasattr(obj, "slug") and obj._meta.model_name == "tenant":
        return f"{obj} ({obj.slug})"
    return str(obj)


def label_path(model):
    """What to select with `model` for admin_label without a query per object."""
    for name, path in (("page", "page__tenant"), ("tenant", "tenant")):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if field.is_relation:
            return path
    return None


def labelled(formfield):
    """A model choice field whose choices are named with admin_label."""
    if formfield is None or not hasattr(formfield, "queryset"):
        return formfield
    formfield.label_from_instance = admin_label
    if path := label_path(formfield.queryset.model):
        formfield.queryset = formfield.queryset.select_related(path)
    return formfield


def with_zone(value):
    return date_format(timezone.localtime(value), TIME_FORMAT)


def model_field(model, name):
    if not isinstance(name, str):
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


@functools.cache
def column(model, name, show):
    """A list column or read-only field showing the field `name` as `show` (a function of its
    value) says: with_zone for a date-time, admin_label for a related object."""
    field = model._meta.get_field(name)

    @admin.display(description=capfirst(field.verbose_name), ordering=name)
    def shown(obj):
        value = getattr(obj, name)
        return show(value) if value is not None else None

    shown.__name__ = name
    return shown


class PlatformAdminMixin:
    """What every admin and inline of the platform admin shares (see the module's docstring)."""

    def shown(self, name):
        """The column or read-only field that shows `name`: itself, or one that says more."""
        field = model_field(self.model, name)
        if isinstance(field, models.DateTimeField):
            return column(self.model, name, with_zone)
        return name

    def readonly_names(self, request, obj):
        """The read-only fields, as the admin declares them (names and callables)."""
        return list(super().get_readonly_fields(request, obj))

    def zoned_readonly(self, request, obj):
        return [
            name
            for name in self.readonly_names(request, obj)
            if isinstance(model_field(self.model, name), models.DateTimeField)
        ]

    def get_readonly_fields(self, request, obj=None):
        names = self.readonly_names(request, obj)
        # The names stay, so that the form leaves those fields out; get_fields shows these.
        return names + [self.shown(name) for name in self.zoned_readonly(request, obj)]

    def get_fields(self, request, obj=None):
        zoned = self.zoned_readonly(request, obj)
        replacements = [self.shown(name) for name in zoned]
        return [
            self.shown(name) if name in zoned else name
            for name in super().get_fields(request, obj)
            if name not in replacements
        ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None and isinstance(db_field, models.DateTimeField):
            zone = timezone.get_current_timezone_name()
            formfield.help_text = " ".join(filter(None, [str(formfield.help_text), f"In {zone}."]))
        return formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return labelled(super().formfield_for_foreignkey(db_field, request, **kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return labelled(super().formfield_for_manytomany(db_field, request, **kwargs))


class PlatformAdmin(PlatformAdminMixin, admin.ModelAdmin):
    def get_list_display(self, request):
        columns = []
        for name in super().get_list_display(request):
            field = model_field(self.model, name)
            if field is not None and field.many_to_one:
                columns.append(column(self.model, name, admin_label))
            else:
                columns.append(self.shown(name))
        return columns


class ReadOnlyAdmin(PlatformAdmin):
    """Records the platform writes (the audit log, idempotency answers): read, never changed."""

    def readonly_names(self, request, obj):
        fields = [*self.model._meta.concrete_fields, *self.model._meta.many_to_many]
        excluded = self.exclude or ()
        names = [f.name for f in fields if not f.primary_key and f.name not in excluded]
        return list(dict.fromkeys([*names, *super().readonly_names(request, obj)]))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    def serialize_result(self, obj, to_field_name):
        return {**super().serialize_result(obj, to_field_name), "text": admin_label(obj)}

    def get_queryset(self):
        queryset = super().get_queryset()
        if path := label_path(queryset.model):
            queryset = queryset.select_related(path)
        return queryset


class PlatformAdminSite(admin.AdminSite):
    index_title = "Site administration"

    @property
    def site_header(self):
        return f"{settings.SITE_NAME} platform admin"

    @property
    def site_title(self):
        return f"{settings.SITE_NAME} admin"

    def autocomplete_view(self, request):
        return LabelledAutocompleteJsonView.as_view(admin_site=self)(request)


class PlatformAdminConfig(AdminConfig):
    default_site = "status.admin_site.PlatformAdminSite"


class SamePageMixin:
    """For the admin of an object of a page that links other objects of a page (`same_page`,
    field names): their choices are the object's page's, and one of another page is refused
    (even when the form moves the object to another page)."""

    same_page = ()

    def get_form(self, request, obj=None, **kwargs):
        same_page = self.same_page

        class SamePageForm(super().get_form(request, obj, **kwargs)):
            def clean(self):
                data = super().clean()
                page = data.get("page") or (self.instance.page if self.instance.page_id else None)
                for name in same_page if page is not None else ():
                    value = data.get(name)
                    chosen = list(value) if hasattr(value, "__iter__") else [value]
                    others = [item for item in chosen if item and item.page_id != page.pk]
                    if others:
                        self.add_error(name, f"{others[0]} is not on the page {page}.")
                return data

        # After the class is made: making it makes its fields anew.
        for name in same_page:
            field = SamePageForm.base_fields.get(name)
            if field is None:
                continue
            if obj is None:
                field.queryset = field.queryset.none()
                field.help_text = "Save first: the choices are those of the page chosen."
            else:
                field.queryset = field.queryset.filter(page_id=obj.page_id)
        return SamePageForm
