"""Pages of the security features: Resource Guards, access requests, guard links, soft delete actions."""

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.exceptions import DomainError
from core.filtersets import ScopedFilterSet
from core.forms import apply_errors
from core.permissions import has_permission
from core.tables import BadgeColumn, BaseTable
from core.views import ObjectDetailView, ObjectEditView, ObjectListView, get_scoped, render_list
from vaults import services
from vaults.choices import MANDATORY_OPERATIONS, AccessRequestStatus, ProtectedOperation
from vaults.forms import AccessRequestForm, DecisionForm, LinkGuardForm, ResourceGuardForm
from vaults.models import AccessRequest, BackupInstance, RecoveryPoint, ResourceGuard, Vault


class GuardFilterSet(ScopedFilterSet):
    scope_paths = {**ScopedFilterSet.scope_paths, "datasource_kind": None}

    class Meta:
        model = ResourceGuard
        fields = ["q", "tenant", "subscription", "resource_group", "location"]


class GuardTable(BaseTable):
    name = tables.Column(linkify=True)
    vaults = tables.Column(accessor="vaults__count", verbose_name="Vaults", orderable=False, empty_values=())

    class Meta(BaseTable.Meta):
        model = ResourceGuard
        fields = ("name", "resource_group", "subscription", "tenant", "location", "vaults")

    def render_vaults(self, record):
        return record.vaults.count()


class AccessRequestFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AccessRequestStatus.choices)
    mine = django_filters.BooleanFilter(method="filter_mine", label="Mine")
    to_approve = django_filters.BooleanFilter(method="filter_to_approve", label="To approve")

    class Meta:
        model = AccessRequest
        fields = ["status"]

    def filter_mine(self, queryset, name, value):
        return queryset.filter(requester=self.request.user) if value else queryset

    def filter_to_approve(self, queryset, name, value):
        if not value:
            return queryset
        guards = ResourceGuard.objects.for_user(self.request.user, "approve_access")
        return queryset.filter(guard__in=guards, status=AccessRequestStatus.PENDING).exclude(
            requester=self.request.user
        )


class AccessRequestTable(BaseTable):
    id = tables.Column(linkify=True, verbose_name="Request")
    operation = tables.Column(empty_values=())
    vault = tables.Column(linkify=True)
    guard = tables.Column(linkify=True, verbose_name="Resource Guard")
    requester = tables.Column()
    status = BadgeColumn(AccessRequestStatus)
    created = tables.DateTimeColumn(format="Y-m-d H:i")
    valid_until = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Valid until (UTC)")
    approver = tables.Column()

    class Meta(BaseTable.Meta):
        model = AccessRequest
        fields = ("id", "operation", "vault", "guard", "requester", "status", "created", "valid_until", "approver")

    def render_id(self, value):
        return f"#{value}"

    def render_operation(self, record):
        return record.get_operation_display() if record.operation else "All protected operations (time window)"


class GuardListView(ObjectListView):
    queryset = ResourceGuard.objects.select_related("resource_group", "subscription", "tenant", "location")
    filterset_class = GuardFilterSet
    table_class = GuardTable
    title = "Resource Guards"
    add_url_name = "vaults:guard_add"
    empty_hint = "A security admin creates a Resource Guard, ideally in another subscription than the vaults."


class GuardDetailView(ObjectDetailView):
    model = ResourceGuard
    change_action = "manage_guard"

    def get_attributes(self, obj):
        ops = [
            ProtectedOperation(op).label + (" (always)" if op in MANDATORY_OPERATIONS else "")
            for op in ProtectedOperation.values
            if obj.guards(op)
        ]
        return [
            ("Name", obj.name),
            ("Resource group", obj.resource_group),
            ("Tenant", obj.tenant),
            ("Location", obj.location),
            ("How to request access", obj.description or "—"),
            ("Protected operations", "; ".join(ops)),
            ("Vaults protected", ", ".join(v.name for v in obj.vaults.all()) or "none"),
        ]


class GuardEditView(ObjectEditView):
    model = ResourceGuard
    form_class = ResourceGuardForm
    create_service = services.guard_create
    update_service = services.guard_update
    object_kwarg = "guard"

    def get_object(self, request, pk):
        if pk is None:
            return None
        return get_scoped(ResourceGuard, request.user, pk, "manage_guard")


@login_required
def access_request_list(request):
    return render_list(
        request,
        queryset=AccessRequest.objects.for_user(request.user).select_related("vault", "guard", "requester", "approver"),
        filterset_class=AccessRequestFilterSet,
        table_class=AccessRequestTable,
        template="vaults/access_request_list.html",
        context={
            "title": "Access requests",
            "empty_hint": "Requests for protected operations on guarded vaults appear here.",
        },
    )


@login_required
def access_request_detail(request, pk):
    obj = AccessRequest.objects.for_user(request.user).select_related("vault", "guard", "requester").filter(pk=pk)
    obj = obj.first()
    if obj is None:
        raise Http404
    can_decide = (
        obj.status == AccessRequestStatus.PENDING
        and obj.requester_id != request.user.pk
        and has_permission(request.user, "approve_access", obj.guard)
    )
    return render(
        request,
        "vaults/access_request_detail.html",
        {"object": obj, "title": f"Access request #{obj.pk}", "can_decide": can_decide, "form": DecisionForm()},
    )


@login_required
@require_POST
def access_request_decide(request, pk, decision):
    if decision not in ("approve", "deny"):
        raise Http404
    obj = AccessRequest.objects.for_user(request.user).filter(pk=pk).first()
    if obj is None:
        raise Http404
    note = request.POST.get("note", "")
    try:
        service = services.access_request_approve if decision == "approve" else services.access_request_deny
        service(actor=request.user, request=obj, note=note)
        messages.success(request, f"Request #{obj.pk} {'approved' if decision == 'approve' else 'denied'}.")
    except DomainError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(reverse("vaults:accessrequest_detail", args=[obj.pk]))


@login_required
def access_request_create(request, vault_pk):
    vault = get_scoped(Vault, request.user, vault_pk)
    if vault.resource_guard is None:
        messages.info(request, f"Vault {vault} has no Resource Guard; nothing needs approval.")
        return HttpResponseRedirect(vault.get_absolute_url())
    form = AccessRequestForm(request.POST or None, vault=vault, initial={"operation": request.GET.get("operation")})
    if request.method == "POST" and form.is_valid():
        try:
            obj = services.access_request_create(actor=request.user, vault=vault, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Request #{obj.pk} sent to the security admins of {vault.resource_guard}.")
            return HttpResponseRedirect(reverse("vaults:accessrequest_detail", args=[obj.pk]))
    return render(
        request,
        "core/object_edit.html",
        {
            "form": form,
            "object": None,
            "title": f"Request access on vault {vault}",
            "intro": vault.resource_guard.description,
        },
    )


@login_required
def vault_guard(request, pk):
    """Link a Resource Guard to a vault (GET shows the choice), or unlink it (POST action=unlink)."""
    vault = get_scoped(Vault, request.user, pk, "change")
    form = LinkGuardForm(request.POST or None, user=request.user, vault=vault)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "unlink":
                services.vault_unlink_guard(actor=request.user, vault=vault)
                messages.success(request, f"Multi-user authorization removed from {vault}.")
                return HttpResponseRedirect(vault.get_absolute_url())
            if form.is_valid():
                services.vault_link_guard(actor=request.user, vault=vault, guard=form.cleaned_data["guard"])
                messages.success(request, f"Vault {vault} is now protected by {form.cleaned_data['guard']}.")
                return HttpResponseRedirect(vault.get_absolute_url())
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            _domain_message(request, error, vault)
            return HttpResponseRedirect(vault.get_absolute_url())
    return render(
        request,
        "core/object_edit.html",
        {"form": form, "object": vault, "title": f"Multi-user authorization for {vault}"},
    )


def _domain_message(request, error: DomainError, vault: Vault, operation: str = "") -> None:
    """Show a refused operation; for an MUA refusal, link straight to the access request form."""
    if error.code == "mua_required":
        url = reverse("vaults:accessrequest_add", args=[vault.pk]) + (f"?operation={operation}" if operation else "")
        messages.error(request, f"{error.message} Request access: {request.build_absolute_uri(url)}")
    else:
        messages.error(request, error.message)


@login_required
@require_POST
def instance_delete_data(request, pk):
    """Stop protection and delete its backup data (soft delete)."""
    instance = get_scoped(BackupInstance, request.user, pk)
    try:
        services.instance_stop_protection(actor=request.user, instance=instance, delete_data=True)
        messages.success(request, f"Backup data of {instance.datasource} is soft deleted.")
    except DomainError as error:
        _domain_message(request, error, instance.vault, ProtectedOperation.STOP_PROTECTION_DELETE_DATA)
    return HttpResponseRedirect(instance.get_absolute_url())


@login_required
@require_POST
def instance_undelete(request, pk):
    instance = get_scoped(BackupInstance, request.user, pk)
    try:
        services.instance_undelete(actor=request.user, instance=instance)
        messages.success(request, f"{instance.datasource} is undeleted: protection is stopped, data retained.")
    except DomainError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(instance.get_absolute_url())


@login_required
@require_POST
def recovery_point_delete(request, pk):
    point = get_scoped(RecoveryPoint, request.user, pk)
    try:
        services.recovery_point_delete(actor=request.user, point=point)
        messages.success(request, f"Recovery point {point} is soft deleted.")
    except DomainError as error:
        _domain_message(request, error, point.vault, ProtectedOperation.DELETE_RECOVERY_POINT)
    return HttpResponseRedirect(point.instance.get_absolute_url())
