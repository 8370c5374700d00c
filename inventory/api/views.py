"""API views of the inventory; writes call the same services as the pages."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from core.api import ScopedViewSet
from core.permissions import has_permission
from inventory import services
from inventory.api import serializers
from inventory.filtersets import (
    ConnectorFilterSet,
    DatasourceFilterSet,
    LocationFilterSet,
    ResourceGroupFilterSet,
    RoleAssignmentFilterSet,
    SubscriptionFilterSet,
    TenantFilterSet,
)
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant
from inventory.tasks import discover_connector
from policies.api.serializers import AutoProtectionSerializer


class TenantViewSet(ScopedViewSet):
    queryset = Tenant.objects.all()
    serializer_class = serializers.TenantSerializer
    filterset_class = TenantFilterSet
    create_service = services.tenant_create
    update_service = services.tenant_update
    delete_service = services.tenant_delete


class SubscriptionViewSet(ScopedViewSet):
    queryset = Subscription.objects.select_related("tenant")
    serializer_class = serializers.SubscriptionSerializer
    filterset_class = SubscriptionFilterSet
    create_service = services.subscription_create
    update_service = services.subscription_update
    delete_service = services.subscription_delete


class ResourceGroupViewSet(ScopedViewSet):
    queryset = ResourceGroup.objects.select_related("subscription", "tenant")
    serializer_class = serializers.ResourceGroupSerializer
    filterset_class = ResourceGroupFilterSet
    create_service = services.resource_group_create
    update_service = services.resource_group_update
    delete_service = services.resource_group_delete
    object_kwarg = "resource_group"


class LocationViewSet(ScopedViewSet):
    queryset = Location.objects.select_related("paired_region")
    serializer_class = serializers.LocationSerializer
    filterset_class = LocationFilterSet
    create_service = services.location_create
    update_service = services.location_update
    delete_service = services.location_delete


class ConnectorViewSet(ScopedViewSet):
    queryset = Connector.objects.select_related("resource_group", "subscription", "tenant", "location")
    serializer_class = serializers.ConnectorSerializer
    filterset_class = ConnectorFilterSet
    create_service = services.connector_create
    update_service = services.connector_update
    delete_service = services.connector_delete

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def discover(self, request, pk=None):
        """Queue discovery of this connector."""
        connector = self.get_object()
        if not has_permission(request.user, "operate", connector):
            raise PermissionDenied("You need the operator role or higher to run discovery.")
        discover_connector.apply_async((connector.pk,), {"actor_id": request.user.pk}, queue=connector.queue)
        return Response({"detail": "Discovery queued."}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=AutoProtectionSerializer, responses={200: AutoProtectionSerializer, 204: None})
    @action(detail=True, methods=["get", "put", "delete"], url_path="auto-protection")
    def auto_protection(self, request, pk=None):
        """Auto-protection of a PostgreSQL server: every database, now and later, with one policy (policies app)."""
        from policies import services as policy_services
        from policies.models import AutoProtection

        connector = self.get_object()
        if request.method == "DELETE":
            policy_services.auto_protection_clear(actor=request.user, connector=connector)
            return Response(status=status.HTTP_204_NO_CONTENT)
        if request.method == "PUT":
            body = AutoProtectionSerializer(data=request.data, context=self.get_serializer_context())
            body.is_valid(raise_exception=True)
            policy = body.validated_data["policy"]
            policy_services.auto_protection_set(
                actor=request.user,
                connector=connector,
                vault=policy.vault,
                policy=policy,
                exclude=body.validated_data.get("exclude"),
            )
        intent = AutoProtection.objects.filter(connector=connector).select_related("policy", "vault").first()
        if intent is None:
            return Response({"enabled": False})
        data = AutoProtectionSerializer(intent, context=self.get_serializer_context()).data
        return Response({"enabled": True, **data})


class DatasourceViewSet(ScopedViewSet):
    queryset = Datasource.objects.select_related(
        "resource_group", "subscription", "tenant", "location", "connector", "parent"
    )
    serializer_class = serializers.DatasourceSerializer
    filterset_class = DatasourceFilterSet
    create_service = services.datasource_create
    update_service = services.datasource_update
    delete_service = services.datasource_delete


class RoleAssignmentViewSet(
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = RoleAssignment.objects.select_related(
        "user", "group", "tenant", "subscription", "resource_group", "vault"
    )
    serializer_class = serializers.RoleAssignmentSerializer
    filterset_class = RoleAssignmentFilterSet

    def get_queryset(self):
        return self.queryset.for_user(self.request.user, "view")

    def perform_create(self, serializer):
        serializer.instance = services.role_assignment_create(actor=self.request.user, **serializer.service_data())

    def perform_destroy(self, instance):
        services.role_assignment_delete(actor=self.request.user, assignment=instance)
