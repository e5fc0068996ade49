import time

from django.core.management.base import BaseCommand

from incidents.tasks import advance_maintenance
from notifications.tasks import sweep


class Command(BaseCommand):
    help = (
        "Run the periodic jobs in a loop: maintenance start/complete/reminders, and the delivery"
        " sweeper (retries, lost messages). For setups without Celery beat, such as the embedded"
        " default; production runs celery beat."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=30, help="seconds between runs")
        parser.add_argument("--once", action="store_true", help="run once and exit")

    def handle(self, *args, interval, once, **options):
        while True:
            result = advance_maintenance()
            if any(result.values()):
                self.stdout.write(f"maintenance: {result}")
            sweep()
            if once:
                return
            time.sleep(interval)
