"""Filters of vault, key, backup instance and recovery point lists; the same classes back the API."""

import django_filters

from core.filtersets import ScopedFilterSet
from vaults.choices import (
    Encryption,
    Health,
    Immutability,
    PointState,
    Posture,
    ProtectionState,
    Redundancy,
    SoftDeleteState,
)
from vaults.models import BackupInstance, EncryptionKey, RecoveryPoint, Vault

NO_KIND = {"datasource_kind": None}


class VaultFilterSet(ScopedFilterSet):
    scope_paths = {**ScopedFilterSet.scope_paths, **NO_KIND}
    redundancy = django_filters.MultipleChoiceFilter(choices=Redundancy.choices)
    soft_delete_state = django_filters.MultipleChoiceFilter(choices=SoftDeleteState.choices, label="Soft delete")
    immutability = django_filters.MultipleChoiceFilter(choices=Immutability.choices)
    encryption = django_filters.MultipleChoiceFilter(choices=Encryption.choices)
    posture = django_filters.ChoiceFilter(choices=Posture.choices, method="filter_posture", label="Security level")

    class Meta:
        model = Vault
        fields = [
            "q",
            "tenant",
            "subscription",
            "resource_group",
            "location",
            "redundancy",
            "soft_delete_state",
            "immutability",
            "encryption",
        ]

    def filter_posture(self, queryset, name, value):
        from vaults.security import posture_q

        return queryset.filter(posture_q(value)) if value else queryset


class EncryptionKeyFilterSet(ScopedFilterSet):
    scope_paths = {**ScopedFilterSet.scope_paths, "location": None, **NO_KIND}
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = EncryptionKey
        fields = ["q", "tenant", "subscription", "resource_group", "enabled"]


class BackupInstanceFilterSet(ScopedFilterSet):
    search_fields = ("datasource__name", "vault__name", "policy__name")
    scope_paths = {**ScopedFilterSet.scope_paths, "location": "vault__location", "datasource_kind": "datasource__kind"}
    vault = django_filters.ModelMultipleChoiceFilter(queryset=lambda request: Vault.objects.for_user(request.user))
    protection_state = django_filters.MultipleChoiceFilter(choices=ProtectionState.choices)
    health = django_filters.MultipleChoiceFilter(choices=Health.choices)
    datasource = django_filters.NumberFilter(field_name="datasource_id")

    class Meta:
        model = BackupInstance
        fields = [
            "q",
            "tenant",
            "subscription",
            "resource_group",
            "location",
            "vault",
            "protection_state",
            "health",
            "datasource",
        ]


class RecoveryPointFilterSet(ScopedFilterSet):
    search_fields = ("snapshot_id", "instance__datasource__name")
    scope_paths = {
        **ScopedFilterSet.scope_paths,
        "location": "vault__location",
        "datasource_kind": "instance__datasource__kind",
    }
    instance = django_filters.NumberFilter(field_name="instance_id")
    vault = django_filters.NumberFilter(field_name="vault_id")
    state = django_filters.MultipleChoiceFilter(choices=PointState.choices)
    since = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lte")

    class Meta:
        model = RecoveryPoint
        fields = ["q", "tenant", "subscription", "resource_group", "instance", "vault", "state", "since", "until"]
