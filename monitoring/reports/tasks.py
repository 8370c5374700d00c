"""Celery tasks of reports: thin wrappers over the services."""

from celery import shared_task


@shared_task(ignore_result=True, soft_time_limit=3600, time_limit=3700)
def run_export(export_id: int) -> None:
    """Write one background export."""
    from monitoring.reports.services import export_run

    export_run(export_id)


@shared_task(ignore_result=True, soft_time_limit=1800, time_limit=1900)
def send_due_reports() -> int:
    """Beat: mail the scheduled reports that are due."""
    from monitoring.reports.services import send_due_reports as send

    return send()
