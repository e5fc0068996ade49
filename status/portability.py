"""Export and restore of a page, the status part: the document's envelope (format, version), the
page's settings, its component groups, components with their whole status history, and its
system metrics. incidents/portability.py adds incidents, maintenance, postmortems and templates;
notifications/portability.py adds subscribers and composes the whole document (the README's
"Export and restore" describes the format).

A restore writes rows as they were recorded, not through the domain's write path
(`Component.set_status`, `Incident.post_update`): those rules ran when the history was first
written, and running them again would date every change now, audit each one and announce them to
subscribers. What the write path keeps beside the rows is made right here instead: the uptime
totals (UptimeDay, rebuilt by ComponentStatusChange's bulk_create), the page's version (bumped
once at the end, so cached renderings go) and one audit entry, "page.restore".

Restores build objects from plain dicts through `Restore`, which remembers the object made for
each id of the document (`restore.ids`), so that another source (an importer) can build a page
the same way and look its objects up by their external ids.
"""

import base64
import binascii
import json
import re
from datetime import UTC, date, datetime

from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.images import get_image_dimensions
from django.db import models, transaction
from django.utils import timezone

from status import access, signals
from status.models import (
    CODE_LENGTH,
    SUBSCRIBER_SETTINGS,
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
    Metric,
    MetricPeriod,
    MetricPoint,
    MetricRollup,
    Page,
    metric_value_problem,
    new_code,
    normalise_domain,
    record_audit,
    validate_moment,
)

FORMAT = "heliograph.page"
VERSION = 1
# The settings of a page a document carries (its address and domain are the restorer's).
PAGE_SETTINGS = (
    "name", "time_zone", "company_url", "support_url", "accent_color", *SUBSCRIBER_SETTINGS,
    "visibility", "allowed_ips", "allowed_email_domains", "access_session_days",
)  # fmt: skip
# Settings that are lists of text.
LIST_SETTINGS = ("allowed_ips", "allowed_email_domains")
LOGO_MAX_BYTES = 2 * 1024 * 1024
CODE_SHAPE = re.compile(rf"^[a-z0-9]{{{CODE_LENGTH}}}$")
MISSING = object()
# The largest whole number the document's counts and minutes may hold (PostgreSQL's integer).
LARGEST_WHOLE = 2**31 - 1


class RestoreError(Exception):
    """The document cannot be restored: the message says where and why. Nothing was written."""


# Writing ---------------------------------------------------------------------------------------


def iso_utc(value):
    """A date-time as the document writes it: ISO 8601 in UTC, to the microsecond."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def envelope(page, *, include_secrets):
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso_utc(timezone.now()),
        "includes_secrets": include_secrets,
    }


def export_status(page, *, include_secrets=False):
    """The page's settings, groups, components (with their history) and metrics (with
    secrets: a private page's password, as its hash)."""
    page_data = {"id": page.code, "slug": page.slug, "custom_domain": page.custom_domain}
    page_data.update({name: getattr(page, name) for name in PAGE_SETTINGS})
    if include_secrets:
        page_data["access_password"] = page.access_password
    page_data.update(
        created_at=iso_utc(page.created_at),
        updated_at=iso_utc(page.updated_at),
        logo=logo_of(page),
    )
    groups = [
        {
            "id": group.code,
            "name": group.name,
            "description": group.description,
            "collapsed": group.collapsed,
            "created_at": iso_utc(group.created_at),
            "updated_at": iso_utc(group.updated_at),
        }
        for group in page.groups.order_by("position", "id")
    ]
    history = {}
    rows = ComponentStatusChange.objects.filter(component__page=page).select_related("incident")
    for row in rows.order_by("component_id", "started_at", "id"):
        history.setdefault(row.component_id, []).append(
            {
                "status": row.status,
                "started_at": iso_utc(row.started_at),
                "ended_at": iso_utc(row.ended_at),
                "incident": row.incident.code if row.incident_id else None,
            }
        )
    components = [
        {
            "id": component.code,
            "group": component.group.code if component.group_id else None,
            "name": component.name,
            "description": component.description,
            "status": component.status,
            "showcase": component.showcase,
            "only_show_if_degraded": component.only_show_if_degraded,
            "start_date": component.start_date.isoformat() if component.start_date else None,
            "created_at": iso_utc(component.created_at),
            "updated_at": iso_utc(component.updated_at),
            "history": history.get(component.pk, []),
        }
        for component in page.components_by_group()
    ]
    return {"page": page_data, "groups": groups, "components": components,
            "metrics": export_metrics(page)}  # fmt: skip


def logo_of(page):
    if not page.logo:
        return None
    try:
        with page.logo.open("rb") as file:
            content = file.read()
    except OSError:
        return None  # the file is gone from storage: the page shows no logo either
    return {
        "name": page.logo.name.rsplit("/", 1)[-1],
        "content_base64": base64.b64encode(content).decode(),
    }


def export_metrics(page):
    metrics = []
    for metric in page.metrics.order_by("position", "id"):
        metrics.append(
            {
                "id": metric.code,
                "name": metric.name,
                "suffix": metric.suffix,
                "tooltip_description": metric.tooltip_description,
                "decimal_places": metric.decimal_places,
                "y_axis_min": metric.y_axis_min,
                "y_axis_max": metric.y_axis_max,
                "y_axis_hidden": metric.y_axis_hidden,
                "display": metric.display,
                "source": metric.source,
                "most_recent_data_at": iso_utc(metric.most_recent_data_at),
                "most_recent_value": metric.most_recent_value,
                "created_at": iso_utc(metric.created_at),
                "updated_at": iso_utc(metric.updated_at),
                # [at, value] and [period, start, count, total, minimum, maximum]: compact,
                # there may be tens of thousands.
                "points": [
                    [iso_utc(at), value]
                    for at, value in metric.points.order_by("at", "id").values_list("at", "value")
                ],
                "rollups": [
                    [period, iso_utc(start), count, total, minimum, maximum]
                    for period, start, count, total, minimum, maximum in metric.rollups.order_by(
                        "period", "start"
                    ).values_list("period", "start", "count", "total", "minimum", "maximum")
                ],
            }
        )
    return metrics


# Reading ---------------------------------------------------------------------------------------


def read_document(content):
    """The document in `content` (JSON text or bytes), its format and version checked: a
    Reader of it, or RestoreError."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise RestoreError("The file is not UTF-8 text: is it an export?") from None
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        raise RestoreError(
            f"The file is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}); it may be truncated."
        ) from None
    except RecursionError:
        raise RestoreError("The file is not valid JSON (nested too deep).") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RestoreError(f'This is not a page export: "format" is not "{FORMAT}".')
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RestoreError('The export has no valid "version" (a whole number from 1).')
    if version > VERSION:
        raise RestoreError(
            f"This export is format version {version}; this Heliograph reads versions up to "
            f"{VERSION}. Restore it with the version of Heliograph that made it, or a newer one."
        )
    return Reader(data, "$")


class Reader:
    """One object of the document, read with its path for error messages."""

    def __init__(self, data, path):
        if not isinstance(data, dict):
            raise RestoreError(f"{path}: expected an object.")
        self.data, self.path = data, path

    def at(self, key):
        return f"{self.path}.{key}"

    def raw(self, key, default=MISSING):
        value = self.data.get(key)
        if value is None:
            if default is MISSING:
                raise RestoreError(f"{self.at(key)}: missing.")
            return default
        return value

    def text(self, key, default=MISSING):
        value = self.raw(key, default)
        if value is default:
            return value
        if not isinstance(value, str):
            raise RestoreError(f"{self.at(key)}: expected text.")
        if "\x00" in value:
            # PostgreSQL stores no NUL character in text.
            raise RestoreError(f"{self.at(key)}: the text holds a NUL character (\\u0000).")
        return value

    def flag(self, key, default=MISSING):
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise RestoreError(f"{self.at(key)}: expected true or false.")
        return value

    def whole(self, key, default=MISSING):
        value = self.raw(key, default)
        if value is None:
            return None
        return checked_whole(value, self.at(key))

    def number(self, key, default=MISSING):
        value = self.raw(key, default)
        if value is None:
            return None
        return checked_number(value, self.at(key))

    def choice(self, key, choices, default=MISSING):
        value = self.raw(key, default)
        if value not in choices.values:
            raise RestoreError(f"{self.at(key)}: {value!r} is not one of {', '.join(choices)}.")
        return value

    def moment(self, key, default=MISSING):
        value = self.raw(key, default)
        if value is None or value is default:
            return value
        return parse_moment(value, self.at(key))

    def day(self, key, default=MISSING):
        value = self.raw(key, default)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise RestoreError(f"{self.at(key)}: expected a date (YYYY-MM-DD).") from None

    def items(self, key):
        """The objects of the list at `key` (none when it is missing)."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise RestoreError(f"{self.at(key)}: expected a list.")
        return [Reader(item, f"{self.at(key)}[{n}]") for n, item in enumerate(value)]

    def rows(self, key):
        """The lists of the list at `key` (compact rows), as they are."""
        value = self.raw(key, [])
        if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
            raise RestoreError(f"{self.at(key)}: expected a list of lists.")
        return value

    def refs(self, key):
        """The ids of the list at `key`."""
        value = self.raw(key, [])
        if not isinstance(value, list) or not all(isinstance(ref, str) for ref in value):
            raise RestoreError(f"{self.at(key)}: expected a list of ids.")
        return value

    def mapping(self, key):
        value = self.raw(key, {})
        if not isinstance(value, dict):
            raise RestoreError(f"{self.at(key)}: expected an object.")
        return value


def parse_moment(value, path):
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise RestoreError(f"{path}: expected a date-time with its offset (ISO 8601).")
    try:
        validate_moment(parsed)
    except ValidationError as error:
        raise RestoreError(f"{path}: {error.messages[0]}") from None
    return parsed


def checked_whole(value, path, least=0):
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= LARGEST_WHOLE:
        raise RestoreError(f"{path}: expected a whole number from {least} to {LARGEST_WHOLE}.")
    return value


def checked_number(value, path):
    problem = metric_value_problem(value)
    if problem:
        raise RestoreError(f"{path}: {problem}.")
    return float(value)


def checked(obj, path, exclude=()):
    """Run the model's field validators (lengths, URLs, colours, time zones) on `obj`."""
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        messages = "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in error.message_dict.items()
        )
        raise RestoreError(f"{path}: {messages}") from None
    return obj


# Restoring -------------------------------------------------------------------------------------


class Restore:
    """One restore into `page`: the objects made for the document's ids, and what the restorer
    should know (warnings, counts)."""

    def __init__(self, page, document, *, new_page=True):
        self.page = page
        self.new_page = new_page  # made for the restore (else a given empty page)
        self.document = document
        self.ids = {}  # (kind, the document's id) -> the object made for it
        self.warnings = []
        self.counts = {}
        self.components = []  # [(component, its Reader)], for restore_history
        self.page_updated_at = None
        self.files = []  # [(storage, name)] written during the restore

    def remember(self, kind, ref, obj, path):
        if (kind, ref) in self.ids:
            raise RestoreError(f"{path}: the {kind} id {ref!r} is used twice.")
        self.ids[kind, ref] = obj

    def find(self, kind, ref, path):
        obj = self.ids.get((kind, ref))
        if obj is None:
            raise RestoreError(f"{path}: no {kind} with the id {ref!r} in the document.")
        return obj

    def discard_files(self):
        """Delete the files the restore wrote (it failed: no row names them)."""
        for storage, name in self.files:
            storage.delete(name)
        self.files = []

    def count(self, kind, n=1):
        self.counts[kind] = self.counts.get(kind, 0) + n

    def warn(self, message):
        self.warnings.append(message)

    def codes_for(self, model, refs):
        """{id: code} for new objects of `model`: the document's id as the code when it has a
        code's shape and no object has it (links to the page keep working after a move to
        another instance), else a new code. Codes are unique across all pages."""
        shaped = [ref for ref in refs if CODE_SHAPE.match(ref)]
        taken = set(model.objects.filter(code__in=shaped).values_list("code", flat=True))
        codes = {}
        for ref in refs:
            free = CODE_SHAPE.match(ref) and ref not in taken
            codes[ref] = ref if free else new_code()
            taken.add(codes[ref])
        return codes


def create_keeping_dates(model, objects, batch_size=1000):
    """bulk_create, keeping the `updated_at` the document recorded (bulk_create dates auto_now
    fields now; an UPDATE does not)."""
    wanted = [obj.updated_at for obj in objects]
    model.objects.bulk_create(objects, batch_size=batch_size)
    dated = []
    for obj, at in zip(objects, wanted, strict=True):
        if at is not None:
            obj.updated_at = at
            dated.append(obj)
    if dated:
        model.objects.bulk_update(dated, ["updated_at"], batch_size=500)
    return objects


def new_page(tenant, document):
    """A new page of `tenant` with the document's settings (not yet filled)."""
    data = Reader(document.raw("page"), "$.page")
    page = Page(tenant=tenant)
    apply_settings(page, data)  # the custom domain comes with restore_structure
    slug = data.text("slug", "")
    usable = slug and slug_is_valid(slug) and not Page.objects.filter(slug=slug).exists()
    page.slug = slug if usable else Page.objects.free_slug(page.name)
    ref = data.text("id", "")
    free = CODE_SHAPE.match(ref) and not Page.objects.filter(code=ref).exists()
    page.code = ref if free else new_code()
    checked(page, "$.page", exclude=["tenant", "logo"])
    page.save()
    return page


def slug_is_valid(slug):
    """Whether `slug` may be a page's address here (a reserved or malformed one may not)."""
    try:
        Page._meta.get_field("slug").clean(slug, None)
    except ValidationError:
        return False
    return True


def apply_settings(page, data, *, present_only=False):
    """The document's page settings on `page` (a missing one takes its default, unless
    `present_only`: then it is left as it is, as a re-import leaves what its source does not
    say)."""
    for name in PAGE_SETTINGS:
        if present_only and data.raw(name, None) is None:
            continue
        field = Page._meta.get_field(name)
        if isinstance(field, models.BooleanField):
            setattr(page, name, data.flag(name, field.get_default()))
        elif name in LIST_SETTINGS:
            setattr(page, name, data.refs(name) if data.raw(name, None) is not None else [])
        elif isinstance(field, models.PositiveSmallIntegerField):
            setattr(page, name, data.whole(name, field.get_default()))
        elif name == "name":
            page.name = data.text("name")
        else:
            setattr(page, name, data.text(name, field.get_default()))
    created = data.moment("created_at", None)
    if created:
        page.created_at = created


def check_no_structure(page):
    if page.components.exists() or page.groups.exists() or page.metrics.exists():
        raise RestoreError(
            f"The page {page.slug} has components or metrics already: restore into an empty page."
        )


def group_fields(item, position):
    """A group's fields from its document item (a Reader), at `position`."""
    return {
        "name": item.text("name"),
        "description": item.text("description", ""),
        "collapsed": item.flag("collapsed", False),
        "position": position,
        "created_at": item.moment("created_at", timezone.now()),
        "updated_at": item.moment("updated_at", None),
    }


def component_fields(item, group, position):
    """A component's fields from its document item, but its status (which comes with its
    history), in `group` at `position`."""
    return {
        "group": group,
        "name": item.text("name"),
        "description": item.text("description", ""),
        "position": position,
        "showcase": item.flag("showcase", True),
        "only_show_if_degraded": item.flag("only_show_if_degraded", False),
        "start_date": item.day("start_date", None),
        "created_at": item.moment("created_at", timezone.now()),
        "updated_at": item.moment("updated_at", None),
    }


def metric_fields(item, position):
    """A metric's fields from its document item, but its source."""
    return {
        "name": item.text("name"),
        "suffix": item.text("suffix", ""),
        "tooltip_description": item.text("tooltip_description", ""),
        "decimal_places": item.whole("decimal_places", 0),
        "y_axis_min": item.number("y_axis_min", None),
        "y_axis_max": item.number("y_axis_max", None),
        "y_axis_hidden": item.flag("y_axis_hidden", False),
        "display": item.flag("display", True),
        "position": position,
        "most_recent_data_at": item.moment("most_recent_data_at", None),
        "most_recent_value": item.number("most_recent_value", None),
        "created_at": item.moment("created_at", timezone.now()),
        "updated_at": item.moment("updated_at", None),
    }


def restore_structure(restore):
    """The page's settings, groups, components and metrics (the history comes with
    `restore_history`, once the incidents it names exist)."""
    page, document = restore.page, restore.document
    data = Reader(document.raw("page"), "$.page")
    apply_settings(page, data)
    if restore.new_page:
        # A domain is served only once proved again (status/domains.py): its claim comes
        # along, unless another page has proved it is its own (perhaps the exported page itself,
        # on this instance). A given page keeps its own address and domain.
        domain = normalise_domain(data.text("custom_domain", ""))
        if (
            domain
            and Page.objects.filter(custom_domain=domain, domain_verified_at__isnull=False)
            .exclude(pk=page.pk)
            .exists()
        ):
            restore.warn(f"The custom domain {domain} is another page's here; it was left out.")
            domain = None
        page.custom_domain, page.domain_verified_at = domain, None
    restore_access_password(restore, data)
    checked(page, "$.page", exclude=["tenant", "logo", "slug"])
    restore_logo(restore, data)
    Page.objects.filter(pk=page.pk).update(
        **{name: getattr(page, name) for name in PAGE_SETTINGS},
        access_password=page.access_password,
        custom_domain=page.custom_domain,
        domain_verified_at=page.domain_verified_at,
        created_at=page.created_at,
        logo=page.logo.name or "",
    )
    restore.page_updated_at = data.moment("updated_at", None)

    groups = []
    items = document.items("groups")
    codes = restore.codes_for(ComponentGroup, [item.text("id") for item in items])
    for position, item in enumerate(items):
        ref = item.text("id")
        group = ComponentGroup(page=page, code=codes[ref], **group_fields(item, position))
        checked(group, item.path, exclude=["page", "updated_at"])
        restore.remember("group", ref, group, item.path)
        groups.append(group)
    create_keeping_dates(ComponentGroup, groups)

    components, positions = [], {}
    items = document.items("components")
    codes = restore.codes_for(Component, [item.text("id") for item in items])
    for item in items:
        ref = item.text("id")
        group_ref = item.text("group", None)
        group = restore.find("group", group_ref, item.at("group")) if group_ref else None
        position = positions[group_ref] = positions.get(group_ref, -1) + 1
        component = Component(
            page=page,
            code=codes[ref],
            status=item.choice("status", ComponentStatus, ComponentStatus.OPERATIONAL),
            **component_fields(item, group, position),
        )
        component.page = page
        checked(component, item.path, exclude=["page", "group", "updated_at"])
        restore.remember("component", ref, component, item.path)
        components.append((component, item))
    # bulk_create: Component.save would open a history period dated now, and each save would
    # renumber its siblings; the document's order is the order.
    create_keeping_dates(Component, [component for component, _ in components])
    restore.components = components
    restore.count("groups", len(groups))
    restore.count("components", len(components))
    restore_metrics(restore)


def restore_access_password(restore, data):
    """A private page's password, as its hash (only in an export with secrets)."""
    page = restore.page
    hashed = data.text("access_password", "")
    try:
        usable = bool(hashed) and bool(identify_hasher(hashed))
    except ValueError:
        usable = False
    page.access_password = hashed if usable else ""
    if hashed and not usable:
        restore.warn("The private page's password is not a password hash here; it was left out.")
    elif page.visibility == access.Visibility.PRIVATE and "access_password" not in data.data:
        restore.warn(
            "This private page comes without its password (the export has no secrets): if it "
            "had one, set it again in the page's settings."
        )


def restore_logo(restore, data):
    """The document's logo, written to storage now (the page's row comes with the
    transaction): `restore.files` lists it, for restore_page to delete if the restore fails."""
    page = restore.page
    logo = data.raw("logo", None)
    if logo is None:
        return
    logo = Reader(logo, "$.page.logo")
    try:
        content = base64.b64decode(logo.text("content_base64"), validate=True)
    except (binascii.Error, ValueError):
        raise RestoreError("$.page.logo.content_base64: not base64.") from None
    if len(content) > LOGO_MAX_BYTES:
        raise RestoreError(f"$.page.logo: larger than {LOGO_MAX_BYTES // 1024} KB.")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", logo.text("name", "logo.png"))[-80:] or "logo.png"
    file = ContentFile(content, name=name)
    if get_image_dimensions(file) == (None, None):
        raise RestoreError("$.page.logo: not an image.")
    page.logo.save(name, file, save=False)
    restore.files.append((page.logo.storage, page.logo.name))


def restore_metrics(restore):
    page = restore.page
    metrics = []
    items = restore.document.items("metrics")
    codes = restore.codes_for(Metric, [item.text("id") for item in items])
    for position, item in enumerate(items):
        ref = item.text("id")
        source = item.text("source", "api")
        if source == "monitor":
            # Monitors are not exported: their response times stay as a metric of its own.
            restore.warn(f"The metric “{item.text('name')}” was a monitor's; it is kept as data.")
            source = "api"
        metric = Metric(page=page, code=codes[ref], source=source, **metric_fields(item, position))
        metric.page = page
        checked(metric, item.path, exclude=["page", "updated_at"])
        restore.remember("metric", ref, metric, item.path)
        metrics.append((metric, item))
    create_keeping_dates(Metric, [metric for metric, _ in metrics])
    points, rollups = [], []
    periods = set(MetricPeriod.values)
    for metric, item in metrics:
        for n, row in enumerate(item.rows("points")):
            path = f"{item.at('points')}[{n}]"
            if len(row) != 2:
                raise RestoreError(f"{path}: expected [at, value].")
            at = parse_moment(row[0], path)
            points.append(MetricPoint(metric=metric, at=at, value=checked_number(row[1], path)))
        for n, row in enumerate(item.rows("rollups")):
            path = f"{item.at('rollups')}[{n}]"
            if len(row) != 6 or not isinstance(row[0], str) or row[0] not in periods:
                raise RestoreError(f"{path}: expected [period, start, count, total, min, max].")
            count = checked_whole(row[2], f"{path} count", least=1)
            rollups.append(
                MetricRollup(
                    metric=metric,
                    period=row[0],
                    start=parse_moment(row[1], path),
                    count=count,
                    total=checked_number(row[3], path),
                    minimum=checked_number(row[4], path),
                    maximum=checked_number(row[5], path),
                )
            )
    MetricPoint.objects.bulk_create(points, batch_size=2000)
    MetricRollup.objects.bulk_create(rollups, batch_size=2000)
    restore.count("metrics", len(metrics))


def restore_history(restore):
    """Every component's status history as recorded, linked to the incidents the document
    named (restored before this). Written as rows (see the module's docstring); the uptime
    totals follow (ComponentStatusChange's bulk_create rebuilds them)."""
    rows = []
    for component, item in restore.components:
        rows += history_rows(component, item, lambda ref, path: restore.find("incident", ref, path))
    # One rebuild of the uptime totals for all of them (the QuerySet's bulk_create).
    ComponentStatusChange.objects.bulk_create(rows, batch_size=2000)
    restore.count("status_changes", len(rows))


def history_rows(component, item, find_incident):
    """The status periods (unsaved ComponentStatusChanges) of `component` that its document
    item lists, checked; `find_incident(id, path)` gives the incident a period names. Its
    last period's status is the component's."""
    periods = item.items("history")
    if not periods:
        # A component without history (an import from a plain list): its status since its
        # history's start.
        return [
            ComponentStatusChange(
                component=component,
                status=component.status,
                started_at=component.history_start(),
            )
        ]
    rows, previous_end = [], None
    for n, period in enumerate(periods):
        started_at = period.moment("started_at")
        ended_at = period.moment("ended_at", None)
        last = n == len(periods) - 1
        if previous_end is not None and started_at < previous_end:
            raise RestoreError(f"{period.path}: starts before the period before it ends.")
        if ended_at is not None and ended_at < started_at:
            raise RestoreError(f"{period.path}: ends before it starts.")
        if (ended_at is None) != last:
            raise RestoreError(f"{period.path}: only the last period is open (no ended_at).")
        status = period.choice("status", ComponentStatus)
        if last and status != component.status:
            raise RestoreError(
                f"{period.path}: the open period's status is not the component's status."
            )
        cause = period.text("incident", None)
        rows.append(
            ComponentStatusChange(
                component=component,
                status=status,
                started_at=started_at,
                ended_at=ended_at,
                incident=find_incident(cause, period.at("incident")) if cause else None,
            )
        )
        previous_end = ended_at
    return rows


def finish(restore, *, by=None):
    """The page's caches and audit log after a restore."""
    page = restore.page
    page.bump_version()
    if restore.page_updated_at:
        Page.objects.filter(pk=page.pk).update(updated_at=restore.page_updated_at)
    record_audit(page, "page.restore", page, by=by, after=dict(sorted(restore.counts.items())))
    transaction.on_commit(
        lambda: signals.page_changed.send(sender=Page, page_id=page.pk, hosts_changed=True)
    )
    page.refresh_from_db()
