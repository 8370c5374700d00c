"""Every write of governance: assignments, evaluations (on demand and debounced), remediation, and the one Deny
check that vault and policy services call before they save."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import DomainError
from core.permissions import SystemActor, ensure_permission
from core.roles import Action, ScopeLevel
from core.services import change_record_write, snapshot
from policies.governance.choices import DENY_ACTIONS, ComplianceState, Effect, RemediationStatus
from policies.governance.definitions import CONFIGURE_BACKUP, clean_parameters, get_definition, policy_of
from policies.governance.models import EvaluationRequest, PolicyAssignment, RemediationTask

EDITABLE = {
    "name",
    "description",
    "parameters",
    "effect",
    "excluded_scopes",
    "exempt_resources",
    "non_compliance_message",
    "auto_remediate",
}


class PolicyDenied(DomainError):
    """A Deny assignment refuses the change (Azure: RequestDisallowedByPolicy)."""

    status_code = 403


# Deny ------------------------------------------------------------------------------------------------------------


def scope_keys_of(obj) -> dict[str, int | None]:
    """tenant/subscription/resource group ids of an object about to be saved (copied from its vault or resource
    group when the model copies them only in save())."""
    keys = {}
    for level in ("tenant", "subscription", "resource_group"):
        value = getattr(obj, f"{level}_id", None)
        for parent in ("vault", "resource_group"):
            if value is None and getattr(obj, f"{parent}_id", None):
                holder = getattr(obj, parent)
                value = holder.pk if level == parent else getattr(holder, f"{level}_id", None)
        keys[f"{level}_id"] = value
    return keys


def _covers(assignment: PolicyAssignment, obj, keys: dict) -> bool:
    if assignment.tenant_id != keys["tenant_id"]:
        return False
    if assignment.subscription_id and assignment.subscription_id != keys["subscription_id"]:
        return False
    if assignment.resource_group_id and assignment.resource_group_id != keys["resource_group_id"]:
        return False
    for scope in assignment.excluded_scopes or []:
        if keys.get(f"{scope.get('level')}_id") == scope.get("id"):
            return False
    return not (obj.pk and obj.pk in (assignment.exempt_resources or []))


def enforce_deny(*, actor, action: str, obj) -> None:
    """Raise PolicyDenied when a Deny assignment covering `obj` would make it non-compliant.

    Called by the vault and backup policy services right before they save (`obj` carries the new values and its
    scope keys); every caller — pages, API, tasks, remediation — passes through here, so Deny has one place.
    """
    if action not in DENY_ACTIONS:
        raise ValueError(f"Unknown deny action {action!r}.")
    keys = scope_keys_of(obj)
    tenant_id = keys["tenant_id"]
    if tenant_id is None:
        return
    definition_keys = [k for k, d in _deny_definitions().items() if action in d.deny_actions]
    candidates = PolicyAssignment.objects.filter(
        tenant_id=tenant_id, effect=Effect.DENY, definition_key__in=definition_keys
    )
    for assignment in candidates:
        if not _covers(assignment, obj, keys):
            continue
        definition = get_definition(assignment.definition_key)
        problem = definition.violation(obj, clean_parameters(definition, assignment.parameters))
        if problem:
            message = assignment.non_compliance_message or definition.name
            raise PolicyDenied(
                f"Denied by policy assignment “{assignment.name}”: {message} ({problem})", code="denied_by_policy"
            )


def _deny_definitions():
    from policies.governance.definitions import DEFINITIONS

    return {k: d for k, d in DEFINITIONS.items() if d.deny_actions}


# Assignments -----------------------------------------------------------------------------------------------------


def _scope_keys(scope) -> dict[str, Any]:
    name = scope.__class__.__name__
    if name == "Tenant":
        return {"tenant": scope, "subscription": None, "resource_group": None, "scope_level": ScopeLevel.TENANT}
    if name == "Subscription":
        return {
            "tenant_id": scope.tenant_id,
            "subscription": scope,
            "resource_group": None,
            "scope_level": ScopeLevel.SUBSCRIPTION,
        }
    if name == "ResourceGroup":
        return {
            "tenant_id": scope.tenant_id,
            "subscription_id": scope.subscription_id,
            "resource_group": scope,
            "scope_level": ScopeLevel.RESOURCE_GROUP,
        }
    raise ValidationError({"scope": ["Assign at a tenant, subscription or resource group."]})


def _validate(assignment: PolicyAssignment, actor) -> None:
    definition = get_definition(assignment.definition_key)
    errors: dict[str, list[str]] = {}
    if definition is None:
        raise ValidationError({"definition_key": ["Choose a definition."]})
    if assignment.effect not in definition.effects:
        errors["effect"] = [f"This definition allows {', '.join(Effect(e).label for e in definition.effects)}."]
    try:
        assignment.parameters = clean_parameters(definition, assignment.parameters)
    except ValidationError as error:
        errors.update(error.message_dict)
    if definition.key == CONFIGURE_BACKUP.key and "parameters" not in errors:
        policy = policy_of(assignment.parameters)
        tag = assignment.parameters.get("tag_name", "")
        if not tag or "__" in tag or not all(c.isalnum() or c in "-_.:" for c in tag):
            errors.setdefault("parameters", []).append("Tag name: letters, digits, - _ . : only.")
        if policy is None or policy.tenant_id != assignment.tenant_id:
            errors.setdefault("parameters", []).append("Choose a backup policy of a vault in the assignment's tenant.")
        else:
            ensure_permission(actor, Action.VIEW, scope=policy)
    scopes = assignment.excluded_scopes or []
    if not isinstance(scopes, list) or not all(
        isinstance(s, dict) and s.get("level") in ("subscription", "resource_group") and isinstance(s.get("id"), int)
        for s in scopes
    ):
        errors["excluded_scopes"] = ['A list of {"level": "subscription" | "resource_group", "id": n}.']
    exempt = assignment.exempt_resources or []
    if not isinstance(exempt, list) or not all(isinstance(pk, int) for pk in exempt):
        errors["exempt_resources"] = ["A list of resource ids."]
    if assignment.auto_remediate and assignment.effect != Effect.DEPLOY_IF_NOT_EXISTS:
        errors["auto_remediate"] = ["Only DeployIfNotExists assignments remediate automatically."]
    if errors:
        raise ValidationError(errors)
    assignment.full_clean(exclude=["tenant", "subscription", "resource_group", "parameters"])


@transaction.atomic
def assignment_create(
    *,
    actor,
    scope,
    definition_key: str,
    name: str = "",
    effect: str = "",
    parameters: dict | None = None,
    excluded_scopes: list | None = None,
    exempt_resources: list | None = None,
    non_compliance_message: str = "",
    description: str = "",
    auto_remediate: bool = False,
) -> PolicyAssignment:
    """Assign a definition at a tenant, subscription or resource group (owners of that scope), then evaluate it."""
    ensure_permission(actor, Action.MANAGE_ACCESS, scope=scope)
    definition = get_definition(definition_key)
    assignment = PolicyAssignment(
        **_scope_keys(scope),
        definition_key=definition_key,
        definition_version=definition.version if definition else 1,
        name=(name or (definition.name if definition else ""))[:120],
        description=description,
        effect=effect or (definition.default_effect if definition else ""),
        parameters=parameters or {},
        excluded_scopes=excluded_scopes or [],
        exempt_resources=exempt_resources or [],
        non_compliance_message=non_compliance_message,
        auto_remediate=auto_remediate,
        created_by_name=getattr(actor, "username", "") or str(actor),
    )
    _validate(assignment, actor)
    assignment.save()
    change_record_write(actor=actor, action="assign_policy", obj=assignment, after=snapshot(assignment))
    evaluation_request(assignment_ids=[assignment.pk], countdown=0)
    return assignment


@transaction.atomic
def assignment_update(*, actor, assignment: PolicyAssignment, **fields: Any) -> PolicyAssignment:
    """Change an assignment's parameters, effect, exclusions, message or name; its scope and definition stay."""
    ensure_permission(actor, Action.MANAGE_ACCESS, scope=assignment)
    assignment = PolicyAssignment.objects.select_for_update().get(pk=assignment.pk)
    unknown = set(fields) - EDITABLE - {"definition_key", "scope"}
    if unknown:
        raise ValidationError({"__all__": [f"Unknown fields: {', '.join(sorted(unknown))}."]})
    if fields.get("definition_key", assignment.definition_key) != assignment.definition_key:
        raise ValidationError({"definition_key": ["The definition of an assignment cannot change; assign anew."]})
    before = snapshot(assignment)
    for key in EDITABLE & set(fields):
        setattr(assignment, key, fields[key] if fields[key] is not None else getattr(assignment, key))
    _validate(assignment, actor)
    assignment.save()
    change_record_write(actor=actor, action="update", obj=assignment, before=before, after=snapshot(assignment))
    evaluation_request(assignment_ids=[assignment.pk], countdown=0)
    return assignment


@transaction.atomic
def assignment_delete(*, actor, assignment: PolicyAssignment) -> None:
    """Remove an assignment with its results and history."""
    ensure_permission(actor, Action.MANAGE_ACCESS, scope=assignment)
    change_record_write(actor=actor, action="unassign_policy", obj=assignment, before=snapshot(assignment))
    assignment.delete()


# Evaluation ------------------------------------------------------------------------------------------------------


def evaluation_request(*, assignment_ids: list[int] | None = None, countdown: int | None = None) -> None:
    """Queue an evaluation after the current transaction commits. Without ids it is debounced: a burst of changes
    sets one pending flag (a conditional update) and enqueues one evaluation `countdown` seconds later."""
    from policies.governance.tasks import evaluate_compliance

    if assignment_ids:
        transaction.on_commit(lambda: evaluate_compliance.apply_async(kwargs={"assignment_ids": assignment_ids}))
        return
    if not PolicyAssignment.objects.exclude(effect=Effect.DISABLED).exists():
        return
    delay = settings.BACKUPCENTER_COMPLIANCE_DEBOUNCE_SECONDS if countdown is None else countdown
    EvaluationRequest.objects.get_or_create(pk=1)
    claimed = EvaluationRequest.objects.filter(pk=1, pending=False).update(pending=True, requested_at=timezone.now())
    if claimed == 1:
        transaction.on_commit(lambda: evaluate_compliance.apply_async(kwargs={"debounced": True}, countdown=delay))


def assignment_evaluate(*, actor, assignment: PolicyAssignment) -> None:
    """On-demand evaluation ("trigger a scan") of one assignment: an operation, like discovery (operator and up)."""
    ensure_permission(actor, Action.OPERATE, scope=assignment)
    change_record_write(actor=actor, action="evaluate", obj=assignment, message="Compliance scan requested.")
    evaluation_request(assignment_ids=[assignment.pk])


def compliance_evaluate(*, assignment_ids: list[int] | None = None, debounced: bool = False) -> dict:
    """Run an evaluation (the task's body): the chosen assignments, or all; then automatic remediation."""
    from policies.governance import evaluation

    if debounced:
        EvaluationRequest.objects.filter(pk=1).update(pending=False, last_started=timezone.now())
    chosen = None if assignment_ids is None else PolicyAssignment.objects.filter(pk__in=assignment_ids)
    outcome = evaluation.evaluate(chosen)
    EvaluationRequest.objects.filter(pk=1).update(last_finished=timezone.now())
    auto = PolicyAssignment.objects.filter(auto_remediate=True, effect=Effect.DEPLOY_IF_NOT_EXISTS)
    if assignment_ids is not None:
        auto = auto.filter(pk__in=assignment_ids)
    for assignment in auto:
        new = assignment.results.filter(
            state=ComplianceState.NON_COMPLIANT, resource_id__in=_new_datasources(assignment)
        )
        running = assignment.remediations.filter(status__in=[RemediationStatus.QUEUED, RemediationStatus.IN_PROGRESS])
        if new.exists() and not running.exists():
            remediation_create(actor=SystemActor("auto-remediation"), assignment=assignment, automatic=True)
    return outcome


def _new_datasources(assignment: PolicyAssignment):
    from inventory.models import Datasource

    return Datasource.objects.filter(created__gte=assignment.created).values("pk")


# Remediation -----------------------------------------------------------------------------------------------------


@transaction.atomic
def remediation_create(*, actor, assignment: PolicyAssignment, automatic: bool = False) -> RemediationTask:
    """Start a remediation of a DeployIfNotExists assignment: its non-compliant datasources get backup configured."""
    ensure_permission(actor, Action.CHANGE, scope=assignment)
    if assignment.effect != Effect.DEPLOY_IF_NOT_EXISTS:
        raise DomainError("Only DeployIfNotExists assignments can be remediated.", code="not_remediable")
    if assignment.remediations.filter(status__in=[RemediationStatus.QUEUED, RemediationStatus.IN_PROGRESS]).exists():
        raise DomainError("A remediation of this assignment is already running.", code="remediation_running")
    task = RemediationTask.objects.create(
        assignment=assignment,
        tenant_id=assignment.tenant_id,
        subscription_id=assignment.subscription_id,
        resource_group_id=assignment.resource_group_id,
        automatic=automatic,
        requested_by=actor if getattr(actor, "pk", None) and not getattr(actor, "is_system", False) else None,
        requested_by_name=getattr(actor, "username", "") or str(actor),
    )
    change_record_write(actor=actor, action="remediate", obj=assignment, message=f"Remediation #{task.pk} started.")
    from policies.governance.tasks import run_remediation

    transaction.on_commit(lambda: run_remediation.delay(task.pk))
    return task


def remediation_run(task_id: int) -> RemediationTask | None:
    """Carry out a remediation (the task's body): re-evaluate, then configure backup of each non-compliant
    datasource as the system actor "remediation", recording each outcome. Claimed with a conditional update."""
    from inventory.models import Datasource
    from policies.governance import evaluation
    from policies.governance.choices import RemediationOutcome
    from policies.governance.models import RemediationResult
    from vaults.services import instance_create

    claimed = RemediationTask.objects.filter(pk=task_id, status=RemediationStatus.QUEUED).update(
        status=RemediationStatus.IN_PROGRESS, started=timezone.now()
    )
    if claimed != 1:
        return None
    task = RemediationTask.objects.select_related("assignment").get(pk=task_id)
    assignment = task.assignment
    evaluation.evaluate([assignment])
    params = clean_parameters(CONFIGURE_BACKUP, assignment.parameters)
    policy = policy_of(params)
    actor = SystemActor("remediation")
    ids = assignment.results.filter(state=ComplianceState.NON_COMPLIANT).values("resource_id")
    datasources = Datasource.objects.filter(pk__in=ids).order_by("name")
    succeeded = failed = 0
    results = []
    for datasource in datasources.iterator(chunk_size=500):
        outcome, message, instance = RemediationOutcome.PROTECTED, "", None
        if policy is None:
            outcome, message = RemediationOutcome.FAILED, "The assignment's backup policy no longer exists."
        else:
            try:
                instance = instance_create(actor=actor, datasource=datasource, vault=policy.vault, policy=policy)
                message = f"Protected in vault {policy.vault} with policy {policy}."
            except ValidationError as error:
                outcome, message = RemediationOutcome.FAILED, " ".join(error.messages)
            except DomainError as error:
                outcome, message = RemediationOutcome.FAILED, error.message
        succeeded += outcome == RemediationOutcome.PROTECTED
        failed += outcome == RemediationOutcome.FAILED
        results.append(
            RemediationResult(
                task=task,
                datasource=datasource,
                resource_name=datasource.name[:200],
                outcome=outcome,
                message=message,
                instance=instance,
            )
        )
    RemediationResult.objects.bulk_create(results, batch_size=1000)
    total = succeeded + failed
    if total == 0:
        status, message = RemediationStatus.SUCCEEDED, "Nothing to remediate: every datasource is compliant."
    elif failed == 0:
        status, message = RemediationStatus.SUCCEEDED, f"Configured backup of {succeeded} datasource(s)."
    elif succeeded:
        status, message = RemediationStatus.PARTIALLY_SUCCEEDED, f"{succeeded} protected, {failed} failed."
    else:
        status, message = RemediationStatus.FAILED, f"All {failed} datasource(s) failed."
    RemediationTask.objects.filter(pk=task.pk).update(
        status=status, ended=timezone.now(), total=total, succeeded=succeeded, failed=failed, message=message
    )
    change_record_write(
        actor=actor, action="remediation_finished", obj=assignment, message=f"Remediation #{task.pk}: {message}"
    )
    evaluation.evaluate([assignment])
    task.refresh_from_db()
    return task


def visible_assignment_q(user) -> Q:
    """Assignments a user may see: those at a scope they hold, or that judge a resource they can see."""
    from policies.governance.models import ComplianceResult

    visible = PolicyAssignment.objects.for_user(user).values("pk")
    judged = ComplianceResult.objects.for_user(user).values("assignment_id")
    return Q(pk__in=visible) | Q(pk__in=judged)
