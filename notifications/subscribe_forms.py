"""The public subscribe and manage forms (the console's own forms are in forms.py)."""

from django import forms
from django.core.exceptions import ValidationError

from notifications.models import Channel
from notifications.webhooks import validate_webhook_url


def check_address(form, data, *, missing_email):
    """The address of a subscription form (public or staff): an email always (for a webhook,
    its contact), and for a webhook an endpoint we may send to."""
    channel = data.get("channel")
    if channel and not data.get("email") and "email" not in form.errors:
        form.add_error("email", missing_email)
    if channel == Channel.WEBHOOK:
        endpoint = data.get("endpoint")
        if not endpoint and "endpoint" not in form.errors:
            form.add_error("endpoint", "Enter the URL to send notifications to.")
        elif endpoint:
            try:
                validate_webhook_url(endpoint)
            except ValidationError as error:
                form.add_error("endpoint", error)
    else:
        data["endpoint"] = ""
        form.errors.pop("endpoint", None)


class ScopeForm(forms.Form):
    """What a subscriber hears about: chosen groups and components, or (none) the whole page."""

    groups = forms.ModelMultipleChoiceField(
        queryset=None, to_field_name="code", required=False, widget=forms.CheckboxSelectMultiple
    )
    components = forms.ModelMultipleChoiceField(
        queryset=None, to_field_name="code", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, page, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.page = page
        self.fields["groups"].queryset = page.groups.all()
        self.fields["components"].queryset = page.components.all()

    def sections(self, chosen_groups=(), chosen_components=()):
        """[(group or None, group checked, [(component, checked)])] for the checkboxes, with
        what was posted (or, unbound, what is chosen now) checked."""
        if self.is_bound:
            chosen_groups = set(self.data.getlist("groups"))
            chosen_components = set(self.data.getlist("components"))
        else:
            chosen_groups = {group.code for group in chosen_groups}
            chosen_components = {component.code for component in chosen_components}
        groups = list(self.page.groups.all())
        components = list(self.page.components.all())
        sections = [
            (
                group,
                group.code in chosen_groups,
                [(c, c.code in chosen_components) for c in components if c.group_id == group.pk],
            )
            for group in groups
        ]
        ungrouped = [(c, c.code in chosen_components) for c in components if not c.group_id]
        if ungrouped:
            sections.append((None, False, ungrouped))
        return [section for section in sections if section[2] or section[0]]


class SubscribeForm(ScopeForm):
    channel = forms.ChoiceField(
        label="How",
        choices=Channel.choices,
        initial=Channel.EMAIL,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "This page does not offer %(value)s subscriptions."},
    )
    email = forms.EmailField(
        label="Email address",
        required=False,
        help_text="For a webhook: where we send the confirmation and failure notices.",
    )
    endpoint = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="We POST each notification here as JSON, signed (Standard Webhooks).",
    )

    def __init__(self, page, *args, **kwargs):
        super().__init__(page, *args, **kwargs)
        channels = []
        if page.allow_email_subscribers:
            channels.append((Channel.EMAIL, "Email"))
        if page.allow_webhook_subscribers:
            channels.append((Channel.WEBHOOK, "Webhook"))
        self.fields["channel"].choices = channels
        self.fields["channel"].initial = channels[0][0] if channels else None

    def clean(self):
        data = super().clean()
        check_address(self, data, missing_email="Enter your email address.")
        return data

    @property
    def address(self):
        """The address the request is about, for the per-address rate limit."""
        data = self.cleaned_data
        if data.get("channel") == Channel.WEBHOOK:
            return data.get("endpoint", "")
        return data.get("email", "").lower()
