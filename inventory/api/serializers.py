"""API serializers of the inventory. Connection secrets are write-only and never returned."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework import serializers

from core.api import BaseSerializer, BriefSerializer, ScopedRelatedField
from core.roles import ScopeLevel
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant


class TenantSerializer(BaseSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "url", "display", "name", "description", "created"]


class SubscriptionSerializer(BaseSerializer):
    tenant = ScopedRelatedField(Tenant)

    class Meta:
        model = Subscription
        fields = ["id", "url", "display", "tenant", "name", "created"]

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            data.pop("tenant", None)
        return data


class ResourceGroupSerializer(BaseSerializer):
    subscription = ScopedRelatedField(Subscription)
    tenant = BriefSerializer(read_only=True)

    class Meta:
        model = ResourceGroup
        fields = ["id", "url", "display", "tenant", "subscription", "name", "created"]

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            data.pop("subscription", None)
        return data


class LocationSerializer(BaseSerializer):
    paired_region = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Location
        fields = ["id", "url", "display", "name", "display_name", "paired_region", "zones"]


class ConnectorSerializer(BaseSerializer):
    resource_group = ScopedRelatedField(ResourceGroup)
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    tenant = BriefSerializer(read_only=True)
    subscription = BriefSerializer(read_only=True)
    settings = serializers.JSONField(
        help_text="Host: {root_paths}; PostgreSQL server: {host, port, user, password, "
        "sslmode, exclude}. The password is write-only."
    )
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = Connector
        fields = [
            "id",
            "url",
            "display",
            "tenant",
            "subscription",
            "resource_group",
            "location",
            "name",
            "kind",
            "host",
            "settings",
            "has_secret",
            "discovery_status",
            "discovery_message",
            "last_discovery",
            "created",
        ]
        read_only_fields = ["discovery_status", "discovery_message", "last_discovery"]

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secret)

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            data.pop("resource_group", None)
            data.pop("kind", None)
        return data


class DatasourceSerializer(BaseSerializer):
    resource_group = ScopedRelatedField(ResourceGroup)
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    tenant = BriefSerializer(read_only=True)
    subscription = BriefSerializer(read_only=True)
    connector = BriefSerializer(read_only=True)
    parent = ScopedRelatedField(Datasource, action="view", required=False, allow_null=True)
    connection = serializers.JSONField(
        help_text="Per kind: files {paths, excludes}; sqlite {path}; postgresql {host, port, dbname, user, password, "
        "sslmode}. Secret fields are write-only and never returned."
    )
    has_secret = serializers.SerializerMethodField()
    protected = serializers.SerializerMethodField()

    class Meta:
        model = Datasource
        fields = [
            "id",
            "url",
            "display",
            "tenant",
            "subscription",
            "resource_group",
            "location",
            "name",
            "kind",
            "host",
            "connection",
            "has_secret",
            "tags",
            "parent",
            "connector",
            "exists",
            "last_seen",
            "protected",
            "created",
        ]
        read_only_fields = ["exists", "last_seen"]

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secret)

    def get_protected(self, obj) -> bool:
        return (
            hasattr(obj, "backup_instances") and obj.backup_instances.exclude(protection_state="soft_deleted").exists()
        )

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            data.pop("resource_group", None)
            data.pop("kind", None)
        return data


class RoleAssignmentSerializer(BaseSerializer):
    user = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    group = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, allow_null=True
    )
    scope_level = serializers.ChoiceField(choices=ScopeLevel.choices)
    scope_id = serializers.IntegerField(
        write_only=True, help_text="Id of the tenant, subscription, resource group or vault named by scope_level."
    )
    scope = serializers.SerializerMethodField()

    class Meta:
        model = RoleAssignment
        fields = ["id", "url", "display", "user", "group", "role", "scope_level", "scope_id", "scope", "created"]

    def get_scope(self, obj) -> dict:
        return BriefSerializer(obj.scope_object, context=self.context).data

    def validate(self, attrs):
        from vaults.models import Vault

        model = {"tenant": Tenant, "subscription": Subscription, "resource_group": ResourceGroup, "vault": Vault}[
            attrs["scope_level"]
        ]
        request = self.context["request"]
        scope = model.objects.for_user(request.user, "manage_access").filter(pk=attrs["scope_id"]).first()
        if scope is None:
            raise serializers.ValidationError({"scope_id": ["You cannot assign roles at this scope."]})
        attrs["scope"] = scope
        return attrs

    def service_data(self) -> dict:
        d = self.validated_data
        return {"user": d.get("user"), "group": d.get("group"), "role": d["role"], "scope": d["scope"]}
