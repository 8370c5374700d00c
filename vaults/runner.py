"""What a worker does for a backup or restore job: claim it, run the datasource module against the
vault's repository with live progress and cancellation, record the outcome. Called by vaults.tasks."""

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.context import origin
from core.secrets import KeyUnavailable
from inventory.services import datasource_connection
from monitoring.choices import JobStatus
from monitoring.events import job_finished
from monitoring.models import Job
from monitoring.services import JobReporter, job_append_log, job_claim, job_finish
from vaults.choices import Health, ProtectionState
from vaults.engine import EngineError, ResticCancelled
from vaults.models import BackupInstance, RecoveryPoint
from vaults.services import repository_for

logger = logging.getLogger(__name__)


def _fail(job: Job, code: str, message: str) -> Job:
    logger.info("job %s failed: %s", job.pk, code)
    return job_finish(job, status=JobStatus.FAILED, error_code=code, message=message)


def _run(job: Job, work) -> Job:
    """Run `work(reporter)` and turn every known failure into a finished job with a clear message."""
    reporter = JobReporter(job)
    try:
        return work(reporter)
    except ResticCancelled:
        return job_finish(job, status=JobStatus.CANCELLED, message="Cancelled while running; nothing was recorded.")
    except KeyUnavailable as error:
        return _fail(job, error.code, error.message)
    except EngineError as error:
        tail = getattr(error, "stderr_tail", "")
        if tail:
            job_append_log(job, tail)
        return _fail(job, getattr(error, "code", None) or "restic_failed", error.message)
    except ValidationError as error:
        return _fail(job, "invalid_target", "; ".join(error.messages))
    except Exception:  # the job must end whatever happened; the traceback goes to the worker log only
        logger.exception("job %s crashed", job.pk)
        return _fail(job, "internal_error", "The job stopped on an unexpected error; the worker log has details.")


def _record_instance_outcome(instance: BackupInstance, job: Job) -> None:
    healthy = job.status in (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS)
    values = {
        "last_backup_status": job.status,
        "last_backup_time": job.ended,
        "health": Health.HEALTHY if healthy else Health.UNHEALTHY,
    }
    if instance.protection_state in (ProtectionState.PROTECTED, ProtectionState.PROTECTION_ERROR):
        values["protection_state"] = ProtectionState.PROTECTED if healthy else ProtectionState.PROTECTION_ERROR
    BackupInstance.objects.filter(pk=instance.pk).update(**values)


def execute_backup(job_id: int, task_id: str = "") -> Job | None:
    """Back up the job's instance into its vault's primary repository and record the recovery point."""
    from vaults.datasources.base import get_module

    job = job_claim(job_id)
    if job is None:
        return None
    with origin(task_id=task_id):
        instance = BackupInstance.objects.select_related("datasource", "vault").get(pk=job.instance_id)
        datasource = instance.datasource

        def work(reporter: JobReporter) -> Job:
            if not datasource.exists:
                return _fail(
                    job,
                    "datasource_not_found",
                    f"{datasource} was not found by the last discovery; "
                    "check that it still exists, run discovery, then back up again.",
                )
            repo = repository_for(instance.vault.primary)
            module = get_module(datasource.kind)
            tags = [f"bc-instance-{instance.pk}", f"bc-job-{job.pk}"]
            job_append_log(job, f"Backing up {datasource} ({datasource.get_kind_display()}) into {instance.vault}.")
            result = module.backup(
                repo,
                datasource_connection(datasource),
                instance.selection,
                tags=tags,
                on_progress=reporter.progress,
                cancel=reporter.cancelled,
            )
            summary = result.summary
            retain_until = job.params.get("retain_until")
            with transaction.atomic():
                point = RecoveryPoint.objects.create(
                    instance=instance,
                    snapshot_id=result.snapshot_id,
                    created=timezone.now(),
                    size=summary.total_bytes_processed,
                    data_added=summary.data_added,
                    file_count=summary.total_files_processed,
                    on_demand=bool(job.params.get("on_demand")),
                    retain_until=datetime.fromisoformat(retain_until) if retain_until else None,
                    job=job,
                )
                status = JobStatus.COMPLETED_WITH_WARNINGS if result.warnings else JobStatus.COMPLETED
                message = (
                    f"Recovery point {point.snapshot_id[:12]}: {summary.total_files_processed} files, "
                    f"{summary.total_bytes_processed} bytes read, {summary.data_added} bytes added."
                )
                if result.warnings:
                    message += f" {len(result.warnings)} item(s) could not be read; see the warnings."
                return job_finish(
                    job,
                    status=status,
                    message=message,
                    warnings=result.warnings,
                    bytes_added=summary.data_added,
                    bytes_done=summary.total_bytes_processed,
                    files_done=summary.total_files_processed,
                )

        job = _run(job, work)
        _record_instance_outcome(instance, job)
        job_finished(job)
        return job


def execute_restore(job_id: int, task_id: str = "") -> Job | None:
    """Restore the job's recovery point to the target in its params, then verify what was written."""
    from vaults.datasources.base import get_module

    job = job_claim(job_id)
    if job is None:
        return None
    with origin(task_id=task_id):
        instance = BackupInstance.objects.select_related("datasource", "vault").get(pk=job.instance_id)
        point = RecoveryPoint.objects.get(pk=job.recovery_point_id)
        datasource = instance.datasource

        def work(reporter: JobReporter) -> Job:
            repo = repository_for(instance.vault.primary)
            module = get_module(datasource.kind)
            target = dict(job.params.get("target") or {})
            job_append_log(job, f"Restoring {point.snapshot_id[:12]} of {datasource} to {target or 'the original'}.")
            connection = datasource_connection(datasource)
            result = module.restore(
                repo, point.snapshot_id, connection, target, on_progress=reporter.progress, cancel=reporter.cancelled
            )
            job_append_log(
                job,
                f"Restored {result.files_restored} files, {result.bytes_restored} bytes to "
                f"{result.location}; verifying.",
            )
            reporter.beat()
            verified = module.verify(repo, point.snapshot_id, connection, result, cancel=reporter.cancelled)
            details = {"location": result.location, **result.details, "verified_items": verified.checked}
            if not verified.ok:
                for problem in verified.problems[:50]:
                    job_append_log(job, f"verify: {problem}")
                return job_finish(
                    job,
                    status=JobStatus.FAILED,
                    error_code="verification_failed",
                    message=f"Restored to {result.location}, but verification found "
                    f"{len(verified.problems)} difference(s) from the recovery point.",
                    params={**job.params, "result": details},
                )
            status = JobStatus.COMPLETED_WITH_WARNINGS if result.warnings else JobStatus.COMPLETED
            return job_finish(
                job,
                status=status,
                warnings=result.warnings,
                message=f"Restored to {result.location} and verified {verified.checked} item(s).",
                bytes_done=result.bytes_restored,
                files_done=result.files_restored,
                params={**job.params, "result": details},
            )

        job = _run(job, work)
        job_finished(job)
        return job
