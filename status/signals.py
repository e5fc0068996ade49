"""What the status domain announces. Receivers run inside the writer's transaction, so what they
record commits with the change or not at all.

- `page_changed(page_id, hosts_changed)`: what a page shows changed (its version was bumped);
  `hosts_changed` when its slug or domain may have changed too. The page caches listen.
- `component_status_changed(component, old_status, new_status, notify)`: a component's status
  changed outside any incident (incidents announce their own updates). Notifications listen,
  and tell subscribers only when `notify` is set.
"""

from django.dispatch import Signal

page_changed = Signal()
component_status_changed = Signal()
