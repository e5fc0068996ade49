import logging
import os

from celery import Celery, signals
from django.conf import settings

from config.logging import PLAIN_FORMAT, RequestIdFilter, json_formatter
from status.observability import current_request_id, request_id, sane_request_id

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("heliograph")
# Every CELERY_* setting in config/settings.py configures the app.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id travels with the tasks a request causes: in a header of each message sent
# while the request is answered, and from there into the log lines of the worker running it.
REQUEST_ID_HEADER = "request_id"


@signals.before_task_publish.connect
def add_request_id(headers=None, **kwargs):
    current = current_request_id()
    if current and headers is not None and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = current


@signals.task_prerun.connect
def enter_request_context(task=None, **kwargs):
    if task is None:
        return
    # A task run in-process (the embedded default) keeps the id of the request running it.
    given = getattr(task.request, REQUEST_ID_HEADER, None)
    task.request.request_id_token = request_id.set(
        sane_request_id(given) if given else current_request_id()
    )


@signals.task_postrun.connect
def leave_request_context(task=None, **kwargs):
    token = getattr(task.request, "request_id_token", None) if task else None
    if token is not None:
        request_id.reset(token)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def format_worker_logs(logger=None, **kwargs):
    """Celery sets up the worker's logging itself (its -l level): give its handlers our request
    id and, with LOG_FORMAT=json, our JSON lines."""
    for handler in logger.handlers:
        handler.addFilter(RequestIdFilter())
        if settings.LOG_FORMAT == "json":
            handler.setFormatter(json_formatter())
        else:
            handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
