from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self):
        # Registers the tasks that beat and run_scheduler name. Imported here, not at the top:
        # they import the models, which the app registry must have loaded first.
        from incidents import tasks  # noqa: F401
