"""API of the security features: Resource Guards, access requests, soft delete and undelete, guard links and the
security posture of vaults.

The vault, backup instance and recovery point viewsets here extend those of `vaults.api.views` with their security
actions and fields; `vaults.api.urls` registers these. Every write calls the same service as the pages, so the
multi-user authorization check (`vaults.security.ensure_authorized`), immutability and soft delete rules apply
unchanged. A refusal for missing approval is a 403 `{"code": "mua_required", "detail": ...}`.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import BaseSerializer, BriefSerializer, ScopedRelatedField, ScopedViewSet
from inventory.models import Location, ResourceGroup
from vaults import services
from vaults.api import serializers as base
from vaults.api import views
from vaults.choices import MANDATORY_OPERATIONS, ProtectedOperation
from vaults.models import AccessRequest, ResourceGuard, Vault
from vaults.security import vault_posture
from vaults.security_views import AccessRequestFilterSet, GuardFilterSet

REFUSED = OpenApiResponse(description="Refused by a rule of the product: {code, detail}.")
MUA_REQUIRED = OpenApiResponse(
    description="`mua_required`: the vault's Resource Guard protects this operation and the caller holds no "
    "approved, unexpired access request for it; or the caller lacks the role."
)


def guarded_operations(guard: ResourceGuard) -> list[str]:
    """Every operation the guard protects, the mandatory ones included, in the order of ProtectedOperation."""
    return [op for op in ProtectedOperation.values if guard.guards(op)]


# Resource Guards ---------------------------------------------------------------------------------------------------


class ResourceGuardSerializer(BaseSerializer):
    resource_group = ScopedRelatedField(ResourceGroup, action="manage_guard")
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    tenant = BriefSerializer(read_only=True)
    subscription = BriefSerializer(read_only=True)
    protected_operations = serializers.ListField(
        child=serializers.ChoiceField(choices=ProtectedOperation.choices),
        required=False,
        help_text="Operations that need approved access. Disabling soft delete and removing MUA protection are "
        "always included, whatever is sent. Omitted on create: every optional operation except restore.",
    )
    mandatory_operations = serializers.SerializerMethodField()
    vaults = BriefSerializer(many=True, read_only=True)

    class Meta:
        model = ResourceGuard
        fields = [
            "id",
            "url",
            "display",
            "tenant",
            "subscription",
            "resource_group",
            "location",
            "name",
            "description",
            "protected_operations",
            "mandatory_operations",
            "vaults",
            "created",
        ]
        validators = []

    def get_mandatory_operations(self, obj) -> list[str]:
        return sorted(MANDATORY_OPERATIONS)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "protected_operations" in data:
            data["protected_operations"] = guarded_operations(instance)
        return data

    def validate(self, attrs):
        if self.instance is not None:
            fixed = {"resource_group": self.instance.resource_group, "location": self.instance.location}
            fixed["name"] = self.instance.name
            errors = {
                name: ["Fixed once the guard exists; create another guard instead."]
                for name, value in attrs.items()
                if name in fixed and value != fixed[name]
            }
            if errors:
                raise serializers.ValidationError(errors)
        return attrs

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            for name in ("resource_group", "location", "name"):
                data.pop(name, None)
        return data


class ResourceGuardViewSet(ScopedViewSet):
    """Resource Guards the caller may see. Security admins (manage_guard on the guard's scope) create and change
    them; there is no delete while vaults are linked, and none through the API."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    queryset = ResourceGuard.objects.select_related("tenant", "subscription", "resource_group", "location")
    serializer_class = ResourceGuardSerializer
    filterset_class = GuardFilterSet
    create_service = services.guard_create
    update_service = services.guard_update
    object_kwarg = "guard"

    def get_queryset(self):
        return super().get_queryset().prefetch_related("vaults")


# Access requests ---------------------------------------------------------------------------------------------------


class UserBriefSerializer(serializers.Serializer):
    def to_representation(self, instance):
        return {"id": instance.pk, "username": instance.get_username()}


class AccessRequestSerializer(BaseSerializer):
    vault = ScopedRelatedField(Vault, action="view")
    guard = BriefSerializer(read_only=True)
    operation = serializers.ChoiceField(
        choices=ProtectedOperation.choices,
        allow_blank=True,
        required=False,
        help_text="One protected operation; blank asks for every operation the guard protects for the duration.",
    )
    operation_display = serializers.SerializerMethodField()
    duration_hours = serializers.IntegerField(required=False, help_text="1 to 8 hours, counted from approval.")
    requester = UserBriefSerializer(read_only=True)
    approver = UserBriefSerializer(read_only=True)

    class Meta:
        model = AccessRequest
        fields = [
            "id",
            "url",
            "display",
            "vault",
            "guard",
            "operation",
            "operation_display",
            "justification",
            "duration_hours",
            "status",
            "requester",
            "approver",
            "decision_note",
            "created",
            "decided",
            "valid_until",
            "used",
        ]
        read_only_fields = ["status", "decision_note", "created", "decided", "valid_until", "used"]

    def get_operation_display(self, obj) -> str:
        return obj.get_operation_display() if obj.operation else "All protected operations (time window)"


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class AccessRequestViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Access requests: requesters see their own, security admins of a guard see and decide its requests."""

    queryset = AccessRequest.objects.select_related("vault", "guard", "requester", "approver")
    serializer_class = AccessRequestSerializer
    filterset_class = AccessRequestFilterSet

    def get_queryset(self):
        return self.queryset.for_user(self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["brief"] = self.request.query_params.get("brief") in {"1", "true", "True"}
        return context

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.access_request_create(
            actor=self.request.user,
            vault=data["vault"],
            operation=data.get("operation", ""),
            justification=data.get("justification", ""),
            duration_hours=data.get("duration_hours", 1),
        )

    def _decide(self, request, service) -> Response:
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = service(actor=request.user, request=self.get_object(), note=body.validated_data["note"])
        return Response(self.get_serializer(self.get_queryset().get(pk=decided.pk)).data)

    @extend_schema(request=DecisionSerializer, responses={200: AccessRequestSerializer, 403: REFUSED, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (a security admin of the guard other than the requester); access lasts the asked duration."""
        return self._decide(request, services.access_request_approve)

    @extend_schema(request=DecisionSerializer, responses={200: AccessRequestSerializer, 403: REFUSED, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def deny(self, request, pk=None):
        """Deny (a security admin of the guard other than the requester)."""
        return self._decide(request, services.access_request_deny)


# Vaults, backup instances and recovery points with their security actions ---------------------------------------


class VaultSerializer(base.VaultSerializer):
    """The vault with its Resource Guard and security level (what to change to reach the next level)."""

    resource_guard = BriefSerializer(read_only=True)
    security_level = serializers.SerializerMethodField()
    security_advice = serializers.SerializerMethodField()

    class Meta(base.VaultSerializer.Meta):
        fields = [*base.VaultSerializer.Meta.fields, "resource_guard", "security_level", "security_advice"]

    def get_security_level(self, obj) -> str:
        return vault_posture(obj).level

    def get_security_advice(self, obj) -> str:
        return vault_posture(obj).advice


class LinkGuardSerializer(serializers.Serializer):
    guard = ScopedRelatedField(ResourceGuard, action="view", help_text="A guard in the vault's location.")


class VaultViewSet(views.VaultViewSet):
    queryset = views.VaultViewSet.queryset.select_related("resource_guard")
    serializer_class = VaultSerializer

    def _vault_response(self, vault: Vault) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=vault.pk)).data)

    @extend_schema(request=LinkGuardSerializer, responses={200: VaultSerializer, 400: REFUSED, 409: REFUSED})
    @action(detail=True, methods=["post"], url_path="link-guard")
    def link_guard(self, request, pk=None):
        """Protect the vault with a Resource Guard in its location (multi-user authorization)."""
        vault = self.get_object()
        body = LinkGuardSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return self._vault_response(
            services.vault_link_guard(actor=request.user, vault=vault, guard=body.validated_data["guard"])
        )

    @extend_schema(request=None, responses={200: VaultSerializer, 403: MUA_REQUIRED, 409: REFUSED})
    @action(detail=True, methods=["post"], url_path="unlink-guard")
    def unlink_guard(self, request, pk=None):
        """Remove MUA protection; always needs an approved access request for `remove_mua`."""
        return self._vault_response(services.vault_unlink_guard(actor=request.user, vault=self.get_object()))


class StopProtectionSerializer(serializers.Serializer):
    delete_data = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: also delete the backup data (soft deleted for the vault's soft delete days, then purged).",
    )


class BackupInstanceViewSet(views.BackupInstanceViewSet):
    @extend_schema(
        request=StopProtectionSerializer,
        responses={200: base.BackupInstanceSerializer, 403: MUA_REQUIRED, 409: REFUSED},
    )
    @action(detail=True, methods=["post"], url_path="stop-protection")
    def stop_protection(self, request, pk=None):
        """Stop scheduled backups and keep every recovery point, or with `delete_data` soft delete them."""
        instance = self.get_object()
        body = StopProtectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._instance_response(
            services.instance_stop_protection(
                actor=request.user, instance=instance, delete_data=body.validated_data["delete_data"]
            )
        )

    @extend_schema(request=None, responses={200: base.BackupInstanceSerializer, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def undelete(self, request, pk=None):
        """Bring a soft-deleted instance back as "protection stopped, data retained"."""
        return self._instance_response(services.instance_undelete(actor=request.user, instance=self.get_object()))


class RecoveryPointSerializer(base.RecoveryPointSerializer):
    class Meta(base.RecoveryPointSerializer.Meta):
        fields = [*base.RecoveryPointSerializer.Meta.fields, "purge_after"]
        read_only_fields = fields


class RecoveryPointViewSet(mixins.DestroyModelMixin, views.RecoveryPointViewSet):
    serializer_class = RecoveryPointSerializer

    def _point_response(self, point) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=point.pk)).data, status=status.HTTP_200_OK)

    @extend_schema(responses={200: RecoveryPointSerializer, 403: MUA_REQUIRED, 409: REFUSED})
    def destroy(self, request, *args, **kwargs):
        """Delete the recovery point: soft deleted until the vault's window ends (at once without soft delete).
        Answers with the point in its new state."""
        return self._point_response(services.recovery_point_delete(actor=request.user, point=self.get_object()))

    @extend_schema(request=None, responses={200: RecoveryPointSerializer, 409: REFUSED})
    @action(detail=True, methods=["post"])
    def undelete(self, request, pk=None):
        """Bring back a soft-deleted recovery point before its purge."""
        return self._point_response(services.recovery_point_undelete(actor=request.user, point=self.get_object()))
