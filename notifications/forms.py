"""The console's subscriber forms (the public ones are in subscribe_forms.py)."""

from django import forms

from notifications.models import (
    HTTP_CHANNELS,
    SKIP_CONFIRMATION_REFUSED,
    Channel,
    SubscriberState,
    normalise_email,
)
from notifications.subscribe_forms import EventsField, ScopeForm, check_address, clean_events

DUPLICATE = "This address is already a subscriber of this page."


class SubscriberFilterForm(forms.Form):
    """The subscribers list's search and filters, read from the query string."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Email, endpoint or number"}
        ),
    )
    channel = forms.ChoiceField(required=False, choices=[("", "All channels"), *Channel.choices])
    state = forms.ChoiceField(
        required=False, choices=[("", "All states"), *SubscriberState.choices]
    )

    def filter(self, subscribers):
        """`subscribers` narrowed by the valid filters; an invalid one (shown as an error on
        the form) narrows nothing."""
        self.is_valid()
        data = self.cleaned_data
        if data.get("q", "").strip():
            subscribers = subscribers.search(data["q"].strip())
        if data.get("channel"):
            subscribers = subscribers.filter(channel=data["channel"])
        if data.get("state"):
            subscribers = subscribers.filter(state=data["state"])
        return subscribers

    def active(self):
        """The filters in use, for the audit log of an export."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}


class SubscriberCreateForm(ScopeForm):
    """Staff add a subscriber: an email address, or a webhook endpoint and its contact email,
    for chosen components and groups or (none chosen) the whole page."""

    channel = forms.ChoiceField(
        label="Channel", choices=Channel.choices, initial=Channel.EMAIL, widget=forms.RadioSelect
    )
    email = forms.EmailField(
        label="Email address",
        required=False,
        help_text="For a webhook or a chat: the contact told about failures (optional for a chat).",
    )
    endpoint = forms.URLField(
        label="Webhook or chat URL",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="A webhook: each notification is POSTed here as signed JSON (Standard "
        "Webhooks). Slack, Teams, Discord, Google Chat: the channel's incoming-webhook URL.",
    )
    phone_number = forms.CharField(
        label="Mobile number (SMS)",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel"}),
        help_text="With its country code, e.g. +593 99 123 4567. Without skipping confirmation "
        "it is texted a code, which its owner types on the page's subscribe page.",
    )
    events = EventsField()
    skip_confirmation = forms.BooleanField(
        label="Skip confirmation",
        required=False,
        help_text="Only when you know the address is theirs: it is subscribed at once. "
        "Otherwise a confirmation email is sent and nothing else until it is confirmed.",
    )

    field_order = [
        "channel",
        "email",
        "endpoint",
        "phone_number",
        "events",
        "groups",
        "components",
        "skip_confirmation",
    ]

    def clean_events(self):
        return clean_events(self)

    def __init__(self, page, *args, **kwargs):
        super().__init__(page, *args, **kwargs)
        # The channels the page's settings allow (create_subscriber refuses the others).
        self.fields["channel"].choices = [
            (channel, label)
            for channel, label in Channel.choices
            if page.allows_subscribers(channel)
        ]
        if not page.tenant.trusted:
            # The rule is the domain's (create_subscriber); the form shows it before a try.
            field = self.fields["skip_confirmation"]
            field.disabled = True
            field.help_text = SKIP_CONFIRMATION_REFUSED

    def clean(self):
        data = super().clean()
        check_address(self, data, missing_email="Enter an email address.")
        self.refuse_duplicate(data)
        return data

    def refuse_duplicate(self, data):
        channel = data.get("channel")
        if channel in HTTP_CHANNELS:
            field, lookup = "endpoint", {"endpoint": data.get("endpoint")}
        elif channel == Channel.SMS:
            field, lookup = "phone_number", {"phone_number": data.get("phone_number")}
        else:
            field, lookup = "email", {"email": normalise_email(data.get("email"))}
        if field in self.errors or not lookup[field] or not channel:
            return
        if self.page.subscribers.filter(channel=channel, **lookup).exists():
            self.add_error(field, DUPLICATE)
