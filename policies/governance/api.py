"""REST API of governance: /api/policies/definitions/, /api/policies/assignments/ (+ evaluate, remediate),
/api/policies/compliance/. Writes call the same services as the pages."""

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from core.api import BaseSerializer, BriefSerializer, ScopedViewSet
from policies.governance.choices import Effect
from policies.governance.definitions import DEFINITIONS, parameter_choices
from policies.governance.filtersets import AssignmentFilterSet, ResultFilterSet
from policies.governance.forms import SCOPE_MODELS
from policies.governance.models import ComplianceResult, PolicyAssignment, RemediationTask
from policies.governance.services import (
    assignment_create,
    assignment_delete,
    assignment_evaluate,
    assignment_update,
    remediation_create,
    visible_assignment_q,
)


def definition_data(d) -> dict:
    return {
        "key": d.key,
        "version": d.version,
        "name": d.name,
        "description": d.description,
        "resource_type": d.resource_type,
        "effects": list(d.effects),
        "default_effect": d.default_effect,
        "deny_actions": list(d.deny_actions),
        "reference": d.reference,
        "parameters": [
            {
                "name": p.name,
                "label": p.label,
                "type": p.kind,
                "default": p.default,
                "required": p.required,
                "minimum": p.minimum,
                "maximum": p.maximum,
                "choices": [c for c, _ in parameter_choices(p)],
            }
            for p in d.parameters
        ],
    }


class DefinitionViewSet(viewsets.ViewSet):
    """The built-in definitions (code-defined, read-only)."""

    lookup_field = "key"
    lookup_value_regex = "[a-z_]+"

    def list(self, request):
        return Response([definition_data(d) for d in DEFINITIONS.values()])

    def retrieve(self, request, key=None):
        if key not in DEFINITIONS:
            raise NotFound
        return Response(definition_data(DEFINITIONS[key]))


class AssignmentSerializer(BaseSerializer):
    tenant = BriefSerializer(read_only=True)
    subscription = BriefSerializer(read_only=True)
    resource_group = BriefSerializer(read_only=True)
    scope_type = serializers.ChoiceField(choices=list(SCOPE_MODELS), write_only=True, required=False)
    scope_id = serializers.IntegerField(write_only=True, required=False)
    definition_key = serializers.ChoiceField(choices=list(DEFINITIONS))
    effect = serializers.ChoiceField(choices=Effect.choices, required=False)

    class Meta:
        model = PolicyAssignment
        fields = [
            "id",
            "url",
            "display",
            "name",
            "description",
            "definition_key",
            "definition_version",
            "scope_level",
            "tenant",
            "subscription",
            "resource_group",
            "scope_type",
            "scope_id",
            "parameters",
            "effect",
            "excluded_scopes",
            "exempt_resources",
            "non_compliance_message",
            "auto_remediate",
            "created",
            "created_by_name",
            "last_evaluated_at",
        ]
        read_only_fields = ["definition_version", "scope_level", "created", "created_by_name", "last_evaluated_at"]
        extra_kwargs = {"name": {"required": False}}

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        scope_type, scope_id = data.pop("scope_type", None), data.pop("scope_id", None)
        if self.instance is None:
            if scope_type is None or scope_id is None:
                raise serializers.ValidationError({"scope_type": ["Give scope_type and scope_id."]})
            request = self.context["request"]
            scope = SCOPE_MODELS[scope_type].objects.for_user(request.user).filter(pk=scope_id).first()
            if scope is None:
                raise serializers.ValidationError({"scope_id": ["No such scope."]})
            data["scope"] = scope
        return data


class AssignmentViewSet(ScopedViewSet):
    queryset = PolicyAssignment.objects.select_related("tenant", "subscription", "resource_group")
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilterSet
    create_service = assignment_create
    update_service = assignment_update
    delete_service = assignment_delete
    object_kwarg = "assignment"

    def get_queryset(self):
        return self.queryset.filter(visible_assignment_q(self.request.user))

    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        assignment = self.get_object()
        assignment_evaluate(actor=request.user, assignment=assignment)
        return Response({"detail": "Evaluation queued."}, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def remediate(self, request, pk=None):
        task = remediation_create(actor=request.user, assignment=self.get_object())
        task.refresh_from_db()
        return Response(
            {"id": task.pk, "status": task.status, "succeeded": task.succeeded, "failed": task.failed},
            status=status.HTTP_202_ACCEPTED,
        )


class ComplianceSerializer(BaseSerializer):
    assignment = BriefSerializer(read_only=True)
    tenant = BriefSerializer(read_only=True)

    class Meta:
        model = ComplianceResult
        fields = [
            "id",
            "url",
            "display",
            "assignment",
            "resource_type",
            "resource_id",
            "resource_name",
            "tenant",
            "state",
            "reason",
            "state_since",
            "evaluated_at",
        ]


class ComplianceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Per (assignment, resource) compliance results the caller may see."""

    queryset = ComplianceResult.objects.select_related("assignment", "tenant")
    serializer_class = ComplianceSerializer
    filterset_class = ResultFilterSet

    def get_queryset(self):
        return self.queryset.for_user(self.request.user)


class RemediationSerializer(BaseSerializer):
    assignment = BriefSerializer(read_only=True)

    class Meta:
        model = RemediationTask
        fields = [
            "id",
            "url",
            "display",
            "assignment",
            "status",
            "automatic",
            "requested_by_name",
            "created",
            "started",
            "ended",
            "total",
            "succeeded",
            "failed",
            "message",
        ]


class RemediationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = RemediationTask.objects.select_related("assignment")
    serializer_class = RemediationSerializer

    def get_queryset(self):
        return self.queryset.for_user(self.request.user)
