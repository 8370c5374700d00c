"""Alerts: raising (deduplicated, with an occurrence count), resolving, and the user's state changes.

The system raises and resolves (`monitor_condition` fired → resolved); users acknowledge and close (`state`
new → acknowledged → closed). Built-in job failure alerts (Sev1) can be switched off per vault; security alerts
(Sev0) cannot, only their notifications can be routed or suppressed.
"""

import uuid
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.exceptions import DomainError
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write
from monitoring.choices import OPEN_ALERT_STATES, AlertCategory, AlertState, MonitorCondition, Operation, Severity
from monitoring.models import Alert, Job, VaultAlertSettings

JOB_RULES = {
    Operation.BACKUP: ("job.backup_failure", "Backup failure"),
    Operation.RESTORE: ("job.restore_failure", "Restore failure"),
}

# What to do about each failure cause, shown on the alert and sent with its notifications.
RECOMMENDATIONS = {
    "source_missing": "The folder, file or database to back up no longer exists on its host. Restore it or change "
    "the datasource's paths, run discovery, then back up again.",
    "datasource_not_found": "Discovery no longer finds the datasource. Check that it exists and that the connector "
    "can reach it, run discovery, then back up again; its recovery points are kept.",
    "wrong_password": "The repository rejected its password. Check that the vault's key was not rotated without "
    "re-wrapping and that the storage location points at the right repository.",
    "key_disabled": "The vault's customer-managed key is disabled. Enable the key (Keys page) and retry.",
    "key_missing": "The vault's key is missing from the keyring. Restore the keyring file from its backup.",
    "invalid_target": "The restore target was refused. Choose a target inside the allowed restore folders.",
    "restore_conflict": "Files already exist at the target. Choose another folder or allow overwriting.",
    "storage_unavailable": "The storage location cannot be written. Check that it exists, is writable and has space.",
    "lock_failed": "The repository was locked by maintenance. The next scheduled run retries; no action is needed "
    "unless this repeats.",
    "worker_lost": "The worker running the job stopped. Check the worker host, then run the operation again.",
}
DEFAULT_RECOMMENDATION = "Open the job for the full error, fix its cause, then run the operation again."

SECURITY_KINDS = {
    "soft_delete_disabled": (
        "Soft delete disabled for vault",
        "Deleted backup data is now purged at once. Enable soft delete (or make it always-on) unless this was "
        "intended and approved.",
    ),
    "mua_removed": (
        "MUA disabled",
        "The vault is no longer guarded by a Resource Guard. Link the guard again unless this was approved.",
    ),
    "backup_data_deleted": (
        "Delete backup data",
        "Backup data was deleted. If this was not intended, undelete it before the soft-delete period ends.",
    ),
    "retention_shortened": (
        "Modify policy with shorter retention",
        "Recovery points will expire sooner. Restore the longer retention unless the change was intended.",
    ),
    "protection_retention_shortened": (
        "Modify protection with shorter retention",
        "An item moved to a policy with shorter retention. Move it back unless the change was intended.",
    ),
    "immutability_disabled": (
        "Immutability disabled for vault",
        "Recovery points can now be deleted before they expire. Enable immutability again unless intended.",
    ),
    "upcoming_purge": (
        "Upcoming purge",
        "Soft-deleted backup data will be purged permanently within two days. Undelete it now if it is needed.",
    ),
    "purge_complete": (
        "Purge complete",
        "Soft-deleted backup data was purged permanently. Nothing can be recovered from it any more.",
    ),
}


def _scope_keys(*, instance=None, vault=None, subscription=None) -> dict:
    source = instance or vault
    if source is not None:
        return {
            "tenant_id": source.tenant_id,
            "subscription_id": source.subscription_id,
            "resource_group_id": source.resource_group_id,
            "vault_id": getattr(source, "vault_id", None) or (vault.pk if vault is not None else None),
        }
    if subscription is not None:
        return {"tenant_id": subscription.tenant_id, "subscription_id": subscription.pk}
    return {}


def alert_raise(
    *,
    rule_key: str,
    name: str,
    category: str,
    severity: str,
    resource: str,
    resource_key: str,
    description: str,
    recommended_action: str = "",
    error_code: str = "",
    instance=None,
    vault=None,
    subscription=None,
    metric_rule=None,
    job: Job | None = None,
    context: dict | None = None,
    deduplicate: bool = True,
) -> tuple[Alert, bool]:
    """Fire an alert, or add an occurrence to the open, fired one with the same (rule, resource, error code).

    Returns (alert, created). Notifications go out once, when an alert is created, after the transaction commits.
    """
    key = f"{rule_key}|{resource_key}|{error_code}"
    if not deduplicate:
        key += f"|{uuid.uuid4().hex}"
    now = timezone.now()
    for _ in range(3):
        updated = Alert.objects.filter(
            dedup_key=key, state__in=OPEN_ALERT_STATES, monitor_condition=MonitorCondition.FIRED
        ).update(occurrences=F("occurrences") + 1, last_fired=now, description=description, job=job)
        if updated:
            alert = Alert.objects.filter(dedup_key=key, state__in=OPEN_ALERT_STATES).order_by("-id").first()
            if alert is not None:
                return alert, False
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    rule_key=rule_key,
                    name=name,
                    category=category,
                    severity=severity,
                    metric_rule=metric_rule,
                    instance=instance,
                    datasource_id=getattr(instance, "datasource_id", None),
                    datasource_kind=instance.datasource.kind if instance is not None else "",
                    resource=resource[:300],
                    resource_key=resource_key[:120],
                    error_code=error_code,
                    dedup_key=key[:300],
                    description=description,
                    recommended_action=recommended_action,
                    first_fired=now,
                    last_fired=now,
                    job=job,
                    context=context or {},
                    **_scope_keys(instance=instance, vault=vault, subscription=subscription),
                )
        except IntegrityError:
            continue  # another worker created it a moment ago: count an occurrence on that one instead
        from monitoring import tasks

        transaction.on_commit(lambda pk=alert.pk: tasks.notify_alert.delay(pk))
        return alert, True
    raise RuntimeError(f"Could not raise or deduplicate alert {key}")


def alerts_resolve(**filters) -> int:
    """Set fired alerts matching `filters` to resolved (the system's side; users still close them)."""
    return Alert.objects.filter(monitor_condition=MonitorCondition.FIRED, **filters).update(
        monitor_condition=MonitorCondition.RESOLVED, resolved_at=timezone.now()
    )


def job_alerts_enabled(vault_id: int | None) -> bool:
    if vault_id is None:
        return True
    return VaultAlertSettings.objects.filter(vault_id=vault_id, job_failure_alerts=False).first() is None


def job_alert_raise(job: Job, error_code: str) -> Alert | None:
    """The built-in Sev1 alert of a failed backup or restore, unless the vault switched job alerts off."""
    from vaults.models import BackupInstance

    if job.operation not in JOB_RULES or not job_alerts_enabled(job.vault_id):
        return None
    rule_key, name = JOB_RULES[job.operation]
    instance = BackupInstance.objects.select_related("datasource", "vault").filter(pk=job.instance_id).first()
    resource = str(instance) if instance is not None else job.subject or f"job #{job.pk}"
    alert, _ = alert_raise(
        rule_key=rule_key,
        name=name,
        category=AlertCategory.JOB,
        severity=Severity.SEV1,
        resource=resource,
        resource_key=f"instance:{job.instance_id}" if job.instance_id else f"job:{job.pk}",
        description=f"{job.get_operation_display()} of {job.subject or resource} failed (job #{job.pk}): {job.message}",
        recommended_action=RECOMMENDATIONS.get(error_code, DEFAULT_RECOMMENDATION),
        error_code=error_code,
        instance=instance,
        vault=instance.vault if instance is not None else job.vault,
        job=job,
    )
    return alert


def job_alerts_resolve(job: Job) -> int:
    """A successful backup or restore resolves the instance's fired failure alerts of that operation."""
    if job.operation not in JOB_RULES or job.instance_id is None:
        return 0
    return alerts_resolve(rule_key=JOB_RULES[job.operation][0], resource_key=f"instance:{job.instance_id}")


def security_alert_raise(*, kind: str, vault, message: str, resource=None) -> Alert:
    """The always-on Sev0 security alert of `kind` on `vault`, deduplicated by (kind, resource)."""
    name, action = SECURITY_KINDS.get(kind, (kind.replace("_", " ").capitalize(), "Check that this was intended."))
    if resource is None:
        label, key = str(vault), f"vault:{vault.pk}"
    elif isinstance(resource, str):
        label, key = resource, f"vault:{vault.pk}:{resource}"
    else:
        label, key = str(resource), f"{resource._meta.label_lower}:{resource.pk}"
    instance = resource if resource is not None and resource.__class__.__name__ == "BackupInstance" else None
    alert, _ = alert_raise(
        rule_key=f"security.{kind}",
        name=name,
        category=AlertCategory.SECURITY,
        severity=Severity.SEV0,
        resource=label,
        resource_key=key,
        description=message,
        recommended_action=action,
        instance=instance,
        vault=vault,
    )
    return alert


ALLOWED_TRANSITIONS = {
    AlertState.ACKNOWLEDGED: {AlertState.NEW},
    AlertState.CLOSED: {AlertState.NEW, AlertState.ACKNOWLEDGED},
}


@transaction.atomic
def alert_set_state(*, actor, alert: Alert, state: str) -> Alert:
    """Acknowledge or close an alert (a user's decision; the monitor condition stays the system's)."""
    ensure_permission(actor, Action.OPERATE, scope=alert)
    if state not in ALLOWED_TRANSITIONS:
        raise DomainError(f"Alerts can be acknowledged or closed, not set to {state}.", code="invalid_state")
    if alert.state == state:
        return alert
    if alert.state not in ALLOWED_TRANSITIONS[state]:
        raise DomainError(
            f"Alert #{alert.pk} is {alert.get_state_display().lower()} and cannot become {AlertState(state).label}.",
            code="invalid_state",
        )
    before = alert.state
    alert.state = state
    alert.state_changed_at = timezone.now()
    alert.state_changed_by = getattr(actor, "username", "") or str(actor)
    alert.save(update_fields=["state", "state_changed_at", "state_changed_by"])
    change_record_write(actor=actor, action=state, obj=alert, before={"state": before}, after={"state": state})
    return alert


def alerts_set_state(*, actor, alerts: Iterable[Alert], state: str) -> tuple[int, list[str]]:
    """Bulk state change: each alert through `alert_set_state`; returns (changed, problems)."""
    from core.exceptions import PermissionDenied

    changed, problems = 0, []
    for alert in alerts:
        try:
            alert_set_state(actor=actor, alert=alert, state=state)
            changed += 1
        except (DomainError, PermissionDenied) as error:
            problems.append(f"#{alert.pk}: {getattr(error, 'message', None) or error}")
    return changed, problems


@transaction.atomic
def vault_alert_settings_update(*, actor, vault, job_failure_alerts: bool) -> VaultAlertSettings:
    """Switch the vault's built-in job failure alerts on or off (security alerts have no switch)."""
    ensure_permission(actor, Action.CHANGE, scope=vault)
    settings_row, _ = VaultAlertSettings.objects.get_or_create(
        vault=vault,
        defaults={
            "tenant_id": vault.tenant_id,
            "subscription_id": vault.subscription_id,
            "resource_group_id": vault.resource_group_id,
        },
    )
    before = settings_row.job_failure_alerts
    settings_row.job_failure_alerts = job_failure_alerts
    settings_row.save(update_fields=["job_failure_alerts"])
    change_record_write(
        actor=actor,
        action="update",
        obj=settings_row,
        before={"job_failure_alerts": before},
        after={"job_failure_alerts": job_failure_alerts},
    )
    return settings_row
