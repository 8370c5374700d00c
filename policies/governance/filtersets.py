"""Filters of assignments and compliance results, shared by pages and the API."""

import django_filters

from core.filtersets import ScopedFilterSet
from policies.governance.choices import ComplianceState, Effect, ResourceType
from policies.governance.definitions import DEFINITIONS
from policies.governance.models import ComplianceResult, PolicyAssignment


class AssignmentFilterSet(ScopedFilterSet):
    search_fields = ("name", "description", "definition_key")
    definition_key = django_filters.ChoiceFilter(
        choices=[(k, d.name) for k, d in DEFINITIONS.items()], label="Definition"
    )
    effect = django_filters.MultipleChoiceFilter(choices=Effect.choices)
    scope_paths = {**ScopedFilterSet.scope_paths, "location": None, "datasource_kind": None}

    class Meta:
        model = PolicyAssignment
        fields = ["definition_key", "effect"]


class ResultFilterSet(ScopedFilterSet):
    search_fields = ("resource_name", "reason")
    state = django_filters.MultipleChoiceFilter(choices=ComplianceState.choices)
    resource_type = django_filters.MultipleChoiceFilter(choices=ResourceType.choices)
    assignment = django_filters.NumberFilter()
    definition = django_filters.ChoiceFilter(
        field_name="assignment__definition_key", choices=[(k, d.name) for k, d in DEFINITIONS.items()]
    )
    scope_paths = {**ScopedFilterSet.scope_paths, "location": None, "datasource_kind": None}

    class Meta:
        model = ComplianceResult
        fields = ["state", "resource_type", "assignment", "definition"]
