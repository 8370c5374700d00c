"""Generic page views shared by every app: list (FilterSet + Table + HTMX partial), detail, edit, delete.

Views load objects through `for_user` (out of scope → 404) and write only by calling a service.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View
from django_tables2 import RequestConfig

from core.exceptions import DomainError, PermissionDenied
from core.forms import apply_errors
from core.permissions import has_permission

TABLE_TARGET = "table-container"


def render_list(request, *, queryset, filterset_class, table_class, template: str, context: dict, per_page: int = 25):
    """Filter, sort and page a queryset; render the whole page or, for HTMX requests, the table partial."""
    filterset = filterset_class(request.GET or None, queryset=queryset, request=request)
    rows = filterset.qs if filterset.is_bound else queryset
    table = table_class(rows)
    RequestConfig(request, paginate={"per_page": per_page}).configure(table)
    if request.htmx and request.htmx.target == TABLE_TARGET:
        template = f"{template}#table"
    return render(request, template, {**context, "filterset": filterset, "table": table})


class ObjectListView(LoginRequiredMixin, View):
    queryset = None
    filterset_class = None
    table_class = None
    template_name = "core/object_list.html"
    title = ""
    add_url_name: str | None = None
    empty_hint = ""

    def get_queryset(self, request):
        manager = self.queryset
        if hasattr(manager, "for_user"):
            return manager.for_user(request.user, "view")
        return manager.all()

    def get_context(self, request) -> dict:
        return {
            "title": self.title,
            "add_url": reverse(self.add_url_name) if self.add_url_name else None,
            "empty_hint": self.empty_hint,
        }

    def get(self, request):
        return render_list(
            request,
            queryset=self.get_queryset(request),
            filterset_class=self.filterset_class,
            table_class=self.table_class,
            template=self.template_name,
            context=self.get_context(request),
        )


def get_scoped(model, user, pk, action: str = "view"):
    """One object the user may at least see, else 404 (never 403: that would leak existence)."""
    manager = model.objects
    queryset = manager.for_user(user, "view") if hasattr(manager, "for_user") else manager.all()
    obj = get_object_or_404(queryset, pk=pk)
    if action != "view" and hasattr(manager, "for_user") and not has_permission(user, action, obj):
        raise PermissionDenied(f"You do not have permission to {action} {obj}.")
    return obj


def get_for_change(model, user, pk, action: str):
    """Like `get_scoped` for edit and delete pages; rows without scope (e.g. locations) are for administrators."""
    if hasattr(model.objects, "for_user"):
        return get_scoped(model, user, pk, action)
    obj = get_scoped(model, user, pk)
    if not user.is_superuser:
        raise PermissionDenied("Only administrators can change this.")
    return obj


class ObjectDetailView(LoginRequiredMixin, View):
    model = None
    template_name = "core/object_detail.html"
    change_action = "change"

    def get_attributes(self, obj) -> list[tuple[str, Any]]:
        return []

    def get_extra_context(self, request, obj) -> dict:
        return {}

    def get(self, request, pk):
        obj = get_scoped(self.model, request.user, pk)
        meta = self.model._meta
        can_change = (
            has_permission(request.user, "change", obj) if hasattr(obj, "scope_fields") else (request.user.is_superuser)
        )
        context = {
            "object": obj,
            "title": f"{meta.verbose_name.capitalize()}: {obj}",
            "attributes": self.get_attributes(obj),
            "can_change": can_change,
            "edit_url": _url_or_none(f"{meta.app_label}:{meta.model_name}_edit", obj.pk),
            "delete_url": _url_or_none(f"{meta.app_label}:{meta.model_name}_delete", obj.pk),
            **self.get_extra_context(request, obj),
        }
        return render(request, self.template_name, context)


def _url_or_none(name: str, *args) -> str | None:
    from django.urls import NoReverseMatch

    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


class ObjectEditView(LoginRequiredMixin, View):
    """Create (no pk) or edit (pk) through a form whose cleaned data is handed to a service."""

    model = None
    form_class = None
    template_name = "core/object_edit.html"
    create_service: Callable | None = None
    update_service: Callable | None = None
    object_kwarg = ""

    def form_kwargs(self, request, obj) -> dict:
        return {"user": request.user, "instance": obj}

    def call_create(self, request, data: dict):
        return type(self).create_service(actor=request.user, **data)

    def call_update(self, request, obj, data: dict):
        return type(self).update_service(
            actor=request.user, **{self.object_kwarg or self.model._meta.model_name: obj}, **data
        )

    def get_object(self, request, pk):
        if pk is None:
            if type(self).create_service is None:
                raise Http404
            return None
        return get_for_change(self.model, request.user, pk, "change")

    def _render(self, request, form, obj):
        verbose = self.model._meta.verbose_name
        title = f"Edit {verbose}: {obj}" if obj else f"Add a {verbose}"
        return render(request, self.template_name, {"form": form, "object": obj, "title": title})

    def get(self, request, pk=None):
        obj = self.get_object(request, pk)
        return self._render(request, self.form_class(**self.form_kwargs(request, obj)), obj)

    def post(self, request, pk=None):
        obj = self.get_object(request, pk)
        form = self.form_class(request.POST, **self.form_kwargs(request, obj))
        if form.is_valid():
            try:
                result = (
                    self.call_update(request, obj, form.service_data())
                    if obj
                    else self.call_create(request, form.service_data())
                )
            except ValidationError as error:
                apply_errors(form, error)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Saved {self.model._meta.verbose_name} {result}.")
                return HttpResponseRedirect(result.get_absolute_url())
        return self._render(request, form, obj)


class ObjectDeleteView(LoginRequiredMixin, View):
    model = None
    delete_service: Callable | None = None
    success_url_name = ""
    object_kwarg = ""
    template_name = "core/object_delete.html"

    def get(self, request, pk):
        obj = get_for_change(self.model, request.user, pk, "delete")
        return render(request, self.template_name, {"object": obj, "title": f"Delete {obj}?"})

    def post(self, request, pk):
        obj = get_for_change(self.model, request.user, pk, "delete")
        try:
            type(self).delete_service(actor=request.user, **{self.object_kwarg or self.model._meta.model_name: obj})
        except DomainError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(obj.get_absolute_url())
        messages.success(request, f"Deleted {obj}.")
        return HttpResponseRedirect(reverse(self.success_url_name))
