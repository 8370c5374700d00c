"""Celery tasks of monitoring: thin wrappers around the services, quiet when their row is gone."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(queue="default", ignore_result=True)
def notify_alert(alert_id: int) -> int:
    """Create the deliveries of a newly fired alert and queue them."""
    from monitoring.notifications import alert_notify

    return len(alert_notify(alert_id))


@shared_task(queue="default", ignore_result=True)
def send_delivery(delivery_id: int) -> str:
    """One attempt of one delivery; a failure with attempts left queues the next one after its backoff."""
    from monitoring.choices import DeliveryStatus
    from monitoring.notifications import delivery_attempt

    delivery = delivery_attempt(delivery_id)
    if delivery is None:
        return "skipped"
    if delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None:
        countdown = max((delivery.next_attempt_at - timezone.now()).total_seconds(), 0)
        send_delivery.apply_async((delivery_id,), countdown=countdown)
    return delivery.status


@shared_task(queue="default", ignore_result=True)
def retry_due_deliveries() -> int:
    """Beat, every minute: attempts whose queued retry was lost (broker restart, killed worker)."""
    from monitoring.notifications import deliveries_due

    due = deliveries_due()
    for pk in due:
        send_delivery.delay(pk)
    return len(due)


@shared_task(queue="default", ignore_result=True, soft_time_limit=240, time_limit=300)
def evaluate_metric_rules() -> int:
    """Beat, every minute: evaluate the metric alert rules that are due (each claimed by one evaluator)."""
    from monitoring.rules import metric_rules_evaluate

    return metric_rules_evaluate()


@shared_task(queue="default", ignore_result=True)
def record_missed_outcomes() -> int:
    """Beat, every five minutes: health events and alerts of backups and restores that ended without the runner
    reporting them (a reaped job of a killed worker)."""
    from monitoring.choices import Operation
    from monitoring.events import job_finished
    from monitoring.health import FINISHED
    from monitoring.models import HealthEvent, Job

    since = timezone.now() - timedelta(hours=2)
    jobs = Job.objects.filter(
        ended__gte=since, operation__in=[Operation.BACKUP, Operation.RESTORE], status__in=FINISHED
    ).exclude(pk__in=HealthEvent.objects.filter(timestamp__gte=since, job__isnull=False).values("job_id"))
    count = 0
    for job in jobs.filter(instance__isnull=False)[:500]:
        job_finished(job)
        count += 1
    return count


@shared_task(queue="default", ignore_result=True, soft_time_limit=3000, time_limit=3300)
def purge_job_history() -> dict:
    """Beat, daily: delete finished jobs and health events older than the configured retention."""
    from monitoring.services import job_history_purge

    return job_history_purge(days=settings.BACKUPCENTER_JOB_RETENTION_DAYS)
