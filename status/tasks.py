from celery import shared_task

from status import domains
from status.models import Page, prune_request_records


@shared_task
def prune():
    """Celery beat, hourly: idempotency answers and console form tokens past their use."""
    return prune_request_records()


@shared_task
def check_domains():
    """Celery beat, hourly: look up every claimed custom domain's TXT record (verify new ones,
    notice missing ones, release those gone for a week). Returns what changed."""
    changes = {"verified": 0, "missing": 0, "released": 0, "failed": 0}
    for page in Page.objects.exclude(custom_domain=None).exclude(custom_domain=""):
        was_verified, was_missing = page.domain_verified_at, page.domain_missing_since
        try:
            verified = page.check_domain()
        except domains.LookupFailed:
            changes["failed"] += 1
            continue
        if verified and not was_verified:
            changes["verified"] += 1
        elif was_verified and not verified:
            changes["released"] += 1
        elif page.domain_missing_since and not was_missing:
            changes["missing"] += 1
    return changes
