"""Notification metrics for Prometheus, computed from the database when /metrics is scraped.

The database is the truth about deliveries (the broker only carries hints), so these gauges
read it: every web node answers the same values, and an operator aggregates them with max(),
not sum(). The queries use the partial indexes the sweeper uses (unfinished deliveries, events
not fanned out); the events of the last minute are counted from their creation time.
Registered by NotificationsConfig.ready() through status.observability.
"""

import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from notifications.models import Channel, Delivery, DeliveryStatus, NotificationEvent
from status.observability import register_scrape_collector

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.5
# kombu's Redis transport keeps a queue's messages of priority p > 0 under "<queue>\x06\x16<p>".
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)


def gauge(name, documentation, labels=None):
    return GaugeMetricFamily(name, documentation, labels=labels)


def families():
    return {
        "pending": gauge(
            "heliograph_deliveries_pending",
            "Deliveries not yet sent: waiting or being sent, by channel.",
            ["channel"],
        ),
        "failed": gauge(
            "heliograph_deliveries_failed",
            "Deliveries whose last attempt failed, waiting for a retry, by channel.",
            ["channel"],
        ),
        "oldest": gauge(
            "heliograph_deliveries_oldest_pending_age_seconds",
            "Age of the oldest delivery not yet sent (waiting or being sent); 0 when none.",
        ),
        "awaiting": gauge(
            "heliograph_events_awaiting_fan_out",
            "Notification events not yet fanned out into deliveries.",
        ),
        "lag": gauge(
            "heliograph_fan_out_lag_seconds",
            "Age of the oldest notification event not yet fanned out; 0 when none.",
        ),
        "events": gauge(
            "heliograph_events_last_minute",
            "Notification events recorded in the last 60 seconds.",
        ),
        "database": gauge(
            "heliograph_metrics_database_up",
            "Whether the database answered the queries behind these metrics.",
        ),
        "queue": gauge(
            "heliograph_celery_queue_length",
            "Messages waiting in the Celery broker's queue (Redis list length).",
            ["queue"],
        ),
        "broker": gauge(
            "heliograph_broker_up",
            "Whether the Celery broker (Redis) answered; absent without a Redis broker.",
        ),
    }


class NotificationsCollector(Collector):
    def describe(self):
        # Registration asks for the names: describing reads nothing (no query at start-up).
        return list(families().values())

    def collect(self):
        metrics = families()
        try:
            self.collect_database(metrics)
            metrics["database"].add_metric([], 1)
        except DatabaseError as error:
            log.warning("metrics: the database did not answer: %s", error)
            metrics = {"database": metrics["database"], "queue": metrics["queue"],
                       "broker": metrics["broker"]}  # fmt: skip
            metrics["database"].add_metric([], 0)
        self.collect_broker(metrics)
        return [family for family in metrics.values() if family.samples]

    def collect_database(self, metrics):
        now = timezone.now()
        counts = dict.fromkeys(((status, channel) for status in ("pending", "failed")
                                for channel in Channel.values), 0)  # fmt: skip
        unfinished = (
            Delivery.objects.filter(
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.FAILED]
            )  # fmt: skip
            .order_by()
            .values_list("status", "channel")
            .annotate(count=Count("id"))
        )
        for status, channel, count in unfinished:
            kind = "failed" if status == DeliveryStatus.FAILED else "pending"
            counts[kind, channel] = counts.get((kind, channel), 0) + count
        for (kind, channel), count in sorted(counts.items()):
            metrics[kind].add_metric([channel], count)

        oldest = Delivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
        ).aggregate(oldest=Min("created_at"))["oldest"]
        metrics["oldest"].add_metric([], age(now, oldest))

        waiting = NotificationEvent.objects.filter(fanned_out_at__isnull=True).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        metrics["awaiting"].add_metric([], waiting["count"])
        metrics["lag"].add_metric([], age(now, waiting["oldest"]))
        recent = NotificationEvent.objects.filter(created_at__gte=now - timedelta(minutes=1))
        metrics["events"].add_metric([], recent.count())

    def collect_broker(self, metrics):
        url = settings.CELERY_BROKER_URL or ""
        if settings.CELERY_TASK_ALWAYS_EAGER or not url.startswith(("redis://", "rediss://")):
            return
        queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
        keys = [queue] + [f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS[1:]]
        client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
        try:
            pipeline = client.pipeline(transaction=False)
            for key in keys:
                pipeline.llen(key)
            length = sum(pipeline.execute())
        except RedisError as error:
            log.warning("metrics: the broker did not answer: %s", error)
            metrics["broker"].add_metric([], 0)
            return
        finally:
            client.close()
        metrics["broker"].add_metric([], 1)
        metrics["queue"].add_metric([queue], length)


def age(now, since):
    return max((now - since).total_seconds(), 0.0) if since else 0.0


collector = NotificationsCollector()


def register():
    register_scrape_collector(collector)
