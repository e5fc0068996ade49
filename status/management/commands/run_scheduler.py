import time

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand


def is_quiet(result):
    """A run that did nothing: a falsy result, or a dict of counts that are all zero."""
    if isinstance(result, dict):
        return not any(result.values())
    return not result


class Command(BaseCommand):
    help = (
        "Run Celery beat's schedule (settings.CELERY_BEAT_SCHEDULE: maintenance transitions and"
        " reminders, the delivery sweeper, …) in this process, each job at its own interval."
        " For setups without Celery beat, such as the embedded default; production runs"
        " celery beat."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and exit")

    def handle(self, *args, once, **options):
        # The tasks are named in the schedule, so this command knows no app's code and lives
        # in the lowest one.
        jobs = [(entry["task"], float(entry["schedule"]))
                for entry in settings.CELERY_BEAT_SCHEDULE.values()]  # fmt: skip
        due = {name: 0.0 for name, _ in jobs}
        while True:
            now = time.monotonic()
            for name, every in jobs:
                if due[name] > now:
                    continue
                due[name] = now + every
                result = current_app.tasks[name]()
                if not is_quiet(result):
                    self.stdout.write(f"{name.rsplit('.', 1)[-1]}: {result}")
            if once:
                return
            time.sleep(max(0.5, min(due.values()) - time.monotonic()))
