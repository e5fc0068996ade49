"""Console forms for incidents, maintenance and incident templates.

They validate input and turn it into the arguments of the model methods (`Incident.declare`,
`Incident.post_update`, `Incident.schedule`); the views call those methods.
"""

from datetime import datetime

from django import forms
from django.db.models import Q
from django.utils import timezone

from incidents.markdown import MARKDOWN_MAX_LENGTH
from incidents.models import (
    IMPACT_OF_STATUS,
    INCIDENT_STATUSES,
    Impact,
    IncidentStatus,
    IncidentTemplate,
)
from status.models import ComponentStatus, validate_moment

NOT_AFFECTED = ""
RESOLVED_BODY = "This incident has been resolved."
CANCELLED_BODY = "This scheduled maintenance has been cancelled."

# "Automatic" means the incident's impact follows the worst status of its components.
IMPACT_CHOICES = [("", "Automatic (from the components)")] + [
    (i.value, i.label) for i in Impact if i != Impact.MAINTENANCE
]
# The words of the public page, so staff know what "Automatic" will read there.
IMPACT_HELP = (
    "Automatic follows the worst component status: "
    + ", ".join(
        f"{ComponentStatus(status).label.lower()} is {Impact(impact).label}"
        for status, impact in IMPACT_OF_STATUS.items()
        if impact not in (Impact.NONE, Impact.MAINTENANCE)
    )
    + ". Leave it unless the components do not tell the whole story."
)
MAINTENANCE_UPDATE_STATUSES = [
    IncidentStatus.IN_PROGRESS,
    IncidentStatus.VERIFYING,
    IncidentStatus.COMPLETED,
]


def choices(statuses):
    return [(s.value, s.label) for s in statuses]


class PageDateTimeField(forms.DateTimeField):
    """A datetime-local input read and shown in the page's time zone (set `tz`)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    default_validators = [validate_moment]

    def __init__(self, *args, **kwargs):
        self.tz = kwargs.pop("tz", None)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        # A naive input is in the page's zone; Django reports times that do not exist there.
        with timezone.override(self.tz):
            return super().to_python(value)

    def prepare_value(self, value):
        if isinstance(value, datetime) and self.tz is not None:
            return timezone.make_naive(value, self.tz)
        return super().prepare_value(value)


class MarkdownField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 6})

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", True)
        kwargs.setdefault("max_length", MARKDOWN_MAX_LENGTH)
        kwargs.setdefault("help_text", "Markdown: **bold**, _italic_, lists, [links](https://…).")
        super().__init__(*args, **kwargs)


class PageForm(forms.Form):
    """A form of one page's console: knows the page, its components and its time zone."""

    def __init__(self, *args, page, **kwargs):
        self.page = page
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, PageDateTimeField):
                field.tz = page.tz
                field.help_text = field.help_text or f"In the page's time zone, {page.time_zone}."


class ComponentStatusesMixin:
    """One select per component of the page, named `component-<code>`.

    `affected_only`: the first choice is "Not affected" and only chosen components count;
    otherwise each select starts at the component's current status and only the ones the user
    changed count (compared with the value the form was shown with, not the status now: a
    change someone else made meanwhile is not undone).
    """

    affected_only = True

    def add_component_fields(self, components, initial=None):
        self.components = list(components)
        initial = initial or {}
        for component in self.components:
            if self.affected_only:
                field = forms.ChoiceField(
                    choices=[(NOT_AFFECTED, "Not affected"), *ComponentStatus.choices],
                    required=False,
                    initial=initial.get(component, NOT_AFFECTED),
                )
            else:
                field = forms.ChoiceField(
                    choices=ComponentStatus.choices,
                    initial=component.status,
                    show_hidden_initial=True,
                )
            field.label = component.name
            self.fields[self.component_field(component)] = field
        if self.affected_only:
            # "Whole group": the status for each of the group's components left "Not affected"
            # (static/js/group-toggle.js sets their selects too, so staff see what it does).
            for group in self.groups():
                self.fields[self.group_field(group)] = forms.ChoiceField(
                    choices=[(NOT_AFFECTED, "Each as chosen below"), *ComponentStatus.choices],
                    required=False,
                    label=f"Whole group: {group.name}",
                )

    def groups(self):
        """The groups of the form's components, in page order."""
        return list({c.group_id: c.group for c in self.components if c.group_id}.values())

    @staticmethod
    def group_field(group):
        return f"group-{group.code}"

    def component_sections(self):
        """[(group or None, group's bound field or None, [(component, bound field)])] in page
        order: the rows under their group's heading."""
        sections = []
        for component, field in self.component_rows():
            if not sections or sections[-1][0] != component.group:
                group = component.group
                whole = self[self.group_field(group)] if group and self.affected_only else None
                sections.append((group, whole, []))
            sections[-1][2].append((component, field))
        return sections

    @staticmethod
    def component_field(component):
        return f"component-{component.code}"

    def component_rows(self):
        """(component, bound field) for each component, in page order."""
        return [(c, self[self.component_field(c)]) for c in self.components]

    def component_statuses(self):
        """{component: status} the form asks for."""
        chosen = {}
        for component in self.components:
            name = self.component_field(component)
            value = self.cleaned_data.get(name)
            if self.affected_only:
                if not value and component.group_id:
                    value = self.cleaned_data.get(self.group_field(component.group))
                if value:
                    chosen[component] = value
            elif name in self.changed_data:
                chosen[component] = value
        return chosen


class DeclareIncidentForm(ComponentStatusesMixin, PageForm):
    name = forms.CharField(max_length=200, label="Incident name")
    status = forms.ChoiceField(
        choices=choices(s for s in INCIDENT_STATUSES if s != IncidentStatus.RESOLVED),
        initial=IncidentStatus.INVESTIGATING,
    )
    impact_override = forms.ChoiceField(
        choices=IMPACT_CHOICES,
        required=False,
        label="Impact",
        help_text=IMPACT_HELP,
    )
    body = MarkdownField(label="Message", help_text="The first update subscribers read.")
    notify = forms.BooleanField(required=False, initial=True, label="Notify subscribers")

    def __init__(self, *args, components, component_initial=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_component_fields(components, component_initial)


class BackfillIncidentForm(ComponentStatusesMixin, PageForm):
    name = forms.CharField(max_length=200, label="Incident name")
    impact_override = DeclareIncidentForm.base_fields["impact_override"]
    started_at = PageDateTimeField(label="Started at")
    resolved_at = PageDateTimeField(label="Resolved at")
    body = MarkdownField(label="What happened")

    def __init__(self, *args, components, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_component_fields(components)

    def clean(self):
        cleaned = super().clean()
        started, resolved = cleaned.get("started_at"), cleaned.get("resolved_at")
        now = timezone.now()
        if started and started > now:
            self.add_error("started_at", "A backfilled incident must have started in the past.")
        if resolved and resolved > now:
            self.add_error("resolved_at", "A backfilled incident must be resolved in the past.")
        if started and resolved and resolved < started:
            self.add_error("resolved_at", "The incident cannot be resolved before it started.")
        return cleaned


class PostUpdateForm(ComponentStatusesMixin, PageForm):
    affected_only = False

    status = forms.ChoiceField(choices=choices(INCIDENT_STATUSES))
    body = MarkdownField(label="Message")
    notify = forms.BooleanField(required=False, initial=True, label="Notify subscribers")

    def __init__(self, *args, incident, components, **kwargs):
        # A postmortem is not a status to post; after one, "resolved" adds a note.
        status = incident.status if incident.status in INCIDENT_STATUSES else "resolved"
        kwargs.setdefault("initial", {}).setdefault("status", status)
        if incident.is_closed:
            # A note on a closed incident should not mail everyone again unless asked to.
            kwargs["initial"].setdefault("notify", False)
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.add_component_fields(components)

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("status")
            and cleaned["status"] != IncidentStatus.RESOLVED
            and not cleaned.get("body")
        ):
            self.add_error("body", "Write what changed; only a resolution may go without text.")
        return cleaned


class ResolveForm(forms.Form):
    body = MarkdownField(label="Message")
    notify = forms.BooleanField(required=False, label="Notify subscribers")


class EditUpdateForm(PageForm):
    body = MarkdownField(label="Message")
    display_at = PageDateTimeField(label="Shown as posted at")

    def clean_display_at(self):
        value = self.cleaned_data["display_at"]
        if value > timezone.now():
            raise forms.ValidationError("An update cannot be dated in the future.")
        return value


class PostmortemForm(forms.Form):
    body = MarkdownField(
        label="Postmortem",
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text="Markdown. What happened, the impact, the cause and what you will change.",
    )
    notify = forms.BooleanField(required=False, initial=True, label="Notify subscribers")


class MaintenanceForm(PageForm):
    """Schedule maintenance, or edit its name, window, components and automation."""

    name = forms.CharField(max_length=200)
    scheduled_for = PageDateTimeField(label="Starts")
    scheduled_until = PageDateTimeField(label="Ends")
    components = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="They are shown under maintenance while it is in progress.",
    )
    # A group's box means all of its components (static/js/group-toggle.js ticks them too).
    groups = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"data-group-all": ""}),
    )
    auto_start = forms.BooleanField(
        required=False, initial=True, label="Start automatically at the start of the window"
    )
    auto_complete = forms.BooleanField(
        required=False, initial=True, label="Complete automatically at the end of the window"
    )
    remind_before_minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10080,
        label="Remind subscribers (minutes before)",
        help_text="Leave blank for no reminder.",
    )
    body = MarkdownField(label="Message")
    notify = forms.BooleanField(required=False, initial=True, label="Notify subscribers")

    def __init__(self, *args, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.fields["components"].queryset = self.page.components.select_related("group").order_by(
            "group__position", "group__id", "position", "id"
        )
        self.fields["groups"].queryset = self.page.groups.all()
        if incident is not None:
            # Editing: the message and notification belong to updates, not to the window.
            del self.fields["body"], self.fields["notify"]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("scheduled_for"), cleaned.get("scheduled_until")
        moved = self.incident is None or (start and start != self.incident.scheduled_for)
        if start and moved and start <= timezone.now():
            self.add_error("scheduled_for", "The maintenance must start in the future.")
        if start and end and end <= start:
            self.add_error("scheduled_until", "The maintenance must end after it starts.")
        if cleaned.get("groups") and "components" in cleaned:
            cleaned["components"] = self.page.components.filter(
                Q(pk__in=cleaned["components"]) | Q(group__in=cleaned["groups"])
            )
        return cleaned

    def component_sections(self):
        """[(group or None, its "whole group" checkbox or None, [(component, checkbox)])] in
        page order, for groups with components."""
        boxes = dict(zip(self.fields["components"].queryset, self["components"], strict=True))
        group_boxes = dict(zip(self.fields["groups"].queryset, self["groups"], strict=True))
        sections = []
        for component, box in boxes.items():
            if not sections or sections[-1][0] != component.group:
                group = component.group
                sections.append((group, group_boxes.get(group), []))
            sections[-1][2].append((component, box))
        return sections


class MaintenanceUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=choices(MAINTENANCE_UPDATE_STATUSES))
    body = MarkdownField(label="Message")
    notify = forms.BooleanField(required=False, initial=True, label="Notify subscribers")


class CancelMaintenanceForm(forms.Form):
    notify = forms.BooleanField(required=False, label="Notify subscribers")


class IncidentTemplateForm(ComponentStatusesMixin, forms.ModelForm):
    """A template's name, incident and first update, and each component's status (or "Not
    affected"), like the declare form it prefills."""

    body = MarkdownField(label="Message", help_text=IncidentTemplate.body.field.help_text)

    class Meta:
        model = IncidentTemplate
        fields = ["name", "title", "body", "status"]
        labels = {"title": "Incident name"}

    def __init__(self, *args, page, **kwargs):
        super().__init__(*args, **kwargs)
        self.page = page
        initial = self.instance.statuses() if self.instance.pk else {}
        self.add_component_fields(page.components_by_group(), initial)

    def save(self):
        template = super().save()
        template.set_statuses(self.component_statuses())
        return template
