"""Metric alert rules: create from scratch or from the five documented sample templates, and evaluate on beat.

Evaluation claims each due rule with a conditional update of `next_evaluation_at` and goes on only when exactly one
row changed, so several beat-driven workers evaluate a rule once per period and fire once. A stateful rule raises
one alert per resource while the condition holds and resolves it after three consecutive clean evaluations; a
stateless rule raises an alert on every breached evaluation.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from monitoring.alerts import alert_raise
from monitoring.choices import (
    OPEN_ALERT_STATES,
    AlertCategory,
    HealthStatus,
    MonitorCondition,
    Operator,
    RuleSplit,
    Severity,
)
from monitoring.models import Alert, HealthEvent, MetricAlertRule

CLEAN_EVALUATIONS_TO_RESOLVE = 3
NOT_HEALTHY = [s.value for s in HealthStatus if s != HealthStatus.HEALTHY]
RULE_FIELDS = (
    "name",
    "description",
    "vault",
    "metric",
    "health_statuses",
    "datasource_kinds",
    "split",
    "aggregation",
    "operator",
    "threshold",
    "window_minutes",
    "frequency_minutes",
    "severity",
    "stateful",
    "enabled",
)

# The documented sample rules (Azure Backup metrics docs), offered as one-click templates.
TEMPLATES: dict[str, dict] = {
    "all_backups_succeeded": {
        "name": "All backups succeeded (24 h)",
        "description": "Fires while no backup in scope failed in the last 24 hours.",
        "health_statuses": NOT_HEALTHY,
        "operator": Operator.LT,
        "threshold": 1,
        "window_minutes": 24 * 60,
        "frequency_minutes": 60,
        "severity": Severity.SEV4,
        "stateful": True,
    },
    "failed_job": {
        "name": "Alert per failed job",
        "description": "One alert per backup instance with a failed backup in the last 5 minutes.",
        "health_statuses": NOT_HEALTHY,
        "split": RuleSplit.INSTANCE,
        "operator": Operator.GT,
        "threshold": 0,
        "window_minutes": 5,
        "frequency_minutes": 5,
        "severity": Severity.SEV2,
        "stateful": False,
    },
    "consecutive_failures": {
        "name": "Consecutive failures of the same item (24 h)",
        "description": "An instance failed more than once in 24 hours.",
        "health_statuses": NOT_HEALTHY,
        "split": RuleSplit.INSTANCE,
        "operator": Operator.GT,
        "threshold": 1,
        "window_minutes": 24 * 60,
        "frequency_minutes": 60,
        "severity": Severity.SEV1,
        "stateful": True,
    },
    "no_backup_24h": {
        "name": "No backup ran for an item in 24 h",
        "description": "A protected instance had no backup at all in the last 24 hours.",
        "split": RuleSplit.INSTANCE,
        "operator": Operator.LT,
        "threshold": 1,
        "window_minutes": 24 * 60,
        "frequency_minutes": 60,
        "severity": Severity.SEV1,
        "stateful": True,
    },
    "service_failures": {
        "name": "Service-side failures (24 h)",
        "description": "Backups failed because of a service-side error (storage, engine, worker).",
        "health_statuses": [HealthStatus.PERSISTENT_UNHEALTHY.value, HealthStatus.TRANSIENT_UNHEALTHY.value],
        "operator": Operator.GT,
        "threshold": 0,
        "window_minutes": 24 * 60,
        "frequency_minutes": 60,
        "severity": Severity.SEV1,
        "stateful": True,
    },
}


def _clean(rule: MetricAlertRule) -> None:
    errors = {}
    if any(s not in HealthStatus.values for s in rule.health_statuses or []):
        errors["health_statuses"] = "Unknown health status."
    if not 1 <= rule.window_minutes <= 7 * 24 * 60:
        errors["window_minutes"] = "Choose a look-back window between 1 minute and 7 days."
    if not 1 <= rule.frequency_minutes <= 24 * 60:
        errors["frequency_minutes"] = "Evaluate between every minute and once a day."
    if rule.vault_id and rule.vault.subscription_id != rule.subscription_id:
        errors["vault"] = "Choose a vault in the rule's subscription."
    if errors:
        raise ValidationError(errors)
    rule.full_clean(exclude=["tenant", "subscription", "action_groups"])


def _set_groups(rule: MetricAlertRule, groups) -> None:
    groups = list(groups)
    if any(g.subscription_id != rule.subscription_id for g in groups):
        raise ValidationError({"action_groups": "Choose action groups of the rule's subscription."})
    rule.action_groups.set(groups)


@transaction.atomic
def metric_rule_create(*, actor, subscription, action_groups=(), **fields) -> MetricAlertRule:
    """A new metric alert rule in `subscription`; first evaluated on the next beat tick."""
    ensure_permission(actor, Action.CHANGE, scope=subscription)
    rule = MetricAlertRule(tenant_id=subscription.tenant_id, subscription=subscription, **fields)
    rule.next_evaluation_at = timezone.now()
    _clean(rule)
    rule.save()
    _set_groups(rule, action_groups)
    change_record_write(actor=actor, action="create", obj=rule, after=snapshot(rule))
    return rule


def metric_rule_from_template(*, actor, subscription, template: str, vault=None, action_groups=()):
    """One of the sample rules in TEMPLATES, created as is (edit it afterwards)."""
    if template not in TEMPLATES:
        raise ValidationError({"template": f"Unknown template {template!r}."})
    return metric_rule_create(
        actor=actor, subscription=subscription, vault=vault, action_groups=action_groups, **TEMPLATES[template]
    )


@transaction.atomic
def metric_rule_update(*, actor, metric_alert_rule: MetricAlertRule, action_groups=None, **fields):
    rule = metric_alert_rule
    ensure_permission(actor, Action.CHANGE, scope=rule)
    before = snapshot(rule)
    for name, value in fields.items():
        if name in RULE_FIELDS:
            setattr(rule, name, value)
    _clean(rule)
    rule.save()
    if action_groups is not None:
        _set_groups(rule, action_groups)
    change_record_write(actor=actor, action="update", obj=rule, before=before, after=snapshot(rule))
    return rule


@transaction.atomic
def metric_rule_delete(*, actor, metric_alert_rule: MetricAlertRule) -> None:
    ensure_permission(actor, Action.DELETE, scope=metric_alert_rule)
    change_record_write(actor=actor, action="delete", obj=metric_alert_rule, before=snapshot(metric_alert_rule))
    metric_alert_rule.delete()


# -- evaluation ------------------------------------------------------------------------------------------------------


def rule_values(rule: MetricAlertRule, now) -> dict:
    """The aggregated metric over the rule's window: {None: n} or, split by instance, {instance: n}."""
    from vaults.choices import ProtectionState
    from vaults.models import BackupInstance

    events = HealthEvent.objects.filter(
        metric=rule.metric,
        subscription_id=rule.subscription_id,
        timestamp__gt=now - timedelta(minutes=rule.window_minutes),
        timestamp__lte=now,
    )
    if rule.vault_id:
        events = events.filter(vault_id=rule.vault_id)
    if rule.health_statuses:
        events = events.filter(health_status__in=rule.health_statuses)
    if rule.datasource_kinds:
        events = events.filter(datasource_kind__in=rule.datasource_kinds)
    if rule.split == RuleSplit.NONE:
        return {None: events.count()}
    counts = dict(events.values_list("instance_id").annotate(n=Count("id")).order_by())
    # "All current and future values": every protected instance in scope counts, with zero when it sent nothing.
    instances = BackupInstance.objects.filter(
        subscription_id=rule.subscription_id,
        protection_state__in=[ProtectionState.PROTECTED, ProtectionState.PROTECTION_ERROR],
    ).select_related("datasource", "vault")
    if rule.vault_id:
        instances = instances.filter(vault_id=rule.vault_id)
    if rule.datasource_kinds:
        instances = instances.filter(datasource__kind__in=rule.datasource_kinds)
    values = {instance: counts.pop(instance.pk, 0) for instance in instances}
    for instance in BackupInstance.objects.filter(pk__in=[pk for pk in counts if pk]).select_related(
        "datasource", "vault"
    ):
        values[instance] = counts[instance.pk]
    return values


def metric_rule_evaluate(rule: MetricAlertRule, now=None) -> list[Alert]:
    """Evaluate one rule now; returns the alerts it newly fired."""
    now = now or timezone.now()
    fired = []
    rule_key = f"metric.{rule.pk}"
    for instance, value in rule_values(rule, now).items():
        breached = Operator(rule.operator).compare(value, rule.threshold)
        resource_key = f"instance:{instance.pk}" if instance is not None else f"rule:{rule.pk}"
        open_alert = Alert.objects.filter(
            rule_key=rule_key,
            resource_key=resource_key,
            state__in=OPEN_ALERT_STATES,
            monitor_condition=MonitorCondition.FIRED,
        ).first()
        if breached:
            if rule.stateful and open_alert is not None:
                if open_alert.clean_evaluations:
                    Alert.objects.filter(pk=open_alert.pk).update(clean_evaluations=0)
                continue  # stays fired; no second alert while the condition holds
            resource = str(instance) if instance is not None else (str(rule.vault) if rule.vault_id else "")
            resource = resource or f"subscription {rule.subscription}"
            alert, created = alert_raise(
                rule_key=rule_key,
                name=rule.name,
                category=AlertCategory.METRIC,
                severity=rule.severity,
                resource=resource,
                resource_key=resource_key,
                description=f"{rule.condition}: the value was {value:g} at {now:%Y-%m-%d %H:%M} UTC.",
                recommended_action=rule.description or "Open the Metrics page and the jobs of the resource.",
                instance=instance,
                vault=rule.vault if instance is None and rule.vault_id else None,
                subscription=rule.subscription if instance is None and not rule.vault_id else None,
                metric_rule=rule,
                context={"value": value, "threshold": rule.threshold, "operator": rule.operator},
                deduplicate=rule.stateful,
            )
            if created:
                fired.append(alert)
        elif rule.stateful and open_alert is not None:
            clean = open_alert.clean_evaluations + 1
            values = {"clean_evaluations": clean}
            if clean >= CLEAN_EVALUATIONS_TO_RESOLVE:
                values.update(monitor_condition=MonitorCondition.RESOLVED, resolved_at=now)
            Alert.objects.filter(pk=open_alert.pk, monitor_condition=MonitorCondition.FIRED).update(**values)
    return fired


def metric_rules_evaluate(now=None) -> int:
    """Evaluate every due rule that this caller manages to claim. Returns how many rules it evaluated."""
    now = now or timezone.now()
    due = MetricAlertRule.objects.filter(enabled=True).filter(
        Q(next_evaluation_at__isnull=True) | Q(next_evaluation_at__lte=now)
    )
    evaluated = 0
    for rule in due.select_related("subscription", "vault"):
        current = rule.next_evaluation_at
        claim = MetricAlertRule.objects.filter(pk=rule.pk)
        claim = (
            claim.filter(next_evaluation_at__isnull=True)
            if current is None
            else claim.filter(next_evaluation_at=current)
        )
        if claim.update(next_evaluation_at=now + timedelta(minutes=rule.frequency_minutes), last_evaluated_at=now) != 1:
            continue  # another evaluator claimed this period
        with transaction.atomic():
            metric_rule_evaluate(rule, now)
        evaluated += 1
    return evaluated
