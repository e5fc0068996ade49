from django import forms

from notifications.models import Channel, SubscriberState


class SubscriberFilterForm(forms.Form):
    """The subscribers list's search and filters, read from the query string."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Email or endpoint"}),
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
