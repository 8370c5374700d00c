"""Reads of governance that other apps' pages use."""

from django.db.models import QuerySet

from policies.governance.choices import ComplianceState, ResourceType
from policies.governance.definitions import BACKUP_REQUIRED_KEYS
from policies.governance.models import ComplianceResult


def backup_required_ids(user) -> QuerySet:
    """Datasource ids that a "backup should be enabled / configure backup" assignment finds non-compliant."""
    return (
        ComplianceResult.objects.for_user(user)
        .filter(
            assignment__definition_key__in=BACKUP_REQUIRED_KEYS,
            resource_type=ResourceType.DATASOURCE,
            state__in=(ComplianceState.NON_COMPLIANT, ComplianceState.CONFLICT),
        )
        .values("resource_id")
    )


def backup_required(request, datasources: QuerySet) -> tuple[QuerySet, dict]:
    """The Protectable datasources page's tie to governance: how many of the listed datasources policy assignments
    require to be backed up, and `?required=1` to list only those."""
    required = datasources.filter(pk__in=backup_required_ids(request.user))
    only = request.GET.get("required") == "1"
    return (required if only else datasources), {"required_count": required.count(), "only_required": only}
