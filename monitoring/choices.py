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
    EXPORT_REPORT = "export_report", "Export report"


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


class Severity(models.TextChoices):
    SEV0 = "sev0", "Sev0 · Critical"
    SEV1 = "sev1", "Sev1 · Error"
    SEV2 = "sev2", "Sev2 · Warning"
    SEV3 = "sev3", "Sev3 · Informational"
    SEV4 = "sev4", "Sev4 · Verbose"

    @property
    def colour(self) -> str:
        return {"sev0": "danger", "sev1": "danger", "sev2": "warning", "sev3": "info", "sev4": "secondary"}[self.value]


class AlertCategory(models.TextChoices):
    SECURITY = "security", "Security"
    JOB = "job", "Job failure"
    METRIC = "metric", "Metric"

    @property
    def colour(self) -> str:
        return {"security": "danger", "job": "warning", "metric": "info"}[self.value]


class AlertState(models.TextChoices):
    """Set by users."""

    NEW = "new", "New"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    CLOSED = "closed", "Closed"

    @property
    def colour(self) -> str:
        return {"new": "primary", "acknowledged": "warning", "closed": "secondary"}[self.value]


class MonitorCondition(models.TextChoices):
    """Set by the system."""

    FIRED = "fired", "Fired"
    RESOLVED = "resolved", "Resolved"

    @property
    def colour(self) -> str:
        return {"fired": "danger", "resolved": "success"}[self.value]


OPEN_ALERT_STATES = (AlertState.NEW, AlertState.ACKNOWLEDGED)


class HealthMetric(models.TextChoices):
    BACKUP = "backup_health", "Backup Health Events"
    RESTORE = "restore_health", "Restore Health Events"


class HealthStatus(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    TRANSIENT_UNHEALTHY = "transient_unhealthy", "Transient Unhealthy"
    PERSISTENT_UNHEALTHY = "persistent_unhealthy", "Persistent Unhealthy"
    TRANSIENT_DEGRADED = "transient_degraded", "Transient Degraded"
    PERSISTENT_DEGRADED = "persistent_degraded", "Persistent Degraded"

    @property
    def colour(self) -> str:
        return {
            "healthy": "success",
            "transient_unhealthy": "warning",
            "persistent_unhealthy": "danger",
            "transient_degraded": "info",
            "persistent_degraded": "dark",
        }[self.value]


class Aggregation(models.TextChoices):
    COUNT = "count", "Count"


class Operator(models.TextChoices):
    GT = "gt", ">"
    GE = "ge", "≥"
    LT = "lt", "<"
    LE = "le", "≤"
    EQ = "eq", "="

    def compare(self, value: float, threshold: float) -> bool:
        return {
            "gt": value > threshold,
            "ge": value >= threshold,
            "lt": value < threshold,
            "le": value <= threshold,
            "eq": value == threshold,
        }[self.value]


class RuleSplit(models.TextChoices):
    """How many alerts a metric rule can raise: one for its scope, or one per backup instance."""

    NONE = "none", "One alert for the rule's scope"
    INSTANCE = "instance", "One alert per backup instance (all current and future)"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"

    @property
    def colour(self) -> str:
        return {
            "pending": "secondary",
            "sending": "primary",
            "succeeded": "success",
            "failed": "danger",
            "suppressed": "dark",
        }[self.value]


class ProcessingAction(models.TextChoices):
    SUPPRESS = "suppress", "Suppress notifications"
    ADD_ACTION_GROUPS = "add_action_groups", "Apply action groups"
