"""Serializers of the policies API: the policy with its rules as stored, the preview requests, auto-protection."""

from rest_framework import serializers

from core.api import BaseSerializer, BriefSerializer, ScopedRelatedField
from inventory.choices import DatasourceKind
from policies.models import AutoProtection, BackupPolicy
from vaults.models import Vault


class BackupPolicySerializer(BaseSerializer):
    vault = ScopedRelatedField(Vault)
    schedule = serializers.JSONField(
        help_text="frequency, times / weekdays / interval_hours, window_start, window_hours, timezone (times as HH:MM)."
    )
    retention = serializers.JSONField(
        help_text="daily_count, weekly_count + weekly_weekday, monthly_count + "
        "monthly_day or monthly_week + monthly_weekday, yearly_…, instant_restore_days."
    )
    tiering = serializers.JSONField(
        required=False, help_text='{"mode": "do_not_tier" | "tier_after" | "tier_recommended", "after_days": N}'
    )
    instance_count = serializers.SerializerMethodField()

    class Meta:
        model = BackupPolicy
        fields = [
            "id",
            "url",
            "display",
            "vault",
            "name",
            "datasource_kind",
            "schedule",
            "retention",
            "tiering",
            "instance_count",
            "created",
        ]
        read_only_fields = ["created"]

    def get_instance_count(self, obj) -> int:
        annotated = getattr(obj, "n", None)
        return annotated if annotated is not None else obj.instances.count()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if isinstance(data.get("retention"), dict):
            data["retention"] = {k: v for k, v in data["retention"].items() if k != "timezone"}
        return data

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            # Unchanged fixed fields may be sent back as read; policy_update refuses only real changes.
            for key in ("vault", "datasource_kind"):
                if key in data and data[key] == getattr(self.instance, key):
                    del data[key]
        return data


class SchedulePreviewSerializer(serializers.Serializer):
    datasource_kind = serializers.ChoiceField(choices=DatasourceKind.choices, default=DatasourceKind.FILES)
    schedule = serializers.JSONField()
    count = serializers.IntegerField(default=10, min_value=1, max_value=100)


class RetentionPreviewSerializer(serializers.Serializer):
    datasource_kind = serializers.ChoiceField(choices=DatasourceKind.choices, default=DatasourceKind.FILES)
    schedule = serializers.JSONField()
    retention = serializers.JSONField()


class AutoProtectionSerializer(serializers.ModelSerializer):
    policy = ScopedRelatedField(BackupPolicy)
    vault = BriefSerializer(read_only=True)
    set_by_name = serializers.CharField(read_only=True)

    class Meta:
        model = AutoProtection
        fields = ["policy", "vault", "exclude", "set_by_name", "updated"]
        read_only_fields = ["updated"]
