"""Governance rows: assignments of code-defined definitions to a scope, their per-resource compliance results,
the history of state changes, per-evaluation snapshots and remediation tasks."""

from django.conf import settings
from django.db import models
from django.urls import reverse

from core.querysets import ScopedManager
from core.roles import ScopeLevel
from policies.governance.choices import (
    ComplianceState,
    Effect,
    RemediationOutcome,
    RemediationStatus,
    ResourceType,
)

SCOPE = {"tenant": "tenant_id", "subscription": "subscription_id", "resource_group": "resource_group_id"}


class PolicyAssignment(models.Model):
    """A definition applied at a tenant, subscription or resource group, with parameter values and an effect.

    `excluded_scopes` lists child scopes left out of evaluation altogether (`{"level": "subscription" |
    "resource_group", "id": n}`); `exempt_resources` lists resource ids (of the definition's resource type) that
    are evaluated as *exempt*.
    """

    tenant = models.ForeignKey("inventory.Tenant", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        "inventory.Subscription", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    resource_group = models.ForeignKey(
        "inventory.ResourceGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scope_level = models.CharField(max_length=20, choices=ScopeLevel.choices[:3], editable=False)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    definition_key = models.CharField(max_length=60, db_index=True)
    definition_version = models.PositiveSmallIntegerField(default=1)
    parameters = models.JSONField(default=dict, blank=True)
    effect = models.CharField(max_length=24, choices=Effect.choices)
    excluded_scopes = models.JSONField(default=list, blank=True)
    exempt_resources = models.JSONField(default=list, blank=True)
    non_compliance_message = models.TextField(blank=True)
    auto_remediate = models.BooleanField(
        default=False, help_text="DeployIfNotExists: configure backup of new datasources automatically."
    )
    created = models.DateTimeField(auto_now_add=True)
    created_by_name = models.CharField(max_length=150, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()
    scope_fields = SCOPE

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["definition_key", "effect"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("governance:assignment_detail", args=[self.pk])

    @property
    def definition(self):
        from policies.governance.definitions import get_definition

        return get_definition(self.definition_key)

    @property
    def scope_object(self):
        return self.resource_group or self.subscription or self.tenant

    @property
    def scope_name(self) -> str:
        return f"{self.get_scope_level_display()} {self.scope_object}"

    @property
    def effect_colour(self) -> str:
        return Effect(self.effect).colour


class ComplianceResult(models.Model):
    """The latest state of one resource under one assignment. `state_since` is when it entered that state."""

    assignment = models.ForeignKey(PolicyAssignment, on_delete=models.CASCADE, related_name="results")
    resource_type = models.CharField(max_length=12, choices=ResourceType.choices)
    resource_id = models.BigIntegerField()
    resource_name = models.CharField(max_length=200, blank=True)
    tenant = models.ForeignKey("inventory.Tenant", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    resource_group = models.ForeignKey("inventory.ResourceGroup", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=ComplianceState.choices)
    reason = models.CharField(max_length=300, blank=True)
    evaluated_at = models.DateTimeField()
    state_since = models.DateTimeField()

    objects = ScopedManager()
    scope_fields = SCOPE

    class Meta:
        ordering = ["resource_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "resource_type", "resource_id"], name="one_result_per_resource"
            )
        ]
        indexes = [models.Index(fields=["assignment", "state"]), models.Index(fields=["tenant", "state"])]

    def __str__(self) -> str:
        return f"{self.resource_name}: {self.get_state_display()}"

    @property
    def state_colour(self) -> str:
        return ComplianceState(self.state).colour


class ComplianceChange(models.Model):
    """History: one row each time a resource's state under an assignment changes (or it is first evaluated)."""

    assignment = models.ForeignKey(PolicyAssignment, on_delete=models.CASCADE, related_name="changes")
    resource_type = models.CharField(max_length=12, choices=ResourceType.choices)
    resource_id = models.BigIntegerField()
    resource_name = models.CharField(max_length=200, blank=True)
    tenant = models.ForeignKey("inventory.Tenant", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey("inventory.Subscription", on_delete=models.CASCADE, related_name="+")
    resource_group = models.ForeignKey("inventory.ResourceGroup", on_delete=models.CASCADE, related_name="+")
    old_state = models.CharField(max_length=16, blank=True)
    new_state = models.CharField(max_length=16, choices=ComplianceState.choices)
    reason = models.CharField(max_length=300, blank=True)
    changed_at = models.DateTimeField(db_index=True)

    objects = ScopedManager()
    scope_fields = SCOPE

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["assignment", "resource_type", "resource_id", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.resource_name}: {self.old_state or '—'} → {self.new_state}"


class ComplianceSnapshot(models.Model):
    """Counts of one assignment's states after one evaluation: the compliance trend."""

    assignment = models.ForeignKey(PolicyAssignment, on_delete=models.CASCADE, related_name="snapshots")
    tenant = models.ForeignKey("inventory.Tenant", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        "inventory.Subscription", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    resource_group = models.ForeignKey(
        "inventory.ResourceGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    evaluated_at = models.DateTimeField(db_index=True)
    compliant = models.PositiveIntegerField(default=0)
    non_compliant = models.PositiveIntegerField(default=0)
    exempt = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    conflict = models.PositiveIntegerField(default=0)

    objects = ScopedManager()
    scope_fields = SCOPE

    class Meta:
        ordering = ["-evaluated_at"]

    def __str__(self) -> str:
        return f"{self.assignment_id} @ {self.evaluated_at:%Y-%m-%d %H:%M}"


class RemediationTask(models.Model):
    """A run that configures backup for the non-compliant datasources of a DeployIfNotExists assignment."""

    assignment = models.ForeignKey(PolicyAssignment, on_delete=models.CASCADE, related_name="remediations")
    tenant = models.ForeignKey("inventory.Tenant", on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        "inventory.Subscription", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    resource_group = models.ForeignKey(
        "inventory.ResourceGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=20, choices=RemediationStatus.choices, default=RemediationStatus.QUEUED)
    automatic = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)

    objects = ScopedManager()
    scope_fields = SCOPE

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"Remediation #{self.pk} of {self.assignment}"

    def get_absolute_url(self) -> str:
        return reverse("governance:remediation_detail", args=[self.pk])

    @property
    def status_colour(self) -> str:
        return RemediationStatus(self.status).colour


class RemediationResult(models.Model):
    """What a remediation did to one datasource."""

    task = models.ForeignKey(RemediationTask, on_delete=models.CASCADE, related_name="results")
    datasource = models.ForeignKey(
        "inventory.Datasource", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resource_name = models.CharField(max_length=200)
    outcome = models.CharField(max_length=12, choices=RemediationOutcome.choices)
    message = models.TextField(blank=True)
    instance = models.ForeignKey(
        "vaults.BackupInstance", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["resource_name", "id"]

    def __str__(self) -> str:
        return f"{self.resource_name}: {self.outcome}"

    @property
    def outcome_colour(self) -> str:
        return RemediationOutcome(self.outcome).colour


class EvaluationRequest(models.Model):
    """One row: whether a debounced evaluation is pending. Claimed with a conditional update so changes arriving
    in a burst enqueue one evaluation, not one each."""

    pending = models.BooleanField(default=False)
    requested_at = models.DateTimeField(null=True, blank=True)
    last_started = models.DateTimeField(null=True, blank=True)
    last_finished = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"evaluation pending={self.pending}"
