from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        # Connects the receivers of the status and incidents signals, and registers the tasks
        # that the models enqueue by name (notifications/outbox.py). Imported here, not at the
        # top: they import the models, which the app registry must have loaded first.
        from notifications import metrics, receivers, tasks  # noqa: F401

        # The delivery gauges /metrics exports, read from the database when scraped.
        metrics.register()
