"""The public subscribe and manage forms (the console's own forms are in forms.py)."""

from django import forms
from django.core.exceptions import ValidationError

from notifications.chat import URL_INSTRUCTIONS, validate_chat_url
from notifications.models import (
    CHAT_CHANNELS,
    HTTP_CHANNELS,
    Channel,
    EventChoice,
    allowed_channels,
    channel_not_offered,
)
from notifications.sms import normalise_phone_number
from notifications.webhooks import validate_webhook_url


def check_address(form, data, *, missing_email):
    """The address of a subscription form (public or staff): an email for email and webhook
    subscribers (for a webhook, its contact; optional for a chat, whose confirmation goes to
    the channel), for a webhook or a chat an endpoint we may send to, and for SMS a mobile
    number (normalised to E.164)."""
    channel = data.get("channel")
    if channel == Channel.SMS:
        data["email"] = data["endpoint"] = ""
        form.errors.pop("email", None)
        form.errors.pop("endpoint", None)
        try:
            data["phone_number"] = normalise_phone_number(data.get("phone_number"))
        except ValidationError as error:
            form.add_error("phone_number", error)
        return
    data["phone_number"] = ""
    if (
        channel
        and channel not in CHAT_CHANNELS
        and not data.get("email")
        and "email" not in form.errors
    ):
        form.add_error("email", missing_email)
    if channel in HTTP_CHANNELS:
        endpoint = data.get("endpoint")
        if not endpoint and "endpoint" not in form.errors:
            form.add_error("endpoint", "Enter the URL to send notifications to.")
        elif endpoint:
            try:
                if channel == Channel.WEBHOOK:
                    validate_webhook_url(endpoint)
                else:
                    validate_chat_url(channel, endpoint)
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


class EventsField(forms.MultipleChoiceField):
    """Which events a subscriber hears about. A form that shows the checkboxes also posts
    `events_shown`: none ticked there is an error; a post without them (an older form, a
    script) means every event."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(
            label="Tell me about",
            choices=EventChoice.choices,
            initial=list(EventChoice.values),
            required=False,
            **kwargs,
        )


def clean_events(form):
    events = form.cleaned_data.get("events") or []
    if not events:
        if form.data.get("events_shown"):
            raise ValidationError("Choose at least one kind of event.")
        return list(EventChoice.values)
    return events


class ManageForm(ScopeForm):
    """What a subscriber changes on its manage page: its events, components and groups."""

    events = EventsField()

    def clean_events(self):
        return clean_events(self)


class ChannelField(forms.ChoiceField):
    """The channels a page offers; another is refused naming it as visitors know it."""

    def validate(self, value):
        try:
            super().validate(value)
        except forms.ValidationError as error:
            if error.code != "invalid_choice":
                raise
            raise forms.ValidationError(
                channel_not_offered(value, to_staff=False), code="invalid_choice"
            ) from None


class SubscribeForm(ScopeForm):
    channel = ChannelField(
        label="How", choices=Channel.choices, initial=Channel.EMAIL, widget=forms.RadioSelect
    )
    email = forms.EmailField(
        label="Email address",
        required=False,
        help_text="For a webhook: where we send the confirmation and failure notices. For a "
        "chat (optional): where we tell you if the channel stops taking our messages.",
    )
    endpoint = forms.URLField(
        label="Webhook URL",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="A webhook: we POST each notification here as JSON, signed (Standard "
        "Webhooks). A chat: the channel's incoming-webhook URL; we post a message there with "
        "the confirmation link.",
    )
    phone_number = forms.CharField(
        label="Mobile number",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        help_text="For SMS: with its country code, e.g. +593 99 123 4567. We text you a 6-digit "
        "code to confirm. Reply STOP to any message to unsubscribe.",
    )
    events = EventsField()

    def clean_events(self):
        return clean_events(self)

    def __init__(self, page, *args, **kwargs):
        super().__init__(page, *args, **kwargs)
        channels = [(channel, Channel(channel).label) for channel in allowed_channels(page)]
        self.fields["channel"].choices = channels
        self.fields["channel"].initial = channels[0][0] if channels else None

    def chat_instructions(self):
        """[(channel label, how to get its URL)] for the chat channels the page offers."""
        offered = {value for value, _label in self.fields["channel"].choices}
        return [
            (Channel(channel).label, URL_INSTRUCTIONS[channel])
            for channel in CHAT_CHANNELS
            if channel in offered
        ]

    def clean(self):
        data = super().clean()
        check_address(self, data, missing_email="Enter your email address.")
        return data

    @property
    def address(self):
        """The address the request is about, for the per-address rate limit."""
        data = self.cleaned_data
        if data.get("channel") in HTTP_CHANNELS:
            return data.get("endpoint", "")
        if data.get("channel") == Channel.SMS:
            return data.get("phone_number", "")
        return data.get("email", "").lower()


class SmsCodeForm(forms.Form):
    """The opt-in code an SMS subscriber was texted."""

    code = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}
        ),
        help_text="The 6 digits in the SMS we sent.",
        error_messages={"required": "Enter the 6-digit code from the SMS."},
    )
    phone_number = forms.CharField(
        label="Mobile number",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        help_text="The number the code was sent to, with its country code.",
    )

    field_order = ["phone_number", "code"]

    def __init__(self, *args, ask_number=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.ask_number = ask_number
        if not ask_number:
            del self.fields["phone_number"]

    def clean_phone_number(self):
        return normalise_phone_number(self.cleaned_data.get("phone_number"))
