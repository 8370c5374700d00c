"""The admin lists inventory for administrators; every change it makes goes through the services."""

from django.contrib import admin

from core.admin import ServiceAdmin
from inventory import services
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant


@admin.register(Tenant)
class TenantAdmin(ServiceAdmin):
    list_display = ("name", "description", "created")
    search_fields = ("name",)
    fields = ("name", "description")

    def service_create(self, request, obj, form):
        return services.tenant_create(actor=request.user, **form.cleaned_data)

    def service_update(self, request, obj, form):
        return services.tenant_update(actor=request.user, tenant=obj, **form.cleaned_data)

    def service_delete(self, request, obj):
        services.tenant_delete(actor=request.user, tenant=obj)


@admin.register(Location)
class LocationAdmin(ServiceAdmin):
    list_display = ("name", "display_name", "paired_region")
    fields = ("name", "display_name", "paired_region", "zones")

    def service_create(self, request, obj, form):
        return services.location_create(actor=request.user, **form.cleaned_data)

    def service_update(self, request, obj, form):
        return services.location_update(actor=request.user, location=obj, **form.cleaned_data)

    def service_delete(self, request, obj):
        services.location_delete(actor=request.user, location=obj)


@admin.register(Subscription, ResourceGroup, Connector, Datasource, RoleAssignment)
class ReadOnlyInventoryAdmin(admin.ModelAdmin):
    """Scoped inventory is changed in the console and the API, where roles and validation apply."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_exclude(self, request, obj=None):
        return ("secret",)
