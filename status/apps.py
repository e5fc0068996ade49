from django.apps import AppConfig


class StatusConfig(AppConfig):
    name = "status"
    verbose_name = "Tenants, pages and components"

    def ready(self):
        # The page caches listen to status.signals.page_changed, and beat names the tasks.
        # Imported here, not at the top: they import the models, which the app registry must
        # have loaded first.
        from status import hosts, metrics, pagecache, tasks  # noqa: F401
