"""What the incidents domain announces. Receivers (in notifications) run inside the writer's
transaction, so the notification event commits with the change or not at all.

- `incident_updated(incident, update, first)`: an update that asks to notify was posted;
  `first` for the update that opened the incident or scheduled the maintenance.
- `postmortem_published(incident)`: a postmortem was published with notification.
- `maintenance_reminder_due(incident)`: a scheduled maintenance's reminder is due.
"""

from django.dispatch import Signal

incident_updated = Signal()
postmortem_published = Signal()
maintenance_reminder_due = Signal()
