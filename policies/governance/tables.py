"""Tables of the governance and compliance pages."""

import django_tables2 as tables
from django.utils.html import format_html

from core.tables import BadgeColumn, BaseTable
from policies.governance.choices import ComplianceState, Effect, RemediationOutcome, RemediationStatus
from policies.governance.models import ComplianceResult, PolicyAssignment, RemediationResult, RemediationTask


class AssignmentTable(BaseTable):
    name = tables.Column(linkify=True)
    definition_key = tables.Column(verbose_name="Definition")
    scope = tables.Column(accessor="scope_name", orderable=False)
    effect = BadgeColumn(Effect)
    non_compliant = tables.Column(verbose_name="Non-compliant resources", orderable=True)
    compliant = tables.Column(verbose_name="Compliant")
    last_evaluated_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Evaluated (UTC)")

    class Meta(BaseTable.Meta):
        model = PolicyAssignment
        fields = ("name", "definition_key", "scope", "effect", "non_compliant", "compliant", "last_evaluated_at")

    def render_non_compliant(self, value, record):
        if not value:
            return format_html('<span class="text-success">{}</span>', 0)
        return format_html('<span class="badge text-bg-danger">{}</span>', value)


class ResultTable(BaseTable):
    resource_name = tables.Column(verbose_name="Resource")
    resource_type = tables.Column(verbose_name="Type")
    assignment = tables.Column(linkify=True)
    state = BadgeColumn(ComplianceState)
    reason = tables.Column()
    state_since = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="In this state since (UTC)")
    evaluated_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Evaluated (UTC)")

    class Meta(BaseTable.Meta):
        model = ComplianceResult
        fields = ("resource_name", "resource_type", "assignment", "state", "reason", "state_since", "evaluated_at")


class RemediationTable(BaseTable):
    id = tables.Column(linkify=True, verbose_name="Task")
    status = BadgeColumn(RemediationStatus)
    requested_by_name = tables.Column(verbose_name="By")
    created = tables.DateTimeColumn(format="Y-m-d H:i")
    succeeded = tables.Column()
    failed = tables.Column()
    message = tables.Column()

    class Meta(BaseTable.Meta):
        model = RemediationTask
        fields = ("id", "status", "requested_by_name", "created", "succeeded", "failed", "message")

    def render_id(self, value):
        return f"#{value}"


class RemediationResultTable(BaseTable):
    resource_name = tables.Column(verbose_name="Datasource")
    outcome = BadgeColumn(RemediationOutcome)
    message = tables.Column()
    instance = tables.Column(linkify=True, verbose_name="Backup instance")

    class Meta(BaseTable.Meta):
        model = RemediationResult
        fields = ("resource_name", "outcome", "message", "instance")
