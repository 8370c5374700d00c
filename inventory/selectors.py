"""Reads of the inventory that more than one page or the API needs."""

from django.apps import apps
from django.db.models import QuerySet

from inventory.models import Datasource


def protected_datasource_ids() -> QuerySet:
    """Ids of datasources that a backup instance protects (a subquery; empty before vaults exist)."""
    try:
        instance = apps.get_model("vaults", "BackupInstance")
    except LookupError:
        return Datasource.objects.none().values("pk")
    return instance.objects.exclude(protection_state="soft_deleted").values("datasource_id")


def protectable_datasources(user) -> QuerySet:
    """Datasources the user can see that exist and no backup instance protects yet."""
    return (
        Datasource.objects.for_user(user, "view")
        .filter(exists=True)
        .exclude(pk__in=protected_datasource_ids())
        .select_related("resource_group", "subscription", "tenant", "location")
    )
