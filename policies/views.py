"""Pages of backup policies: list, detail, the editor with its two live previews (HTMX), delete, and
auto-protection of a PostgreSQL server connector. Every write calls one service."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.exceptions import DomainError
from core.forms import apply_errors
from core.views import ObjectDetailView, ObjectEditView, ObjectListView, get_for_change, get_scoped
from inventory.choices import SUPPORTED_KINDS, DatasourceKind
from inventory.models import Connector
from policies import services
from policies.charts import retention_figure
from policies.filtersets import BackupPolicyFilterSet
from policies.forms import COMMON_ZONES, AutoProtectionForm, PolicyForm, PolicyRulesForm
from policies.models import AutoProtection, BackupPolicy
from policies.selectors import retention_preview, schedule_preview
from policies.tables import BackupPolicyTable, retention_summary, schedule_summary
from vaults.models import Vault
from vaults.tables import BackupInstanceTable


class PolicyListView(ObjectListView):
    queryset = BackupPolicy.objects.select_related("vault", "resource_group").annotate(
        instance_count=Count("instances")
    )
    filterset_class = BackupPolicyFilterSet
    table_class = BackupPolicyTable
    title = "Backup policies"
    add_url_name = "policies:policy_add"
    empty_hint = "A policy says when to back up and how long to keep recovery points. Add one above."


class PolicyDetailView(ObjectDetailView):
    model = BackupPolicy
    template_name = "policies/policy_detail.html"

    def get_attributes(self, obj):
        tiering = obj.tiering or {}
        return [
            ("Vault", obj.vault),
            ("Datasource type", obj.get_datasource_kind_display()),
            ("Schedule", schedule_summary(obj.schedule)),
            ("Retention", retention_summary(obj.retention)),
            (
                "Tiering",
                tiering.get("mode", "do_not_tier").replace("_", " ")
                + (f" ({tiering['after_days']} days)" if tiering.get("after_days") else ""),
            ),
        ]

    def get_extra_context(self, request, obj):
        instances = obj.instances.for_user(request.user).select_related("datasource", "vault", "policy")
        return {
            "related": [("Protected items", BackupInstanceTable(instances))],
            "runs": schedule_preview(obj.schedule_obj(), timezone.now()),
            "zone": obj.schedule.get("timezone"),
            "edit_url": reverse("policies:policy_edit", args=[obj.pk]),
            "delete_url": reverse("policies:policy_delete", args=[obj.pk]),
        }


def _chooser(request):
    """+ Policy: datasource type, then vault, then the editor (query parameters carry the choices)."""
    kind, vault = request.GET.get("kind"), request.GET.get("vault")
    if kind in SUPPORTED_KINDS and vault:
        return None
    context = {"title": "Create a backup policy", "kind": kind}
    if kind not in SUPPORTED_KINDS:
        context["kinds"] = [k for k in DatasourceKind if k in SUPPORTED_KINDS]
    else:
        context["kind_label"] = DatasourceKind(kind).label
        context["vaults"] = Vault.objects.for_user(request.user, "change").select_related("location")
    return render(request, "policies/policy_start.html", context)


class PolicyEditView(ObjectEditView):
    model = BackupPolicy
    form_class = PolicyForm
    template_name = "policies/policy_edit.html"
    create_service = services.policy_create
    update_service = services.policy_update
    object_kwarg = "policy"

    def get(self, request, pk=None):
        if pk is None:
            response = _chooser(request)
            if response is not None:
                return response
        return super().get(request, pk)

    def form_kwargs(self, request, obj):
        kwargs = super().form_kwargs(request, obj)
        if obj is None and request.method == "GET":
            kwargs["initial"] = {
                "datasource_kind": request.GET.get("kind"),
                "vault": request.GET.get("vault"),
                "frequency": "daily",
                "weekly_weekday": "6",
                "monthly_basis": "day",
                "yearly_basis": "day",
            }
        return kwargs

    def _render(self, request, form, obj):
        title = f"Edit backup policy: {obj}" if obj else "Create a backup policy"
        context = {"form": form, "object": obj, "title": title, "zones": COMMON_ZONES}
        return render(request, self.template_name, context)


class PolicyDeleteView(ObjectDetailView):
    """Delete confirmation; a policy in use is refused and the page names the instances using it."""

    model = BackupPolicy

    def get(self, request, pk):
        obj = get_for_change(BackupPolicy, request.user, pk, "delete")
        return render(request, "core/object_delete.html", {"object": obj, "title": f"Delete {obj}?"})

    def post(self, request, pk):
        obj = get_for_change(BackupPolicy, request.user, pk, "delete")
        try:
            services.policy_delete(actor=request.user, policy=obj)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return HttpResponseRedirect(obj.get_absolute_url())
        messages.success(request, f"Deleted policy {obj}.")
        return HttpResponseRedirect(reverse("policies:policy_list"))


def _rules_form(request) -> PolicyRulesForm:
    return PolicyRulesForm(request.POST)


@login_required
@require_POST
def preview_schedule(request):
    """Partial: the next 10 runs of the schedule being edited, in its zone and in UTC (or its errors)."""
    form = _rules_form(request)
    context = {"form": form, "runs": None}
    if form.is_valid():
        from policies.models import BackupPolicy as Policy

        schedule = Policy(schedule=form.stored[0]).schedule_obj()
        context["runs"] = schedule_preview(schedule, timezone.now())
        context["zone"] = schedule.timezone
    return render(request, "policies/_schedule_preview.html", context)


@login_required
@require_POST
def preview_retention(request):
    """Partial: which points of a simulated year of backups the rules being edited keep, as a timeline."""
    form = _rules_form(request)
    context = {"form": form, "preview": None}
    if form.is_valid():
        policy = BackupPolicy(schedule=form.stored[0], retention=form.stored[1])
        preview = retention_preview(policy.schedule_obj(), policy.retention_rules(), timezone.now())
        figure = retention_figure(preview, policy.schedule["timezone"])
        context.update(
            preview=preview,
            reasons=sorted(preview.count_by_reason().items()),
            chart=figure.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False}),
        )
    return render(request, "policies/_retention_preview.html", context)


# Auto-protection ------------------------------------------------------------------------------------------------


@login_required
def auto_protection(request, connector_pk: int):
    """Set or switch off "protect every database of this server" on a PostgreSQL server connector."""
    connector = get_scoped(Connector, request.user, connector_pk)
    intent = AutoProtection.objects.filter(connector=connector).select_related("policy", "vault").first()
    initial = {"policy": intent.policy_id, "exclude": "\n".join(intent.exclude)} if intent else None
    form = AutoProtectionForm(request.POST or None, user=request.user, connector=connector, initial=initial)
    if request.method == "POST":
        connector = get_scoped(Connector, request.user, connector_pk, "change")
        try:
            if "clear" in request.POST:
                services.auto_protection_clear(actor=request.user, connector=connector)
                messages.success(request, "Auto-protection switched off; protected databases stay protected.")
                return HttpResponseRedirect(connector.get_absolute_url())
            if form.is_valid():
                policy = form.cleaned_data["policy"]
                services.auto_protection_set(
                    actor=request.user,
                    connector=connector,
                    vault=policy.vault,
                    policy=policy,
                    exclude=form.cleaned_data["exclude"],
                )
                messages.success(request, f"Every database of {connector} is now protected with {policy}.")
                return HttpResponseRedirect(connector.get_absolute_url())
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
    context = {"title": f"Auto-protection of {connector}", "connector": connector, "intent": intent, "form": form}
    return render(request, "policies/auto_protection.html", context)
