"""What the status domain announces. Receivers run inside the writer's transaction, so what they
record commits with the change or not at all.

- `page_changed(page_id, hosts_changed)`: what a page shows changed (its version was bumped);
  `hosts_changed` when its slug or domain may have changed too. The page caches listen.
- `component_status_changed(component, old_status, new_status, notify)`: a component's status
  changed outside any incident (incidents announce their own updates). Notifications listen,
  and tell subscribers only when `notify` is set.
- `page_activity(page)`: a question, not news: is an incident open or a maintenance in progress
  at the page? Incidents answer (a receiver returning True); the console asks it to tick
  "Notify subscribers" by default on a quick status change while something is going on.
"""

from django.dispatch import Signal

page_changed = Signal()
component_status_changed = Signal()
page_activity = Signal()
