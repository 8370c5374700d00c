"""Admin base: saves and deletes go through services so the admin is never a back door."""

from django.contrib import admin, messages

from core.exceptions import DomainError
from core.models import ChangeRecord


class ServiceAdmin(admin.ModelAdmin):
    """A ModelAdmin whose writes call `service_create` / `service_update` / `service_delete`."""

    actions = None

    def save_model(self, request, obj, form, change):
        if change:
            self.service_update(request, type(obj).objects.get(pk=obj.pk), form)
        else:
            created = self.service_create(request, obj, form)
            obj.pk = created.pk

    def delete_model(self, request, obj):
        try:
            self.service_delete(request, obj)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def service_create(self, request, obj, form):
        raise NotImplementedError

    def service_update(self, request, obj, form):
        raise NotImplementedError

    def service_delete(self, request, obj):
        raise NotImplementedError


@admin.register(ChangeRecord)
class ChangeRecordAdmin(admin.ModelAdmin):
    list_display = ("time", "actor_name", "action", "object_type", "object_repr", "tenant")
    list_filter = ("action", "object_type")
    search_fields = ("object_repr", "actor_name")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
