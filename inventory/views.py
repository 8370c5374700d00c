"""Pages of the inventory: lists, details, forms and actions, all scoped to the user's roles."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from core.exceptions import DomainError
from core.views import ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectListView, get_scoped, render_list
from inventory import services
from inventory.filtersets import (
    ConnectorFilterSet,
    DatasourceFilterSet,
    LocationFilterSet,
    ResourceGroupFilterSet,
    RoleAssignmentFilterSet,
    SubscriptionFilterSet,
    TenantFilterSet,
)
from inventory.forms import (
    ConnectorForm,
    DatasourceForm,
    LocationForm,
    ResourceGroupForm,
    RoleAssignmentForm,
    SubscriptionForm,
    TenantForm,
)
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant
from inventory.selectors import protectable_datasources
from inventory.tables import (
    ConnectorTable,
    DatasourceTable,
    LocationTable,
    ProtectableTable,
    ResourceGroupTable,
    RoleAssignmentTable,
    SubscriptionTable,
    TenantTable,
)
from inventory.tasks import discover_connector


@login_required
def inventory_home(request):
    """The Inventory hub: counts of what the user can see, with links to each list."""
    counts = [
        ("Tenants", Tenant.objects.for_user(request.user).count(), "inventory:tenant_list"),
        ("Subscriptions", Subscription.objects.for_user(request.user).count(), "inventory:subscription_list"),
        ("Resource groups", ResourceGroup.objects.for_user(request.user).count(), "inventory:resourcegroup_list"),
        ("Locations", Location.objects.count(), "inventory:location_list"),
        ("Connectors", Connector.objects.for_user(request.user).count(), "inventory:connector_list"),
        ("Datasources", Datasource.objects.for_user(request.user).count(), "inventory:datasource_list"),
        ("Role assignments", RoleAssignment.objects.for_user(request.user).count(), "inventory:roleassignment_list"),
    ]
    return render(request, "inventory/home.html", {"title": "Inventory", "counts": counts})


# Tenants -----------------------------------------------------------------------------------------


class TenantListView(ObjectListView):
    queryset = Tenant.objects.all()
    filterset_class = TenantFilterSet
    table_class = TenantTable
    title = "Tenants"
    add_url_name = "inventory:tenant_add"
    empty_hint = "Administrators add tenants; you see the tenants where you hold a role."


class TenantDetailView(ObjectDetailView):
    model = Tenant

    def get_attributes(self, obj):
        return [("Name", obj.name), ("Description", obj.description or "—"), ("Created", obj.created)]

    def get_extra_context(self, request, obj):
        subs = Subscription.objects.for_user(request.user).filter(tenant=obj)
        return {"related": [("Subscriptions", SubscriptionTable(subs))]}


class TenantEditView(ObjectEditView):
    model = Tenant
    form_class = TenantForm
    create_service = services.tenant_create
    update_service = services.tenant_update


class TenantDeleteView(ObjectDeleteView):
    model = Tenant
    delete_service = services.tenant_delete
    success_url_name = "inventory:tenant_list"


# Subscriptions -----------------------------------------------------------------------------------


class SubscriptionListView(ObjectListView):
    queryset = Subscription.objects.select_related("tenant")
    filterset_class = SubscriptionFilterSet
    table_class = SubscriptionTable
    title = "Subscriptions"
    add_url_name = "inventory:subscription_add"
    empty_hint = "Add a subscription to a tenant where you are a contributor or owner."


class SubscriptionDetailView(ObjectDetailView):
    model = Subscription

    def get_attributes(self, obj):
        return [("Name", obj.name), ("Tenant", obj.tenant), ("Created", obj.created)]

    def get_extra_context(self, request, obj):
        groups = ResourceGroup.objects.for_user(request.user).filter(subscription=obj).select_related("tenant")
        return {"related": [("Resource groups", ResourceGroupTable(groups))]}


class SubscriptionEditView(ObjectEditView):
    model = Subscription
    form_class = SubscriptionForm
    create_service = services.subscription_create
    update_service = services.subscription_update


class SubscriptionDeleteView(ObjectDeleteView):
    model = Subscription
    delete_service = services.subscription_delete
    success_url_name = "inventory:subscription_list"


# Resource groups ---------------------------------------------------------------------------------


class ResourceGroupListView(ObjectListView):
    queryset = ResourceGroup.objects.select_related("subscription", "tenant")
    filterset_class = ResourceGroupFilterSet
    table_class = ResourceGroupTable
    title = "Resource groups"
    add_url_name = "inventory:resourcegroup_add"
    empty_hint = "Add a resource group to a subscription to hold datasources, connectors and vaults."


class ResourceGroupDetailView(ObjectDetailView):
    model = ResourceGroup

    def get_attributes(self, obj):
        return [("Name", obj.name), ("Subscription", obj.subscription), ("Tenant", obj.tenant)]

    def get_extra_context(self, request, obj):
        datasources = (
            Datasource.objects.for_user(request.user)
            .filter(resource_group=obj)
            .select_related("resource_group", "subscription", "tenant", "location")
        )
        return {"related": [("Datasources", DatasourceTable(datasources))]}


class ResourceGroupEditView(ObjectEditView):
    model = ResourceGroup
    form_class = ResourceGroupForm
    create_service = services.resource_group_create
    update_service = services.resource_group_update
    object_kwarg = "resource_group"


class ResourceGroupDeleteView(ObjectDeleteView):
    model = ResourceGroup
    delete_service = services.resource_group_delete
    success_url_name = "inventory:resourcegroup_list"
    object_kwarg = "resource_group"


# Locations ---------------------------------------------------------------------------------------


class LocationListView(ObjectListView):
    queryset = Location.objects.select_related("paired_region")
    filterset_class = LocationFilterSet
    table_class = LocationTable
    title = "Locations"
    add_url_name = "inventory:location_add"
    empty_hint = "Administrators add regions and pair them for geo-redundant copies."


class LocationDetailView(ObjectDetailView):
    model = Location

    def get_attributes(self, obj):
        return [
            ("Name", obj.name),
            ("Display name", obj.display_name or "—"),
            ("Paired region", obj.paired_region or "—"),
            ("Zones", ", ".join(obj.zones) or "—"),
        ]


class LocationEditView(ObjectEditView):
    model = Location
    form_class = LocationForm
    create_service = services.location_create
    update_service = services.location_update


class LocationDeleteView(ObjectDeleteView):
    model = Location
    delete_service = services.location_delete
    success_url_name = "inventory:location_list"


# Connectors --------------------------------------------------------------------------------------


class ConnectorListView(ObjectListView):
    queryset = Connector.objects.select_related("resource_group", "subscription", "tenant", "location")
    filterset_class = ConnectorFilterSet
    table_class = ConnectorTable
    title = "Connectors"
    add_url_name = "inventory:connector_add"
    empty_hint = "Add a host or PostgreSQL server connector; discovery then lists what it can protect."


class ConnectorDetailView(ObjectDetailView):
    model = Connector
    template_name = "inventory/connector_detail.html"

    def get_attributes(self, obj):
        s = obj.settings
        attrs = [
            ("Name", obj.name),
            ("Type", obj.get_kind_display()),
            ("Worker queue", obj.queue),
            ("Resource group", obj.resource_group),
            ("Location", obj.location),
        ]
        if obj.kind == "host":
            attrs.append(("Root paths", ", ".join(s.get("root_paths", []))))
        else:
            attrs += [
                ("Server", f"{s.get('host')}:{s.get('port')}"),
                ("User", s.get("user")),
                ("Password", "stored encrypted" if obj.secret else "none"),
                ("Excluded databases", ", ".join(s.get("exclude", [])) or "—"),
            ]
        attrs += [
            ("Discovery", obj.get_discovery_status_display()),
            ("Last discovery", obj.last_discovery or "never"),
            ("Result", obj.discovery_message or "—"),
        ]
        return attrs

    def get_extra_context(self, request, obj):
        datasources = obj.datasources.for_user(request.user).select_related(
            "resource_group", "subscription", "tenant", "location"
        )
        return {"related": [("Datasources found", DatasourceTable(datasources))]}


class ConnectorEditView(ObjectEditView):
    model = Connector
    form_class = ConnectorForm
    create_service = services.connector_create
    update_service = services.connector_update


class ConnectorDeleteView(ObjectDeleteView):
    model = Connector
    delete_service = services.connector_delete
    success_url_name = "inventory:connector_list"


@login_required
@require_POST
def connector_discover(request, pk):
    """Queue discovery for one connector now."""
    connector = get_scoped(Connector, request.user, pk, "operate")
    discover_connector.apply_async((connector.pk,), {"actor_id": request.user.pk}, queue=connector.queue)
    messages.info(request, f"Discovery of {connector} is queued; refresh in a moment to see what it found.")
    return HttpResponseRedirect(connector.get_absolute_url())


# Datasources -------------------------------------------------------------------------------------


class DatasourceListView(ObjectListView):
    queryset = Datasource.objects.select_related("resource_group", "subscription", "tenant", "location")
    filterset_class = DatasourceFilterSet
    table_class = DatasourceTable
    title = "Datasources"
    add_url_name = "inventory:datasource_add"
    empty_hint = "Add a datasource by hand, or add a connector and let discovery find them."


class DatasourceDetailView(ObjectDetailView):
    model = Datasource

    def get_attributes(self, obj):
        attrs = [
            ("Name", obj.name),
            ("Type", obj.get_kind_display()),
            ("Resource group", obj.resource_group),
            ("Subscription", obj.subscription),
            ("Tenant", obj.tenant),
            ("Location", obj.location),
            ("Worker queue", obj.queue),
        ]
        for key, value in obj.connection.items():
            attrs.append((f"Connection: {key}", ", ".join(value) if isinstance(value, list) else value))
        if obj.secret:
            attrs.append(("Connection secrets", "stored encrypted"))
        attrs += [
            ("Tags", ", ".join(f"{k}={v}" for k, v in obj.tags.items()) or "—"),
            ("Connector", obj.connector or "—"),
            ("Status", "found" if obj.exists else "datasource not found"),
            ("Last seen", obj.last_seen or "—"),
        ]
        return attrs


class DatasourceEditView(ObjectEditView):
    model = Datasource
    form_class = DatasourceForm
    create_service = services.datasource_create
    update_service = services.datasource_update


class DatasourceDeleteView(ObjectDeleteView):
    model = Datasource
    delete_service = services.datasource_delete
    success_url_name = "inventory:datasource_list"


@login_required
def protectable_list(request):
    """Datasources that exist and are not protected yet."""
    from policies.governance.selectors import backup_required

    queryset, governance = backup_required(request, protectable_datasources(request.user))
    return render_list(
        request,
        queryset=queryset,
        filterset_class=DatasourceFilterSet,
        table_class=ProtectableTable,
        template="inventory/protectable_list.html",
        context={
            "title": "Protectable datasources",
            "empty_hint": "Everything you can see is protected, or nothing has been discovered yet.",
            "governance": governance,
        },
    )


# Role assignments --------------------------------------------------------------------------------


class RoleAssignmentListView(ObjectListView):
    queryset = RoleAssignment.objects.select_related(
        "user", "group", "tenant", "subscription", "resource_group", "vault"
    )
    filterset_class = RoleAssignmentFilterSet
    table_class = RoleAssignmentTable
    title = "Role assignments"
    add_url_name = "inventory:roleassignment_add"
    empty_hint = "Owners give users and groups roles at a tenant, subscription, resource group or vault."


class RoleAssignmentDetailView(ObjectDetailView):
    model = RoleAssignment

    def get_attributes(self, obj):
        return [
            ("Principal", obj.principal_name),
            ("Role", obj.get_role_display()),
            ("Scope", obj.scope_name),
            ("Tenant", obj.tenant),
            ("Created", obj.created),
        ]


class RoleAssignmentEditView(ObjectEditView):
    model = RoleAssignment
    form_class = RoleAssignmentForm
    create_service = services.role_assignment_create


class RoleAssignmentDeleteView(ObjectDeleteView):
    model = RoleAssignment
    delete_service = services.role_assignment_delete
    success_url_name = "inventory:roleassignment_list"
    object_kwarg = "assignment"

    def get(self, request, pk):
        obj = get_scoped(RoleAssignment, request.user, pk, "manage_access")
        return render(request, self.template_name, {"object": obj, "title": f"Remove {obj}?"})

    def post(self, request, pk):
        obj = get_scoped(RoleAssignment, request.user, pk, "manage_access")
        try:
            services.role_assignment_delete(actor=request.user, assignment=obj)
        except DomainError as error:
            messages.error(request, error.message)
        return HttpResponseRedirect("/inventory/role-assignments/")
