"""Tables of the inventory lists."""

import django_tables2 as tables

from core.tables import BadgeColumn, BaseTable, BoolBadgeColumn
from inventory.choices import DiscoveryStatus
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant


class TenantTable(BaseTable):
    name = tables.Column(linkify=True)

    class Meta(BaseTable.Meta):
        model = Tenant
        fields = ("name", "description", "created")


class SubscriptionTable(BaseTable):
    name = tables.Column(linkify=True)
    tenant = tables.Column(linkify=True)

    class Meta(BaseTable.Meta):
        model = Subscription
        fields = ("name", "tenant", "created")


class ResourceGroupTable(BaseTable):
    name = tables.Column(linkify=True)
    subscription = tables.Column(linkify=True)
    tenant = tables.Column(linkify=True)

    class Meta(BaseTable.Meta):
        model = ResourceGroup
        fields = ("name", "subscription", "tenant", "created")


class LocationTable(BaseTable):
    name = tables.Column(linkify=True)
    paired_region = tables.Column(verbose_name="Paired region")
    zones = tables.Column(orderable=False)

    class Meta(BaseTable.Meta):
        model = Location
        fields = ("name", "display_name", "paired_region", "zones")

    def render_zones(self, value):
        return ", ".join(value) if value else "—"


class ConnectorTable(BaseTable):
    name = tables.Column(linkify=True)
    discovery_status = BadgeColumn(DiscoveryStatus, verbose_name="Discovery")

    class Meta(BaseTable.Meta):
        model = Connector
        fields = (
            "name",
            "kind",
            "host",
            "resource_group",
            "subscription",
            "tenant",
            "location",
            "discovery_status",
            "last_discovery",
        )


class DatasourceTable(BaseTable):
    name = tables.Column(linkify=True)
    kind = tables.Column(verbose_name="Type")
    exists = BoolBadgeColumn(yes="Found", no="Not found", verbose_name="Status")

    class Meta(BaseTable.Meta):
        model = Datasource
        fields = ("name", "kind", "resource_group", "subscription", "tenant", "location", "host", "exists", "last_seen")


class ProtectableTable(DatasourceTable):
    protect = tables.TemplateColumn(
        '<a class="btn btn-sm btn-outline-primary" href="{% url \'vaults:instance_add\' %}?datasource={{ record.pk }}">'
        "Configure backup</a>",
        orderable=False,
        verbose_name="",
    )

    class Meta(DatasourceTable.Meta):
        fields = (*DatasourceTable.Meta.fields, "protect")


class RoleAssignmentTable(BaseTable):
    principal = tables.Column(
        accessor="principal_name", orderable=False, linkify=lambda record: record.get_absolute_url()
    )
    role = tables.Column()
    scope = tables.Column(accessor="scope_name", orderable=False, verbose_name="Scope")
    tenant = tables.Column()

    class Meta(BaseTable.Meta):
        model = RoleAssignment
        fields = ("principal", "role", "scope", "tenant", "created")
