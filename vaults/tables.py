"""Tables of vault, key, backup instance and recovery point lists."""

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat

from core.tables import BadgeColumn, BaseTable
from vaults.choices import Health, PointState, ProtectionState
from vaults.models import BackupInstance, EncryptionKey, RecoveryPoint, Vault


class VaultTable(BaseTable):
    name = tables.Column(linkify=True)
    redundancy = tables.Column()
    soft_delete_state = tables.Column(verbose_name="Soft delete")
    immutability = tables.Column()
    encryption = tables.Column()

    class Meta(BaseTable.Meta):
        model = Vault
        fields = (
            "name",
            "resource_group",
            "subscription",
            "tenant",
            "location",
            "redundancy",
            "soft_delete_state",
            "immutability",
            "encryption",
        )


class EncryptionKeyTable(BaseTable):
    name = tables.Column(linkify=True)
    current_version = tables.Column(verbose_name="Version")
    enabled = tables.BooleanColumn()

    class Meta(BaseTable.Meta):
        model = EncryptionKey
        fields = ("name", "resource_group", "subscription", "tenant", "current_version", "enabled", "rotated")


class BackupInstanceTable(BaseTable):
    datasource = tables.Column(linkify=lambda record: record.get_absolute_url(), verbose_name="Backup instance")
    kind = tables.Column(accessor="datasource__kind", verbose_name="Datasource type")
    vault = tables.Column(linkify=True)
    policy = tables.Column()
    protection_state = BadgeColumn(ProtectionState, verbose_name="Protection state")
    health = BadgeColumn(Health)
    last_backup_status = tables.Column(verbose_name="Last backup")
    last_backup_time = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Last backup time")
    actions = tables.TemplateColumn(template_name="vaults/_instance_actions.html", orderable=False, verbose_name="")

    class Meta(BaseTable.Meta):
        model = BackupInstance
        fields = (
            "datasource",
            "kind",
            "vault",
            "policy",
            "protection_state",
            "health",
            "last_backup_status",
            "last_backup_time",
            "actions",
        )


class RecoveryPointTable(BaseTable):
    created = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name="Time (UTC)")
    snapshot_id = tables.Column(verbose_name="Snapshot")
    size = tables.Column()
    data_added = tables.Column(verbose_name="Data added")
    file_count = tables.Column(verbose_name="Files")
    tier = tables.Column()
    state = BadgeColumn(PointState)
    expires_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Expires")
    actions = tables.TemplateColumn(template_name="vaults/_point_actions.html", orderable=False, verbose_name="")

    class Meta(BaseTable.Meta):
        model = RecoveryPoint
        fields = ("created", "snapshot_id", "size", "data_added", "file_count", "tier", "state", "expires_at")
        row_attrs = {"id": lambda record: f"rp-{record.pk}"}

    def render_snapshot_id(self, value):
        return value[:12]

    def render_size(self, value):
        return filesizeformat(value)

    def render_data_added(self, value):
        return filesizeformat(value)
