"""Importing a page from Statuspage, idempotently and resumably (issue 16's "Import from
Statuspage"; the README's "Migrating from Statuspage").

A source (Statuspage's management API v1 with a key, notifications/statuspage_api.py; or any
page's public JSON, notifications/statuspage_import.py) is read and converted into an export
document (the format of notifications/portability.py), whose ids are Statuspage's. An import
then runs in two phases, each a Celery task (tasks.plan_import, tasks.apply_import) recorded on
a PageImport:

1. planning (the dry run): the source is read and the whole import tried in one transaction
   that is rolled back, so the summary says exactly what would be created, changed or left as
   it is, with the warnings, and nothing is written but the PageImport;
2. applying, in steps ("structure", incidents 50 at a time, "history", "templates",
   subscribers 1,000 at a time, "finish"), one transaction each; a step's transaction also
   marks it done on the PageImport, so an interrupted import resumes after the last step done.

Idempotent: every object made from the source is remembered with its Statuspage id
(status.models.ExternalRef) and a digest of what the source said. A re-run of the same source
finds the page imported before (by the Statuspage page id, within the tenant), leaves what did
not change upstream alone, updates what did and adds what is new; it never makes a second copy.
Objects deleted here since are made again (the source still has them); objects gone from the
source stay here.

Like a restore, an import writes rows, not through the domain's write path, and sends nothing:
no confirmation to subscribers, no notification of incidents, history or maintenance (a
maintenance whose automatic start or end passed is moved on by the scheduler without telling
anyone: incidents/portability.quiet_if_overdue). Subscribers keep their consent, within the
tenant's sending policy: confirmed ones stay confirmed where the platform trusts the tenant,
otherwise they wait for their own confirmation (nothing asks them), and unconfirmed ones stay
pending. A re-run never makes anyone subscribed again who unsubscribed here.

A component's history is rebuilt from the source's incidents (statuspage_import.rebuild_history)
and replaced on a re-run only while nothing changed it here since the last import; otherwise the
history here is kept, with a warning.
"""

import hashlib
import json
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from incidents.models import (
    ComponentImpact,
    Incident,
    IncidentTemplate,
    IncidentUpdate,
    Kind,
)
from incidents.portability import (
    impacts_of,
    incident_fields,
    quiet_if_overdue,
    template_fields,
    template_statuses,
    update_fields,
)
from notifications import outbox, statuspage_api, statuspage_import
from notifications.models import (
    EVENT_CHOICE_FIELDS,
    ImportSource,
    ImportState,
    PageImport,
    Subscriber,
    SubscriberState,
    new_token,
    new_webhook_secret,
)
from notifications.portability import (
    address_of,
    create_scopes,
    restore_page,
    subscriber_from,
)
from notifications.statuspage_import import ImportFailure
from status import signals
from status.models import (
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
    ExternalRef,
    Metric,
    MetricPoint,
    Page,
    Tenant,
    record_audit,
)
from status.portability import (
    Reader,
    Restore,
    RestoreError,
    apply_settings,
    checked,
    checked_number,
    component_fields,
    create_keeping_dates,
    group_fields,
    history_rows,
    metric_fields,
    new_page,
    parse_moment,
    read_document,
)

log = logging.getLogger(__name__)

__all__ = ["ImportFailure", "KINDS", "start", "confirm", "can_confirm", "plan_run", "apply_run"]

PLAN_IMPORT = "notifications.tasks.plan_import"
APPLY_IMPORT = "notifications.tasks.apply_import"
# What an import counts, in the order the console shows it.
KINDS = [
    ("groups", "Component groups"),
    ("components", "Components"),
    ("incidents", "Incidents"),
    ("maintenances", "Scheduled maintenance"),
    ("incident_updates", "Incident updates"),
    ("postmortems", "Postmortems"),
    ("incident_templates", "Incident templates"),
    ("subscribers", "Subscribers"),
    ("metrics", "Metrics"),
]
INCIDENT_BATCH = 50
SUBSCRIBER_BATCH = 1000
SHOWN_NAMES = 5
# A run queued or running with no progress for this long lost its worker: it may be resumed.
STALLED_AFTER = timedelta(minutes=10)
# Fields a model's own checks need not see when an import builds it (set apart, or later).
EVENT_FIELDS = list(EVENT_CHOICE_FIELDS.values())
CHECK_EXCLUDE = ["page", "group", "updated_at", "components", "incident", "subscriber"]


class DryRun(Exception):
    """Rolls the trial of a plan back."""


# The run -------------------------------------------------------------------------------------


def start(
    tenant,
    *,
    source,
    by=None,
    public_url="",
    api_url="",
    page_id="",
    api_key="",
    export=None,
    export_name="",
    enqueue=True,
):
    """A new import into `tenant`, its planning enqueued on commit (unless not `enqueue`: the
    caller runs plan_run): the PageImport. The source: a Statuspage page (its management API:
    `api_url`, `page_id`, `api_key`; or its public JSON: `public_url`), or a Heliograph export
    (`export`: the file's bytes, restored into a new page, as notifications/portability.py
    restores). ImportFailure for a source that cannot be one (nothing is written then)."""
    document = None
    if source == ImportSource.EXPORT:
        try:
            document = storable(read_document(export or b"").data)
        except RestoreError as error:
            raise ImportFailure(str(error)) from None
        url, page_id, api_key = f"Heliograph export {export_name}".strip()[:500], "", ""
    elif source == ImportSource.PUBLIC:
        url, page_id, api_key = statuspage_import.base_url(public_url), "", ""
    elif source == ImportSource.API:
        url = statuspage_import.base_url(api_url or settings.STATUSPAGE_API_URL)
        page_id, api_key = (page_id or "").strip(), (api_key or "").strip()
        if not page_id:
            raise ImportFailure("Give the Statuspage page id (in the page's API settings).")
        if not api_key:
            raise ImportFailure("Give a Statuspage API key (your profile's API info).")
        if len(page_id) > 64 or not page_id.isalnum():
            raise ImportFailure(f"{page_id[:64]!r} is not a Statuspage page id (letters, digits).")
        if len(api_key) > 200 or not api_key.isprintable():
            raise ImportFailure("That is not a Statuspage API key.")
    else:
        raise ImportFailure(f"Unknown source {source!r}.")
    run = PageImport.objects.create(
        tenant=tenant,
        source=source,
        source_url=url,
        source_page_id=page_id,
        api_key=api_key,
        document=document,
        created_by=by if by is not None and by.is_authenticated else None,
        progress={"step": "Waiting for a worker to read the source", "done": 0, "total": 0},
    )
    if enqueue:
        outbox.enqueue_on_commit(PLAN_IMPORT, run.pk)
    return run


def read_source(run, progress=None):
    """The source's Plan (statuspage_import.Plan), or ImportFailure."""
    if run.source == ImportSource.API:
        return statuspage_api.plan_api(
            run.source_url, run.source_page_id, run.api_key, progress=progress
        )
    if progress:
        progress("Reading the public JSON")
    return statuspage_import.plan(run.source_url)


class Superseded(Exception):
    """Another worker holds the run now (the sweeper gave it to one): this one stops, and
    what it was writing is rolled back."""


def claim(run, states, **changes):
    """Take the run for this worker if it is in one of `states`: whether it was taken (its
    new claim is on `run`)."""
    token = secrets.token_hex(16)
    taken = PageImport.objects.filter(pk=run.pk, state__in=states).update(
        claim=token, updated_at=timezone.now(), **changes
    )
    if taken:
        run.claim = token
        for name, value in changes.items():
            setattr(run, name, value)
    return bool(taken)


def save_claimed(run, **fields):
    """Write `fields` of the run this worker holds (and note the time: progress); Superseded
    when another worker holds it now."""
    for name, value in fields.items():
        setattr(run, name, value)
    fields["updated_at"] = timezone.now()
    if not PageImport.objects.filter(pk=run.pk, claim=run.claim).update(**fields):
        raise Superseded
    run.updated_at = fields["updated_at"]


def set_progress(run, step, done=0, total=0):
    save_claimed(run, progress={"step": step, "done": done, "total": total})


def storable(document):
    """ImportFailure unless the database can keep `document` (JSON without NaN, Infinity or
    NUL characters, which PostgreSQL's jsonb refuses)."""
    try:
        text = json.dumps(document, allow_nan=False)
    except ValueError:
        raise ImportFailure(
            "The source holds a number JSON does not allow (NaN or Infinity)."
        ) from None
    if "\\u0000" in text:
        raise ImportFailure("The source holds a NUL character (\\u0000), which no text may hold.")
    return document


def plan_run(run_id):
    """Read the run's source and try the whole import, rolled back: the run is planned, with
    its summary, or failed with the reason. Nothing else is written."""
    run = PageImport.objects.filter(pk=run_id).first()
    if run is None or not claim(run, [ImportState.PLANNING]):
        return None
    try:
        if run.source == ImportSource.EXPORT:
            return plan_restore(run)
        plan = read_source(run, progress=lambda label: set_progress(run, label))
        storable(plan.document)
        importer = Importer(run, plan.document, trial=True)
        try:
            with transaction.atomic():
                importer.run_all()
                raise DryRun
        except DryRun:
            pass
        save_claimed(
            run,
            document=plan.document,
            summary={
                "source": plan.source,
                "page_name": plan.document["page"]["name"],
                "existing_page": importer.existing_page,
                "counts": importer.counts,
                "first": {kind: plan.names(kind)[:SHOWN_NAMES] for kind in NAMED_KINDS},
                "warnings": [*plan.warnings, *importer.warnings],
            },
            state=ImportState.PLANNED,
            progress={"step": "Ready to import", "done": 0, "total": len(importer.steps())},
            api_key="",  # the source is read: the import works from the document
        )
    except Superseded:
        return None
    except ImportFailure as error:
        return fail(run, str(error))
    except Exception:
        log.exception("reading the source of import %s failed", run.code)
        return fail(run, "An unexpected error stopped reading the source. Start again.")
    return run


NAMED_KINDS = ("groups", "components", "incidents", "maintenances")


def plan_restore(run):
    """Try restoring the run's export into a new page, rolled back: the run planned with what
    it would create, or failed with the reason."""
    try:
        with transaction.atomic():
            restore = restore_page(run.tenant, json.dumps(run.document))
            raise DryRun
    except DryRun:
        restore.discard_files()  # the logo it wrote, which no row names now
    except RestoreError as error:
        return fail(run, str(error))
    page = run.document.get("page") or {}
    save_claimed(
        run,
        summary={
            "source": "A Heliograph export",
            "page_name": page.get("name", ""),
            "existing_page": None,
            "counts": restored_counts(restore),
            "first": {},
            "warnings": restore.warnings,
        },
        state=ImportState.PLANNED,
        progress={"step": "Ready to import", "done": 0, "total": 1},
    )
    return run


def restored_counts(restore):
    return {
        kind: {"created": restore.counts.get(kind, 0), "updated": 0, "unchanged": 0}
        for kind, _ in KINDS
    }


def apply_restore(run):
    """Restore the run's export into a new page, in one transaction (with the run marked
    done in it)."""
    set_progress(run, "Restoring the export", 0, 1)
    try:
        with transaction.atomic():
            restore = restore_page(
                run.tenant, json.dumps(run.document), by=run.applied_by or run.created_by
            )
            save_claimed(
                run,
                page=restore.page,
                state=ImportState.DONE,
                finished_at=timezone.now(),
                steps_done=["restore"],
                progress={"step": "Imported", "done": 1, "total": 1},
                report={
                    "page": page_report(restore.page),
                    "counts": restored_counts(restore),
                    "warnings": restore.warnings,
                },
                document=None,  # done: the subscribers' addresses need not stay here
            )
    except RestoreError as error:
        return fail(run, str(error))
    return run


def fail(run, message):
    """The run failed with `message` (unless another worker holds it now)."""
    try:
        save_claimed(
            run,
            state=ImportState.FAILED,
            error=message,
            progress={**run.progress, "step": "Stopped"},
            finished_at=timezone.now(),
            api_key="",  # only reading the source needs it, and that is over
        )
    except Superseded:
        return None
    return run


def can_confirm(run):
    """Whether the run may be applied now: planned, or stopped after a successful dry run
    (failed, or its worker gone: resumed from its last step done)."""
    if run.document is None or not run.summary:
        return False
    if run.state in (ImportState.PLANNED, ImportState.FAILED):
        return True
    stalled = run.updated_at < timezone.now() - STALLED_AFTER
    return run.state in (ImportState.QUEUED, ImportState.RUNNING) and stalled


def confirm(run, by=None, *, enqueue=True):
    """Apply the planned run in the background (tasks.apply_import, unless not `enqueue`: the
    caller runs apply_run), or resume it."""
    if not can_confirm(run):
        if run.state == ImportState.DONE:
            raise ImportFailure("This import is done; start a new one to import again.")
        if run.document is None or not run.summary:
            raise ImportFailure("This import has no dry run to carry out: start it again.")
        raise ImportFailure("This import is under way already.")
    claimed = PageImport.objects.filter(pk=run.pk, state=run.state, updated_at=run.updated_at)
    if not claimed.update(
        state=ImportState.QUEUED,
        error="",
        finished_at=None,
        claim="",  # a worker it was stalled in may not write any more
        applied_by=by if by is not None and by.is_authenticated else run.applied_by,
        updated_at=timezone.now(),
        progress={**run.progress, "step": "Waiting for a worker"},
    ):
        raise ImportFailure("This import is under way already.")
    run.refresh_from_db()
    if enqueue:
        outbox.enqueue_on_commit(APPLY_IMPORT, run.pk)
    return run


def apply_run(run_id):
    """Apply the run's document step by step (one transaction each, skipping the steps done):
    the run, done with its report or failed with the reason (None when another worker holds
    it)."""
    run = PageImport.objects.filter(pk=run_id).first()
    if run is None or not claim(run, [ImportState.QUEUED], state=ImportState.RUNNING):
        return None
    try:
        if run.source == ImportSource.EXPORT:
            return apply_restore(run)
        Importer(run, run.document).run_all()
    except Superseded:
        return None
    except ImportFailure as error:
        return fail(run, str(error))
    except Exception:
        log.exception("import %s failed", run.code)
        fail(run, "An unexpected error stopped the import; the steps done are kept. Resume it.")
        raise
    return run


# Runs whose dry run nobody carried out, or that stopped, keep their document (subscribers'
# addresses) this long; then it is dropped, and the run is over.
KEPT_FOR = timedelta(days=7)


def tend_imports(now=None):
    """The sweeper's care of imports (every minute): those whose worker went away (planning,
    queued or running with no progress for STALLED_AFTER) are enqueued again, to resume after
    their last step done; the documents of runs planned or failed more than KEPT_FOR ago are
    dropped. The number enqueued."""
    now = now or timezone.now()
    stalled = PageImport.objects.filter(updated_at__lt=now - STALLED_AFTER)
    again = 0
    for pk, state in stalled.filter(
        state__in=[ImportState.PLANNING, ImportState.QUEUED, ImportState.RUNNING]
    ).values_list("pk", "state")[:100]:
        task = PLAN_IMPORT if state == ImportState.PLANNING else APPLY_IMPORT
        claimed = stalled.filter(pk=pk, state=state).update(
            state=ImportState.PLANNING if task == PLAN_IMPORT else ImportState.QUEUED,
            claim="",  # the worker it was with may not write any more
            updated_at=now,
        )
        if claimed:
            log.warning("import %s stalled while %s: enqueued again", pk, state)
            outbox.enqueue_on_commit(task, pk)
            again += 1
    PageImport.objects.filter(
        state__in=[ImportState.PLANNED, ImportState.FAILED],
        updated_at__lt=now - KEPT_FOR,
        document__isnull=False,
    ).update(
        document=None,
        api_key="",
        state=ImportState.FAILED,
        error=f"Not carried out within {KEPT_FOR.days} days: start the import again.",
        updated_at=now,
    )
    return again


# Importing -----------------------------------------------------------------------------------


def digest(value):
    return hashlib.md5(  # noqa: S324 (a change detector, not a secret)
        json.dumps(value, sort_keys=True, default=str).encode()
    ).hexdigest()


class Importer:
    """The steps of one import of `document` for `run` (trial: all of them in the caller's
    transaction, the run untouched)."""

    def __init__(self, run, document, *, trial=False):
        self.run, self.trial = run, trial
        self.data = document
        self.document = Reader(document, "$")
        self.page = run.page if not trial else None
        self.existing_page = None
        # An apply goes on from the warnings of its plan (or of its steps done).
        self.warnings = (
            [] if trial else list(run.report.get("warnings", run.summary.get("warnings", [])))
        )
        counts = {} if trial else run.report.get("counts", {})
        self.counts = {
            kind: {"created": 0, "updated": 0, "unchanged": 0, **counts.get(kind, {})}
            for kind, _ in KINDS
        }
        self.tallies = {} if trial else dict(run.report.get("tallies", {}))

    def steps(self):
        incidents = len(self.data.get("incidents") or [])
        subscribers = len(self.data.get("subscribers") or [])
        return [
            "structure",
            *(f"incidents:{n}" for n in range(0, incidents, INCIDENT_BATCH)),
            "history",
            "templates",
            *(f"subscribers:{n}" for n in range(0, subscribers, SUBSCRIBER_BATCH)),
            "finish",
        ]

    def count(self, kind, outcome, n=1):
        self.counts[kind][outcome] += n

    def warn(self, message):
        if message not in self.warnings:
            self.warnings.append(message)

    def run_all(self):
        steps = self.steps()
        for n, step in enumerate(steps):
            if not self.trial:
                if step in self.run.steps_done:
                    continue
                set_progress(self.run, STEP_LABELS[step.split(":")[0]], n, len(steps))
            try:
                with transaction.atomic():
                    self.run_step(step)
                    if not self.trial:
                        self.mark_done(step)
            except RestoreError as error:
                raise ImportFailure(f"{stopped(step)}: {error}") from None
            except IntegrityError as error:
                raise ImportFailure(
                    f"{stopped(step)}: the source contradicts itself ({error})."
                ) from None
            except OperationalError as error:
                raise ImportFailure(
                    f"{stopped(step)}: the database did not answer ({error}). What was done "
                    "is kept: resume the import."
                ) from None
            except DatabaseError as error:
                raise ImportFailure(
                    f"{stopped(step)}: the database refused a value ({error})."
                ) from None

    def mark_done(self, step):
        """Record the step done, in its own transaction (Superseded, rolling it back, when
        another worker holds the run now)."""
        fields = {
            "steps_done": [*self.run.steps_done, step],
            "page": self.page,
            "report": {
                "page": page_report(self.page),
                "counts": self.counts,
                "warnings": self.warnings,
                "tallies": self.tallies,
            },
        }
        if step == "finish":
            total = len(self.steps())
            fields.update(
                state=ImportState.DONE,
                api_key="",
                finished_at=timezone.now(),
                progress={"step": "Imported", "done": total, "total": total},
                document=None,  # done: the subscribers' addresses need not stay here
            )
        save_claimed(self.run, **fields)

    def run_step(self, step):
        name, _, first = step.partition(":")
        if self.page is None and name != "structure":
            self.page = self.find_page()
        if self.page is not None and not self.trial:
            # One import step of a page at a time (the page's row: writers of its content
            # other than imports do not wait for it, but for a version bump).
            Page.objects.select_for_update(no_key=True).filter(pk=self.page.pk).first()
        if name == "structure":
            self.import_structure()
        elif name == "incidents":
            self.import_incidents(int(first))
        elif name == "history":
            self.import_history()
        elif name == "templates":
            self.import_templates()
        elif name == "subscribers":
            self.import_subscribers(int(first))
        else:
            self.finish()

    # The page, its groups, components and metrics

    def find_page(self, lock=False):
        """The page imported before from the same Statuspage page into this tenant (or the
        run's own page). With `lock`, two imports of one source into one tenant wait for each
        other here, so that they make one page, not two (a lock on the tenant's row that
        leaves writes naming the tenant free; a trial takes none)."""
        page_data = self.document.raw("page")
        ref = page_data.get("id", "") if isinstance(page_data, dict) else ""
        if lock and not self.trial:
            Tenant.objects.select_for_update(no_key=True).filter(pk=self.run.tenant_id).first()
        if not ref:
            return self.run.page
        found = (
            ExternalRef.objects.filter(
                page__tenant_id=self.run.tenant_id, kind="page", external_id=ref
            )
            .select_related("page")
            .first()
        )
        return found.page if found else self.run.page

    def import_structure(self):
        data = Reader(self.document.raw("page"), "$.page")
        page = self.page or self.find_page(lock=True)
        if page is None:
            page = new_page(self.run.tenant, self.document)
            ExternalRef.objects.create(
                page=page, kind="page", external_id=data.text("id", "") or page.code,
                object_id=page.pk, digest=digest(self.data["page"]),
            )  # fmt: skip
        else:
            self.existing_page = page_report(page)
            ref = ExternalRef.objects.filter(page=page, kind="page").first()
            if ref and ref.digest != digest(self.data["page"]):
                apply_settings(page, data, present_only=True)
                checked(page, "$.page", exclude=["tenant", "logo", "slug"])
                page.save()
                ref.digest = digest(self.data["page"])
                ref.save(update_fields=["digest"])
        self.page = page
        self.groups = self.upsert(
            "group", "groups", ComponentGroup, self.document.items("groups"), self.group_fields
        )
        self.components = self.upsert(
            "component",
            "components",
            Component,
            self.document.items("components"),
            self.component_fields,
            # Its status and history are the history step's: a status change upstream (in
            # every incident) leaves its name, group and place alone.
            digest_of=lambda item: digest(
                {key: value for key, value in item.data.items() if key not in ("history", "status")}
            ),
        )
        self.import_metrics()

    def upsert(self, kind, counted, model, items, fields_of, *, digest_of=None):
        """Make or update the page's objects of `model` for `items` (Readers), by their
        source ids: {source id: object}. `fields_of(item, position, new)` gives the fields;
        `fields_of.fields` those an update writes; `digest_of(item)` what tells a change
        upstream (default: the whole item). An object changed here since the last import is
        left as it is here."""
        digest_of = digest_of or (lambda item: digest(item.data))
        known = ExternalRef.objects.known(self.page, kind)
        written = ExternalRef.objects.written(self.page, kind)
        existing = model.objects.in_bulk([object_id for object_id, _ in known.values()])
        codes = self.new_codes(model, items, known, existing)
        objects, new, changed, refs = {}, [], [], []
        for position, item in enumerate(items):
            ref = item.text("id")
            if ref in objects:
                raise RestoreError(f"{item.path}: the id {ref!r} is used twice.")
            wanted = digest_of(item)
            object_id, seen = known.get(ref, (None, None))
            obj = existing.get(object_id)
            if obj is not None and seen == wanted:
                self.count(counted, "unchanged")
            elif obj is not None and changed_here(obj, written):
                self.count(counted, "unchanged")
                self.kept_here(counted)
            elif obj is not None:
                for name, value in fields_of(item, position, False).items():
                    setattr(obj, name, value)
                checked(obj, item.path, exclude=CHECK_EXCLUDE)
                changed.append(obj)
                refs.append((ref, obj, wanted))
                self.count(counted, "updated")
            else:
                obj = model(page=self.page, code=codes[ref], **fields_of(item, position, True))
                checked(obj, item.path, exclude=CHECK_EXCLUDE)
                new.append(obj)
                refs.append((ref, obj, wanted))
                self.count(counted, "created")
            objects[ref] = obj
        create_keeping_dates(model, new)
        for obj in changed:
            model.objects.filter(pk=obj.pk).update(**written_fields(obj, fields_of.fields))
        self.remember(kind, [(ref, obj.pk, d) for ref, obj, d in refs], model=model)
        return objects

    def kept_here(self, counted, n=1):
        self.warn_count(
            f"kept:{counted}", n,
            f"{counted.replace('_', ' ')} changed here since the last import: left as they "
            "are here.",
        )  # fmt: skip

    def new_codes(self, model, items, known, existing):
        """{source id: code} for the items (Readers) that have no object here yet."""
        missing = [
            item.text("id")
            for item in items
            if existing.get(known.get(item.text("id"), (None, None))[0]) is None
        ]
        return Restore(self.page, self.document).codes_for(model, missing)

    def finder(self, kind):
        """find(source id, path) → the id of the page's object of `kind` made from it, or
        RestoreError naming the path."""
        ids = self.ids(kind)

        def find(ref, path):
            if ref not in ids:
                raise RestoreError(f"{path}: no {kind} with the id {ref!r}.")
            return ids[ref]

        return find

    def ids(self, kind):
        """{source id: object id} of the page's objects of `kind` from imports."""
        return {ref: pk for ref, (pk, _) in ExternalRef.objects.known(self.page, kind).items()}

    def remember(self, kind, rows, *, model=None):
        """Record (source id, object id, digest) rows of `kind`, replacing earlier ones, with
        each object's updated_at as written now (for `model`s that have one)."""
        if not rows:
            return
        ExternalRef.objects.filter(
            page=self.page, kind=kind, external_id__in=[ref for ref, _, _ in rows]
        ).delete()
        written = {}
        if model is not None:
            written = dict(
                model.objects.filter(pk__in=[pk for _, pk, _ in rows]).values_list(
                    "pk", "updated_at"
                )
            )
        ExternalRef.objects.bulk_create(
            [
                ExternalRef(
                    page=self.page,
                    kind=kind,
                    external_id=ref,
                    object_id=pk,
                    digest=d,
                    written_at=written.get(pk),
                )  # fmt: skip
                for ref, pk, d in rows
            ],
            batch_size=1000,
        )

    def group_fields(self, item, position, new):
        return group_fields(item, position)

    group_fields.fields = ["name", "description", "collapsed", "position", "created_at"]

    def component_fields(self, item, position, new):
        group_ref = item.text("group", None)
        group = self.groups.get(group_ref) if group_ref else None
        if group_ref and group is None:
            raise RestoreError(f"{item.at('group')}: no group with the id {group_ref!r}.")
        fields = component_fields(item, group, position)
        if new:
            # Its history (import_history) starts with this status, or sets it.
            fields["status"] = item.choice("status", ComponentStatus, ComponentStatus.OPERATIONAL)
        return fields

    component_fields.fields = [
        "group", "name", "description", "position", "showcase", "only_show_if_degraded",
        "start_date", "created_at",
    ]  # fmt: skip

    def metric_fields(self, item, position, new):
        return {**metric_fields(item, position), "source": "api"}

    metric_fields.fields = [
        "name", "suffix", "tooltip_description", "decimal_places", "y_axis_min", "y_axis_max",
        "y_axis_hidden", "display", "position", "created_at",
    ]  # fmt: skip

    def import_metrics(self):
        items = self.document.items("metrics")
        metrics = self.upsert("metric", "metrics", Metric, items, self.metric_fields)
        latest = dict(
            MetricPoint.objects.filter(metric__in=[m.pk for m in metrics.values()])
            .order_by()
            .values("metric_id")
            .annotate(last=Max("at"))
            .values_list("metric_id", "last")
        )
        points = []
        for item in items:
            metric = metrics[item.text("id")]
            last = latest.get(metric.pk)
            for n, row in enumerate(item.rows("points")):
                path = f"{item.at('points')}[{n}]"
                if len(row) != 2:
                    raise RestoreError(f"{path}: expected [at, value].")
                at = parse_moment(row[0], path)
                if last is None or at > last:  # only points newer than the last import's
                    points.append(
                        MetricPoint(metric=metric, at=at, value=checked_number(row[1], path))
                    )
        MetricPoint.objects.bulk_create(points, batch_size=2000)

    # Incidents and maintenance, with their updates and impacts

    def import_incidents(self, first):
        items = self.document.items("incidents")[first : first + INCIDENT_BATCH]
        find_component = self.finder("component")
        known = ExternalRef.objects.known(self.page, "incident")
        written = ExternalRef.objects.written(self.page, "incident")
        existing = Incident.objects.in_bulk([pk for pk, _ in known.values()])
        codes = self.new_codes(Incident, items, known, existing)
        now = timezone.now()
        work, new, changed, refs = [], [], [], []
        for item in items:
            ref = item.text("id")
            wanted = digest(item.data)
            object_id, seen = known.get(ref, (None, None))
            incident = existing.get(object_id)
            fields = incident_fields(item)
            counted = "maintenances" if fields["kind"] == Kind.MAINTENANCE else "incidents"
            has_postmortem = bool(fields["postmortem_body"])
            if incident is not None and seen == wanted:
                self.count(counted, "unchanged")
                self.count("incident_updates", "unchanged", len(item.items("updates")))
                if has_postmortem:
                    self.count("postmortems", "unchanged")
                continue
            if incident is not None and changed_here(incident, written):
                # Updated, resolved or edited here since: what staff did here stands (its
                # status, and the maintenance's schedule, are no longer Statuspage's).
                self.count(counted, "unchanged")
                self.kept_here(counted)
                continue
            if incident is None:
                incident = Incident(page=self.page, code=codes[ref], **fields)
                new.append(incident)
                outcome = "created"
            else:
                before = incident.postmortem_body
                for name, value in fields.items():
                    setattr(incident, name, value)
                changed.append(incident)
                outcome = "updated"
                if has_postmortem and before == fields["postmortem_body"]:
                    has_postmortem = False
                    self.count("postmortems", "unchanged")
            incident.page = self.page
            checked(incident, item.path, exclude=CHECK_EXCLUDE)
            quiet_if_overdue(incident, now)
            self.count(counted, outcome)
            if has_postmortem:
                self.count("postmortems", outcome)
            work.append((incident, item))
            refs.append((ref, incident, wanted))
        create_keeping_dates(Incident, new)
        for incident in changed:
            Incident.objects.filter(pk=incident.pk).update(
                **written_fields(incident, INCIDENT_FIELDS)
            )
        # An incident's components are those the source names now.
        Incident.components.through.objects.filter(incident__in=[i.pk for i in changed]).delete()
        Incident.components.through.objects.bulk_create(
            [
                Incident.components.through(
                    incident=incident, component_id=find_component(ref, item.at("components"))
                )
                for incident, item in work
                for ref in item.refs("components")
            ],
            ignore_conflicts=True,
        )
        self.import_updates(work, find_component)
        self.remember("incident", [(ref, obj.pk, d) for ref, obj, d in refs], model=Incident)

    def import_updates(self, work, find_component):
        known = ExternalRef.objects.known(self.page, "incident_update")
        existing = IncidentUpdate.objects.in_bulk([pk for pk, _ in known.values()])
        updates = []  # (update, item, digest, new)
        for incident, item in work:
            update_items = item.items("updates")
            if not update_items:
                raise RestoreError(f"{item.path}.updates: an incident has at least one update.")
            for update_item in update_items:
                ref = update_item.text("id")
                wanted = digest(update_item.data)
                object_id, seen = known.get(ref, (None, None))
                update = existing.get(object_id)
                if update is not None and update.incident_id != incident.pk:
                    update = None  # another incident's here: this one gets its own
                if update is not None and seen == wanted:
                    self.count("incident_updates", "unchanged")
                    continue
                fields = update_fields(update_item)
                if update is None:
                    update = IncidentUpdate(incident=incident, **fields)
                else:
                    for name, value in fields.items():
                        setattr(update, name, value)
                updates.append((update, update_item, wanted, update.pk is None))
        codes = Restore(self.page, self.document).codes_for(
            IncidentUpdate, [item.text("id") for update, item, _, new in updates if new]
        )
        for update, item, _, new in updates:
            if new:
                update.code = codes[item.text("id")]
            self.count("incident_updates", "created" if new else "updated")
        create_keeping_dates(IncidentUpdate, [u for u, _, _, new in updates if new])
        for update, _, _, new in updates:
            if not new:
                IncidentUpdate.objects.filter(pk=update.pk).update(
                    **written_fields(update, UPDATE_FIELDS)
                )
        # An update's impacts are as the source says now.
        ComponentImpact.objects.filter(
            update__in=[u.pk for u, _, _, new in updates if not new]
        ).delete()
        ComponentImpact.objects.bulk_create(
            [
                impact
                for update, item, _, _ in updates
                for impact in impacts_of(
                    update, item, lambda ref, path: Component(pk=find_component(ref, path))
                )
            ],
            batch_size=1000,
        )
        self.remember(
            "incident_update",
            [(item.text("id"), u.pk, d) for u, item, d, _ in updates],
            model=IncidentUpdate,
        )

    # Each component's history

    def import_history(self):
        """Each component's history as the source's incidents tell it, unless it changed here
        since the last import (then it is kept, with a warning)."""
        refs = self.ids("component")
        if not self.trial:
            # A status set here meanwhile waits for this step, or this step sees it.
            Component.objects.select_for_update(no_key=True).filter(pk__in=refs.values()).count()
        components = Component.objects.select_related("page").in_bulk(refs.values())
        incidents = self.ids("incident")
        known = ExternalRef.objects.known(self.page, "history")
        open_periods = dict(
            ComponentStatusChange.objects.filter(
                component__in=components, ended_at__isnull=True
            ).values_list("component_id", "pk")
        )

        def find_incident(ref, path):
            if ref not in incidents:
                raise RestoreError(f"{path}: no incident with the id {ref!r}.")
            return Incident(pk=incidents[ref])

        replaced, rows, kept = [], [], 0
        for item in self.document.items("components"):
            ref = item.text("id")
            component = components.get(refs.get(ref))
            if component is None:
                continue
            wanted = digest([item.data.get("history"), item.data.get("status")])
            last_written, seen = known.get(ref, (None, None))
            now_open = open_periods.get(component.pk)
            if seen == wanted and now_open == last_written:
                continue
            if now_open is not None and now_open != last_written:
                kept += 1  # changed here (or made here before any import wrote its history)
                continue
            component.status = item.choice("status", ComponentStatus, component.status)
            made = history_rows(component, item, find_incident)
            replaced.append(component)
            rows.append((ref, made, wanted))
        ComponentStatusChange.objects.filter(component__in=[c.pk for c in replaced]).delete()
        ComponentStatusChange.objects.bulk_create(
            [row for _, made, _ in rows for row in made], batch_size=2000
        )
        for component in replaced:
            Component.objects.filter(pk=component.pk).update(status=component.status)
        self.remember("history", [(ref, made[-1].pk, d) for ref, made, d in rows])
        if kept:
            self.warn(
                f"{kept} component(s) changed status here since the last import: their history "
                "here is kept, not replaced by Statuspage's."
            )

    # Templates

    def import_templates(self):
        find = self.finder("component")

        def find_component(ref, path):
            return Component.objects.get(pk=find(ref, path))

        known = ExternalRef.objects.known(self.page, "incident_template")
        existing = IncidentTemplate.objects.in_bulk([pk for pk, _ in known.values()])
        items = self.document.items("incident_templates")
        codes = self.new_codes(IncidentTemplate, items, known, existing)
        refs = []
        for item in items:
            ref = item.text("id")
            wanted = digest(item.data)
            object_id, seen = known.get(ref, (None, None))
            template = existing.get(object_id)
            if template is not None and seen == wanted:
                self.count("incident_templates", "unchanged")
                continue
            fields = template_fields(item)
            if template is None:
                template = IncidentTemplate(page=self.page, code=codes[ref], **fields)
                self.count("incident_templates", "created")
            else:
                for name, value in fields.items():
                    setattr(template, name, value)
                self.count("incident_templates", "updated")
            statuses = template_statuses(item, find_component)
            checked(template, item.path, exclude=CHECK_EXCLUDE)
            template.save()
            template.set_statuses(statuses)
            refs.append((ref, template.pk, wanted))
        self.remember("incident_template", refs)

    # Subscribers

    def import_subscribers(self, first):
        """Subscribers keep their consent within the sending policy (notifications/
        portability.subscriber_from); one already subscribed here is kept as it is; nothing is
        sent to anyone."""
        items = self.document.items("subscribers")[first : first + SUBSCRIBER_BATCH]
        page = self.page
        components, groups = self.ids("component"), self.ids("group")
        known = ExternalRef.objects.known(page, "subscriber")
        existing = Subscriber.objects.in_bulk([pk for pk, _ in known.values()])
        here = {}
        for row in Subscriber.objects.filter(page=page).only(
            "pk", "channel", "email", "endpoint", "phone_number"
        ):
            here[address_of(row)] = row.pk

        def scope_of(item):
            try:
                return (
                    [Component(pk=components[c]) for c in item.refs("components")],
                    [ComponentGroup(pk=groups[g]) for g in item.refs("groups")],
                )
            except KeyError as error:
                raise RestoreError(f"{item.path}: names {error}, not on the page.") from None

        new, rescoped, refs = [], [], []
        left_out, tally = {}, dict.fromkeys(SUBSCRIBER_NOTES, 0)
        for item in items:
            ref = item.text("id")
            wanted = digest(item.data)
            object_id, seen = known.get(ref, (None, None))
            subscriber = existing.get(object_id)
            if seen == MATCHED or (subscriber is not None and seen == wanted):
                # Unchanged upstream; or subscribed here before an import found them, and
                # so theirs to change, not Statuspage's.
                self.count("subscribers", "unchanged")
                continue
            if object_id is not None and subscriber is None:
                # Removed here since the last import (by staff, or as the person asked): not
                # brought back.
                tally["removed"] += 1
                self.count("subscribers", "unchanged")
                continue
            if item.text("state", "") == SubscriberState.UNSUBSCRIBED:
                if subscriber is None:
                    tally["not_brought"] += 1
                    continue
                if subscriber.state != SubscriberState.UNSUBSCRIBED:
                    # Unsubscribed on Statuspage since the last import: here too, silently.
                    Subscriber.objects.filter(pk=subscriber.pk).update(
                        state=SubscriberState.UNSUBSCRIBED,
                        unsubscribed_at=item.moment("unsubscribed_at", None) or timezone.now(),
                    )
                    tally["unsubscribed"] += 1
                    self.count("subscribers", "updated")
                else:
                    self.count("subscribers", "unchanged")
                refs.append((ref, subscriber.pk, wanted))
                continue
            try:
                made, pending = subscriber_from(item, page)
            except ValidationError as error:
                reason = " ".join(error.messages)
                left_out[reason] = left_out.get(reason, 0) + 1
                continue
            if subscriber is not None:
                # Known from an earlier import: its scope and events follow the source; its
                # state moves only from pending to confirmed (never back to subscribed after
                # an unsubscribe here).
                subscriber.components_set, subscriber.groups_set = scope_of(item)
                for name in EVENT_FIELDS:
                    setattr(subscriber, name, getattr(made, name))
                if (
                    subscriber.state == SubscriberState.PENDING
                    and made.state == SubscriberState.CONFIRMED
                ):
                    subscriber.state, subscriber.confirmed_at = made.state, made.confirmed_at
                subscriber.save(update_fields=["state", "confirmed_at", *EVENT_FIELDS])
                rescoped.append((subscriber, (subscriber.components_set, subscriber.groups_set)))
                self.count("subscribers", "updated")
                refs.append((ref, subscriber.pk, wanted))
                continue
            address = address_of(made)
            if not address[1]:
                raise RestoreError(f"{item.path}: a {made.channel} subscriber needs its address.")
            if address in here:
                tally["matched"] += 1  # subscribed here already: left as it is, for good
                self.count("subscribers", "unchanged")
                if here[address] is not None:
                    refs.append((ref, here[address], MATCHED))
                continue
            made.token = new_token()
            made.secret = new_webhook_secret()
            tally["pending"] += pending
            checked(made, item.path, exclude=[*CHECK_EXCLUDE, "groups", "code"])
            here[address] = None
            new.append((made, scope_of(item), ref, wanted))
            self.count("subscribers", "created")
        codes = Restore(page, self.document).codes_for(Subscriber, [r for _, _, r, _ in new])
        for subscriber, _, ref, _ in new:
            subscriber.code = codes[ref]
        Subscriber.objects.bulk_create([s for s, _, _, _ in new], batch_size=1000)
        for subscriber, _ in rescoped:
            subscriber.components.clear()
            subscriber.groups.clear()
        create_scopes([*rescoped, *((s, scope) for s, scope, _, _ in new)])
        self.remember("subscriber", [*refs, *((ref, s.pk, d) for s, _, ref, d in new)])
        for reason, n in left_out.items():
            self.warn_count("left_out:" + reason, n, f"subscriber(s) left out: {reason}")
        for key, text in SUBSCRIBER_NOTES.items():
            self.warn_count(key, tally[key], text)

    def warn_count(self, key, n, text):
        """A warning counting things across batches: "<n> <text>"."""
        if not n:
            return
        tallies = self.tallies
        tallies[key] = tallies.get(key, 0) + n
        self.warnings = [w for w in self.warnings if not w.endswith(" " + text)]
        self.warnings.append(f"{tallies[key]} {text}")

    # The end

    def finish(self):
        page = self.page
        page.bump_version()
        by = self.run.applied_by or self.run.created_by
        record_audit(page, "page.import", page, by=by, after={
            kind: counts for kind, counts in self.counts.items() if any(counts.values())
        })  # fmt: skip
        transaction.on_commit(
            lambda: signals.page_changed.send(sender=Page, page_id=page.pk, hosts_changed=True)
        )


def changed_here(obj, written):
    """Whether `obj` changed here since the import last wrote it (its updated_at moved)."""
    return obj.pk in written and written[obj.pk] is not None and obj.updated_at != written[obj.pk]


def written_fields(obj, fields):
    """{field: value} of `obj` for an UPDATE of `fields` and its updated_at, which the source
    says (an unknown one: now)."""
    values = {name: getattr(obj, name) for name in fields}
    values["updated_at"] = getattr(obj, "updated_at", None) or timezone.now()
    return values


def stopped(step):
    """What a message says of the step it stopped at."""
    return f"Stopped at “{STEP_LABELS[step.partition(':')[0]]}”"


def page_report(page):
    if page is None:
        return None
    return {"name": page.name, "slug": page.slug, "code": page.code, "url": page.public_url()}


# A subscriber found here by address: theirs, not Statuspage's (its ExternalRef's digest).
MATCHED = "matched"
SUBSCRIBER_NOTES = {
    "pending": "confirmed subscriber(s) wait for their own confirmation: this organisation is "
    "not yet trusted by the platform to add confirmed subscribers (nothing asks them; they "
    "confirm by subscribing again on the page).",
    "matched": "subscriber(s) were subscribed here already: kept as they are.",
    "removed": "subscriber(s) removed here since an earlier import: not brought back.",
    "unsubscribed": "subscriber(s) who unsubscribed on Statuspage since the last import are "
    "unsubscribed here too (nothing is sent to them).",
    "not_brought": "subscriber(s) unsubscribed on Statuspage: not brought over.",
}
STEP_LABELS = {
    "structure": "Importing the page, its components and metrics",
    "incidents": "Importing incidents and maintenance",
    "history": "Rebuilding the components' history",
    "templates": "Importing incident templates",
    "subscribers": "Importing subscribers",
    "finish": "Finishing",
}
INCIDENT_FIELDS = [
    "kind", "name", "status", "impact", "impact_override", "worst_component_status",
    "started_at", "identified_at", "monitoring_at", "resolved_at", "backfilled", "scheduled_for",
    "scheduled_until", "auto_start", "auto_complete", "notify_on_start", "notify_on_complete",
    "remind_before_minutes", "reminder_sent_at", "reminder_due_at", "postmortem_body",
    "postmortem_draft", "postmortem_published_at", "postmortem_rendered", "created_at",
    "updated_at",
]  # fmt: skip
UPDATE_FIELDS = [
    "status", "body", "body_rendered", "display_at", "deliver_notifications", "created_at",
    "updated_at",
]  # fmt: skip
