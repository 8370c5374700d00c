"""Enumerations of jobs, each with a badge colour."""

from django.db import models


class Operation(models.TextChoices):
    BACKUP = "backup", "Backup"
    RESTORE = "restore", "Restore"
    CREATE_VAULT = "create_vault", "Create vault"
    CONFIGURE_BACKUP = "configure_backup", "Configure backup"
    STOP_PROTECTION = "stop_protection", "Stop protection"
    DELETE_BACKUP_DATA = "delete_backup_data", "Delete backup data"
    UNDELETE = "undelete", "Undelete"
    MOVE_TO_ARCHIVE = "move_to_archive", "Move to archive"
    REHYDRATE = "rehydrate", "Rehydrate"
    REPLICATE = "replicate", "Replicate"
    VERIFY = "verify", "Verify"
    RETENTION = "retention", "Retention"
    ROTATE_KEY = "rotate_key", "Rotate key"
    DISCOVERY = "discovery", "Discovery"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    COMPLETED_WITH_WARNINGS = "completed_with_warnings", "Completed with warnings"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"

    @property
    def colour(self) -> str:
        return {
            "queued": "secondary",
            "in_progress": "primary",
            "completed": "success",
            "completed_with_warnings": "warning",
            "failed": "danger",
            "cancelled": "dark",
        }[self.value]


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.IN_PROGRESS)
TERMINAL_STATUSES = tuple(s for s in JobStatus if s not in ACTIVE_STATUSES)
