"""Enumerations of governance, each with a badge colour."""

from django.db import models


class Effect(models.TextChoices):
    AUDIT = "audit", "Audit"
    AUDIT_IF_NOT_EXISTS = "audit_if_not_exists", "AuditIfNotExists"
    DEPLOY_IF_NOT_EXISTS = "deploy_if_not_exists", "DeployIfNotExists"
    DENY = "deny", "Deny"
    DISABLED = "disabled", "Disabled"

    @property
    def colour(self) -> str:
        return {
            "audit": "info",
            "audit_if_not_exists": "info",
            "deploy_if_not_exists": "primary",
            "deny": "danger",
            "disabled": "secondary",
        }[self.value]


class ComplianceState(models.TextChoices):
    COMPLIANT = "compliant", "Compliant"
    NON_COMPLIANT = "non_compliant", "Non-compliant"
    EXEMPT = "exempt", "Exempt"
    UNKNOWN = "unknown", "Unknown"
    CONFLICT = "conflict", "Conflict"

    @property
    def colour(self) -> str:
        return {
            "compliant": "success",
            "non_compliant": "danger",
            "exempt": "secondary",
            "unknown": "warning",
            "conflict": "dark",
        }[self.value]


class ResourceType(models.TextChoices):
    DATASOURCE = "datasource", "Datasource"
    VAULT = "vault", "Vault"
    POLICY = "policy", "Backup policy"
    INSTANCE = "instance", "Backup instance"


class RemediationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    IN_PROGRESS = "in_progress", "In progress"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
    FAILED = "failed", "Failed"

    @property
    def colour(self) -> str:
        return {
            "queued": "secondary",
            "in_progress": "primary",
            "succeeded": "success",
            "partially_succeeded": "warning",
            "failed": "danger",
        }[self.value]


class RemediationOutcome(models.TextChoices):
    PROTECTED = "protected", "Backup configured"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"

    @property
    def colour(self) -> str:
        return {"protected": "success", "failed": "danger", "skipped": "secondary"}[self.value]


# The actions whose services call `enforce_deny`.
DENY_ACTIONS = ("vault.create", "vault.update", "policy.create", "policy.update")
