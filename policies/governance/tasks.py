"""Celery tasks of governance: thin wrappers over the services, quiet when their rows are gone."""

from celery import shared_task

from core.context import origin


@shared_task(ignore_result=True, soft_time_limit=1800, time_limit=1900)
def evaluate_compliance(assignment_ids: list[int] | None = None, debounced: bool = False) -> None:
    """Evaluate compliance: every assignment (beat, debounced changes) or the given ones (on demand)."""
    from policies.governance.services import compliance_evaluate

    with origin(task_id=evaluate_compliance.request.id or ""):
        compliance_evaluate(assignment_ids=assignment_ids, debounced=debounced)


@shared_task(ignore_result=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def run_remediation(task_id: int) -> None:
    """Configure backup of the non-compliant datasources of one remediation task."""
    from policies.governance.services import remediation_run

    with origin(task_id=run_remediation.request.id or ""):
        remediation_run(task_id)
