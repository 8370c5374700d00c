"""API serializers of vaults, keys, backup instances and recovery points.

Repository passwords and backend credentials are never returned: `storage_env` is write-only, the sealed
columns of StorageLocation are not fields, and `storage` shows the repository location without credentials.
"""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import BaseSerializer, BriefSerializer, ScopedRelatedField
from inventory.models import Datasource, Location, ResourceGroup
from policies.models import BackupPolicy
from vaults.choices import Tier
from vaults.models import BackupInstance, EncryptionKey, RecoveryPoint, Vault

# `scheme://user:password@host/...` → `scheme://host/...` (rest-server and similar backends).
USERINFO = re.compile(r"(://)[^/@]*@")


def redact_repository(url: str) -> str:
    """A repository location safe to show: user info (`user:password@`) removed from backend URLs."""
    return USERINFO.sub(r"\1", url)


class EncryptionKeySerializer(BaseSerializer):
    resource_group = ScopedRelatedField(ResourceGroup)
    tenant = BriefSerializer(read_only=True)
    subscription = BriefSerializer(read_only=True)

    class Meta:
        model = EncryptionKey
        fields = [
            "id",
            "url",
            "display",
            "tenant",
            "subscription",
            "resource_group",
            "name",
            "current_version",
            "enabled",
            "created",
            "rotated",
        ]
        read_only_fields = ["current_version", "enabled", "rotated"]


class UsageSerializer(serializers.Serializer):
    bytes_standard = serializers.IntegerField()
    bytes_archive = serializers.IntegerField()
    bytes_rehydrated = serializers.IntegerField()
    bytes_total = serializers.IntegerField()
    instances = serializers.IntegerField()
    recovery_points = serializers.IntegerField()


class VaultSerializer(BaseSerializer):
    resource_group = ScopedRelatedField(ResourceGroup)
    location = serializers.PrimaryKeyRelatedField(queryset=Location.objects.all())
    tenant = BriefSerializer(read_only=True)
    subscription = BriefSerializer(read_only=True)
    encryption_key = ScopedRelatedField(EncryptionKey, action="view", required=False, allow_null=True)
    storage_url = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="Create only: the restic repository (a local path or a backend URL); a new folder under the "
        "vault root when empty.",
    )
    storage_env = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        write_only=True,
        required=False,
        help_text="Create only: backend credentials (e.g. AWS_ACCESS_KEY_ID); sealed, never returned.",
    )
    storage = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()

    class Meta:
        model = Vault
        fields = [
            "id",
            "url",
            "display",
            "tenant",
            "subscription",
            "resource_group",
            "location",
            "name",
            "redundancy",
            "redundancy_locked",
            "cross_region_restore",
            "soft_delete_state",
            "soft_delete_days",
            "immutability",
            "encryption",
            "encryption_key",
            "storage_url",
            "storage_env",
            "storage",
            "usage",
            "created",
        ]
        read_only_fields = ["redundancy_locked"]

    def get_storage(self, obj) -> str | None:
        """The primary repository's location (credentials removed)."""
        primary = next((s for s in obj.storage_locations.all() if s.role == "primary"), None)
        return redact_repository(primary.url) if primary else None

    @extend_schema_field(UsageSerializer)
    def get_usage(self, obj) -> dict:
        by_tier = {tier: getattr(obj, f"usage_{tier}", None) or 0 for tier in Tier.values}
        return {
            "bytes_standard": by_tier[Tier.STANDARD],
            "bytes_archive": by_tier[Tier.ARCHIVE],
            "bytes_rehydrated": by_tier[Tier.REHYDRATED],
            "bytes_total": sum(by_tier.values()),
            "instances": getattr(obj, "usage_instances", None) or 0,
            "recovery_points": getattr(obj, "usage_points", None) or 0,
        }

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            # The repository and the vault's place are fixed once created.
            for name in ("resource_group", "location", "storage_url", "storage_env"):
                data.pop(name, None)
        return data


class DatasourceBriefField(ScopedRelatedField):
    """A datasource: written as an id the user may view, read as a brief object with its kind."""

    def __init__(self, **kwargs):
        super().__init__(Datasource, action="view", **kwargs)

    def to_representation(self, value):
        return {**super().to_representation(value), "kind": value.kind}


class LatestPointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(allow_null=True)
    display = serializers.CharField()


class BackupInstanceSerializer(BaseSerializer):
    datasource = DatasourceBriefField()
    vault = ScopedRelatedField(Vault)
    policy = ScopedRelatedField(BackupPolicy, action="view", required=False, allow_null=True)
    selection = serializers.JSONField(
        required=False, help_text="Kind-specific; files: {excludes: [patterns]} added to the datasource's excludes."
    )
    tenant = BriefSerializer(read_only=True)
    subscription = BriefSerializer(read_only=True)
    resource_group = BriefSerializer(read_only=True)
    latest_recovery_point = serializers.SerializerMethodField()

    class Meta:
        model = BackupInstance
        fields = [
            "id",
            "url",
            "display",
            "tenant",
            "subscription",
            "resource_group",
            "datasource",
            "vault",
            "policy",
            "selection",
            "protection_state",
            "health",
            "last_backup_status",
            "last_backup_time",
            "latest_recovery_point",
            "created",
        ]
        read_only_fields = ["protection_state", "health", "last_backup_status", "last_backup_time"]
        # The service reports "already protected" with the vault it is protected in; no generic unique check.
        validators = []

    @extend_schema_field(LatestPointSerializer(allow_null=True))
    def get_latest_recovery_point(self, obj) -> dict | None:
        """The newest available point, from the annotations of the view's queryset (no query per row)."""
        point_id = getattr(obj, "latest_point_id", None)
        if point_id is None:
            return None
        point = RecoveryPoint(pk=point_id, created=obj.latest_point_created, snapshot_id=obj.latest_point_snapshot)
        return BriefSerializer(point, context=self.context).data


class RecoveryPointSerializer(BaseSerializer):
    instance = BriefSerializer(read_only=True)
    vault = BriefSerializer(read_only=True)

    class Meta:
        model = RecoveryPoint
        fields = [
            "id",
            "url",
            "display",
            "instance",
            "vault",
            "snapshot_id",
            "created",
            "size",
            "data_added",
            "file_count",
            "tier",
            "state",
            "on_demand",
            "retain_until",
            "expires_at",
        ]
        read_only_fields = fields


class BackupRequestSerializer(serializers.Serializer):
    retain_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Keep this on-demand recovery point until then (ISO 8601)."
    )


class ChangePolicyRequestSerializer(serializers.Serializer):
    policy = ScopedRelatedField(
        BackupPolicy, action="view", help_text="Another policy of the instance's vault for its datasource type."
    )


class RestoreRequestSerializer(serializers.Serializer):
    recovery_point = ScopedRelatedField(RecoveryPoint, action="view")
    target = serializers.JSONField(
        help_text="files: {location: original|alternate, path, include, conflict: fail|skip|overwrite}; "
        "postgresql: {mode: original|new|files, dbname, path, confirm_overwrite}; sqlite: {path, overwrite}. "
        "Alternate paths must lie inside the restore folders."
    )
