"""Action groups, alert processing rules and deliveries: who is told about an alert, and every attempt to tell them.

Routing: a metric alert goes to its rule's action groups; every alert also goes to the groups of active
"apply action groups" processing rules that match it. An active matching "suppress notifications" rule (a
maintenance window) beats both: the deliveries are recorded as suppressed and nothing is sent.

Sending: each delivery is one message through one channel. An attempt claims the row (pending → sending) so two
workers never send it twice; a failure schedules the next attempt with exponential backoff
(NOTIFY_RETRY_BASE_SECONDS × 2^(attempt-1)) until the group's max attempts; every attempt is logged on the row.
"""

import secrets as pysecrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import secrets
from core.permissions import ensure_permission
from core.roles import Action
from core.services import change_record_write, snapshot
from monitoring.adapters import DeliveryFailed
from monitoring.adapters.smtp import send_email
from monitoring.adapters.webhook import post_json
from monitoring.choices import Channel, DeliveryStatus, ProcessingAction
from monitoring.models import ActionGroup, Alert, AlertProcessingRule, Delivery

GROUP_FIELDS = ("name", "emails", "webhook_url", "timeout_seconds", "max_attempts", "enabled")
RULE_FIELDS = (
    "name",
    "action",
    "vault",
    "severities",
    "categories",
    "starts_at",
    "ends_at",
    "weekdays",
    "daily_start",
    "daily_end",
    "enabled",
)


# -- action groups ---------------------------------------------------------------------------------------------------


def _clean_group(group: ActionGroup) -> None:
    emails = [e.strip() for e in (group.emails or []) if e and e.strip()]
    errors: dict[str, Any] = {}
    validator = EmailValidator()
    for address in emails:
        try:
            validator(address)
        except ValidationError:
            errors["emails"] = f"{address} is not an email address."
    group.emails = emails
    if group.webhook_url:
        try:
            URLValidator(schemes=["http", "https"])(group.webhook_url)
        except ValidationError:
            errors["webhook_url"] = "Enter an http:// or https:// URL."
    if not emails and not group.webhook_url:
        errors["emails"] = "Add at least one email address or a webhook URL."
    if not 1 <= group.timeout_seconds <= 60:
        errors["timeout_seconds"] = "Choose a timeout between 1 and 60 seconds."
    if not 1 <= group.max_attempts <= 10:
        errors["max_attempts"] = "Choose between 1 and 10 attempts."
    if errors:
        raise ValidationError(errors)
    group.full_clean(exclude=["tenant", "subscription"])


@transaction.atomic
def action_group_create(*, actor, subscription, webhook_secret: str = "", **fields) -> ActionGroup:
    """A new action group in `subscription`. A webhook gets a random signing secret unless one is given."""
    ensure_permission(actor, Action.CHANGE, scope=subscription)
    group = ActionGroup(tenant_id=subscription.tenant_id, subscription=subscription, **fields)
    _clean_group(group)
    group.sealed_webhook_secret = secrets.seal(webhook_secret or pysecrets.token_urlsafe(32))
    group.save()
    change_record_write(actor=actor, action="create", obj=group, after=snapshot(group))
    return group


@transaction.atomic
def action_group_update(*, actor, action_group: ActionGroup, webhook_secret: str = "", **fields) -> ActionGroup:
    """Change an action group; an empty `webhook_secret` keeps the current one."""
    ensure_permission(actor, Action.CHANGE, scope=action_group)
    before = snapshot(action_group)
    for name, value in fields.items():
        if name in GROUP_FIELDS:
            setattr(action_group, name, value)
    _clean_group(action_group)
    if webhook_secret:
        action_group.sealed_webhook_secret = secrets.seal(webhook_secret)
    action_group.save()
    change_record_write(actor=actor, action="update", obj=action_group, before=before, after=snapshot(action_group))
    return action_group


@transaction.atomic
def action_group_delete(*, actor, action_group: ActionGroup) -> None:
    ensure_permission(actor, Action.DELETE, scope=action_group)
    change_record_write(actor=actor, action="delete", obj=action_group, before=snapshot(action_group))
    action_group.delete()


def action_group_secret(action_group: ActionGroup) -> str:
    """The webhook signing secret in clear, for the owner to configure the receiver."""
    return secrets.unseal(action_group.sealed_webhook_secret) if action_group.sealed_webhook_secret else ""


def action_group_test(*, actor, action_group: ActionGroup) -> list[Delivery]:
    """Send a test notification through every channel of the group ("send test notification")."""
    ensure_permission(actor, Action.OPERATE, scope=action_group)
    payload = {
        "schemaId": "backupcenter.alert.v1",
        "test": True,
        "alert": {
            "name": "Test notification",
            "severity": "sev4",
            "description": f"A test notification of action group {action_group.name}, sent by {actor}.",
        },
    }
    with transaction.atomic():
        deliveries = _create_deliveries(action_group, None, payload, is_test=True)
        change_record_write(actor=actor, action="test", obj=action_group, message=f"{len(deliveries)} deliveries")
    return deliveries


# -- alert processing rules ------------------------------------------------------------------------------------------


def _clean_rule(rule: AlertProcessingRule) -> None:
    errors = {}
    if rule.starts_at and rule.ends_at and rule.ends_at <= rule.starts_at:
        errors["ends_at"] = "The window must end after it starts."
    if bool(rule.daily_start) != bool(rule.daily_end):
        errors["daily_end"] = "Give both the daily start and end, or neither."
    if any(not isinstance(d, int) or not 0 <= d <= 6 for d in rule.weekdays or []):
        errors["weekdays"] = "Weekdays are 0 (Monday) to 6 (Sunday)."
    if rule.vault_id and rule.vault.subscription_id != rule.subscription_id:
        errors["vault"] = "Choose a vault in the rule's subscription."
    if errors:
        raise ValidationError(errors)
    rule.full_clean(exclude=["tenant", "subscription", "action_groups"])


@transaction.atomic
def processing_rule_create(*, actor, subscription, action_groups=(), **fields) -> AlertProcessingRule:
    """A new alert processing rule: suppress notifications (maintenance window) or apply action groups."""
    ensure_permission(actor, Action.CHANGE, scope=subscription)
    rule = AlertProcessingRule(tenant_id=subscription.tenant_id, subscription=subscription, **fields)
    _clean_rule(rule)
    rule.save()
    _set_groups(rule, action_groups)
    change_record_write(actor=actor, action="create", obj=rule, after=snapshot(rule))
    return rule


@transaction.atomic
def processing_rule_update(*, actor, alert_processing_rule: AlertProcessingRule, action_groups=None, **fields):
    rule = alert_processing_rule
    ensure_permission(actor, Action.CHANGE, scope=rule)
    before = snapshot(rule)
    for name, value in fields.items():
        if name in RULE_FIELDS:
            setattr(rule, name, value)
    _clean_rule(rule)
    rule.save()
    if action_groups is not None:
        _set_groups(rule, action_groups)
    change_record_write(actor=actor, action="update", obj=rule, before=before, after=snapshot(rule))
    return rule


@transaction.atomic
def processing_rule_delete(*, actor, alert_processing_rule: AlertProcessingRule) -> None:
    ensure_permission(actor, Action.DELETE, scope=alert_processing_rule)
    change_record_write(actor=actor, action="delete", obj=alert_processing_rule, before=snapshot(alert_processing_rule))
    alert_processing_rule.delete()


def _set_groups(owner, groups) -> None:
    groups = list(groups)
    if any(g.subscription_id != owner.subscription_id for g in groups):
        raise ValidationError({"action_groups": "Choose action groups of the same subscription."})
    owner.action_groups.set(groups)


# -- routing and deliveries ------------------------------------------------------------------------------------------


def alert_payload(alert: Alert) -> dict:
    base = getattr(settings, "BACKUPCENTER_BASE_URL", "").rstrip("/")
    return {
        "schemaId": "backupcenter.alert.v1",
        "test": False,
        "alert": {
            "id": alert.pk,
            "name": alert.name,
            "category": alert.category,
            "severity": alert.severity,
            "state": alert.state,
            "monitorCondition": alert.monitor_condition,
            "resource": alert.resource,
            "errorCode": alert.error_code,
            "description": alert.description,
            "recommendedAction": alert.recommended_action,
            "occurrences": alert.occurrences,
            "firedAt": alert.first_fired.isoformat(),
            "url": f"{base}{alert.get_absolute_url()}",
        },
    }


def alert_routes(alert: Alert, now=None) -> tuple[list[ActionGroup], bool]:
    """(action groups to notify, suppressed by a processing rule)."""
    now = now or timezone.now()
    if alert.subscription_id is None:
        return [], False
    groups: dict[int, ActionGroup] = {}
    if alert.metric_rule_id:
        groups.update({g.pk: g for g in alert.metric_rule.action_groups.filter(enabled=True)})
    suppressed = False
    rules = AlertProcessingRule.objects.filter(subscription_id=alert.subscription_id, enabled=True)
    for rule in rules.prefetch_related("action_groups"):
        if not (rule.matches(alert) and rule.active_at(now)):
            continue
        if rule.action == ProcessingAction.SUPPRESS:
            suppressed = True
        else:
            groups.update({g.pk: g for g in rule.action_groups.all() if g.enabled})
    return list(groups.values()), suppressed


def _create_deliveries(group: ActionGroup, alert: Alert | None, payload: dict, *, is_test=False, suppressed=False):
    common = {
        "tenant_id": group.tenant_id,
        "subscription_id": group.subscription_id,
        "action_group": group,
        "alert": alert,
        "payload": payload,
        "is_test": is_test,
        "max_attempts": group.max_attempts,
        "status": DeliveryStatus.SUPPRESSED if suppressed else DeliveryStatus.PENDING,
    }
    deliveries = []
    if group.emails:
        deliveries.append(Delivery.objects.create(channel=Channel.EMAIL, target=", ".join(group.emails), **common))
    if group.webhook_url:
        deliveries.append(Delivery.objects.create(channel=Channel.WEBHOOK, target=group.webhook_url, **common))
    if not suppressed:
        from monitoring import tasks

        for delivery in deliveries:
            transaction.on_commit(lambda pk=delivery.pk: tasks.send_delivery.delay(pk))
    return deliveries


@transaction.atomic
def alert_notify(alert_id: int) -> list[Delivery]:
    """Create the deliveries of a newly fired alert (once: an alert that already has deliveries is skipped)."""
    alert = Alert.objects.select_related("metric_rule").filter(pk=alert_id).first()
    if alert is None or Delivery.objects.filter(alert=alert).exists():
        return []
    groups, suppressed = alert_routes(alert)
    payload = alert_payload(alert)
    deliveries = []
    for group in groups:
        deliveries += _create_deliveries(group, alert, payload, suppressed=suppressed)
    return deliveries


def _subject(payload: dict) -> str:
    alert = payload.get("alert", {})
    prefix = "[TEST] " if payload.get("test") else ""
    severity = str(alert.get("severity", "")).capitalize()
    return f"{prefix}Backup Center {severity}: {alert.get('name', '')} — {alert.get('resource', '')}".strip(" —")


def _body(payload: dict) -> str:
    alert = payload.get("alert", {})
    lines = [
        f"{alert.get('name', '')} ({alert.get('severity', '')}, {alert.get('category', 'test')})",
        f"Resource: {alert.get('resource', '-')}",
        "",
        alert.get("description", ""),
    ]
    if alert.get("recommendedAction"):
        lines += ["", f"Recommended action: {alert['recommendedAction']}"]
    if alert.get("url"):
        lines += ["", alert["url"]]
    return "\n".join(lines) + "\n"


def backoff_seconds(attempt: int) -> float:
    return float(settings.NOTIFY_RETRY_BASE_SECONDS) * (2 ** max(attempt - 1, 0))


def delivery_attempt(delivery_id: int) -> Delivery | None:
    """Make one attempt if the delivery is due; None when it is not due or another worker holds it."""
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return None
    delivery = Delivery.objects.select_related("action_group").get(pk=delivery_id)
    group = delivery.action_group
    started = timezone.now()
    response_code, error = None, ""
    try:
        if delivery.channel == Channel.EMAIL:
            send_email(
                to=group.emails,
                subject=_subject(delivery.payload),
                body=_body(delivery.payload),
                timeout=group.timeout_seconds,
            )
        else:
            response_code = post_json(
                url=group.webhook_url,
                payload=delivery.payload,
                secret=action_group_secret(group),
                timeout=group.timeout_seconds,
                delivery_id=delivery.pk,
            )
    except DeliveryFailed as failure:
        response_code, error = failure.response_code, failure.message
    except Exception as failure:  # a bug or an unreadable secret must still end in the log, not a stuck row
        error = f"{failure.__class__.__name__}: {failure}"[:500]
    ended = timezone.now()
    entry = {
        "attempt": delivery.attempts,
        "at": started.isoformat(),
        "ok": not error,
        "response_code": response_code,
        "error": error,
        "duration_ms": int((ended - started).total_seconds() * 1000),
    }
    values: dict[str, Any] = {
        "attempt_log": [*delivery.attempt_log, entry],
        "response_code": response_code,
        "last_error": error,
    }
    if not error:
        values.update(status=DeliveryStatus.SUCCEEDED, finished=ended, next_attempt_at=None)
    elif delivery.attempts >= delivery.max_attempts:
        values.update(status=DeliveryStatus.FAILED, finished=ended, next_attempt_at=None)
    else:
        values.update(
            status=DeliveryStatus.PENDING, next_attempt_at=ended + timedelta(seconds=backoff_seconds(delivery.attempts))
        )
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**values)
    delivery.refresh_from_db()
    return delivery


def deliveries_due(now=None, *, stuck_after: timedelta = timedelta(minutes=10)) -> list[int]:
    """Pending deliveries whose next attempt is due; deliveries stuck in sending (a killed worker) are re-queued."""
    now = now or timezone.now()
    Delivery.objects.filter(status=DeliveryStatus.SENDING, created__lt=now - stuck_after).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - stuck_after)
    ).update(status=DeliveryStatus.PENDING, next_attempt_at=now)
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .values_list("pk", flat=True)[:500]
    )
