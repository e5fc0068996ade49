"""Logging: JSON lines for production, plain text for the embedded default.

LOG_FORMAT=json (the default with DEBUG off) writes one JSON object a line through
python-json-logger: time, level, logger, message, the request id of the request or task it
was written for, and the fields a caller passed as `extra` (status/requestlog.py passes the
method, path, status, duration, host, page and user of every request). LOG_FORMAT=plain (the
default with DEBUG on, as in `make run`) writes readable lines, still with the request id.
"""

import logging

from pythonjsonlogger.json import JsonFormatter

from status.observability import current_request_id

JSON_FIELDS = ["levelname", "name", "message", "request_id"]
RENAMED_FIELDS = {"levelname": "level", "name": "logger"}
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def json_formatter():
    # "time": ISO 8601 in UTC, with microseconds.
    return JsonFormatter(JSON_FIELDS, rename_fields=RENAMED_FIELDS, timestamp="time")


class RequestIdFilter(logging.Filter):
    """Gives every record the request id of the request or task being handled ("-" if none)."""

    def filter(self, record):
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or "-"
        return True


def logging_settings(*, json_format, level):
    formatter = "json" if json_format else "plain"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
        "formatters": {
            "plain": {"format": PLAIN_FORMAT},
            "json": {"()": "config.logging.json_formatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # One handler for everything: Django's own console handler would print twice.
            "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "django.db.backends": {"level": "WARNING"},
            # Our request lines replace runserver's.
            "django.server": {"level": "WARNING"},
        },
    }
