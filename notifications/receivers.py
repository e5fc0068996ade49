"""What notifications hears from the domain below it: each announced change becomes a
NotificationEvent, recorded inside the writer's transaction (Django signals run in the sender's
thread), so the event commits with the change or not at all. Connected in AppConfig.ready()."""

from django.dispatch import receiver

from incidents import signals as incident_signals
from notifications.models import NotificationEvent
from status import signals as status_signals


@receiver(status_signals.component_status_changed)
def component_status_changed(sender, component, old_status, new_status, notify, **kwargs):
    if notify:
        NotificationEvent.record_component_status(component, old_status, new_status)


@receiver(incident_signals.incident_updated)
def incident_updated(sender, incident, update, first, **kwargs):
    NotificationEvent.record(incident, update, first=first)


@receiver(incident_signals.postmortem_published)
def postmortem_published(sender, incident, **kwargs):
    NotificationEvent.record_postmortem(incident)


@receiver(incident_signals.maintenance_reminder_due)
def maintenance_reminder_due(sender, incident, **kwargs):
    NotificationEvent.record_reminder(incident)
