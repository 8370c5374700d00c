"""Pages of vaults, keys and backup instances: lists, the vault properties blade, + Backup, Backup now,
stop/resume protection and the restore wizard. Every write calls one service."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.exceptions import DomainError
from core.forms import apply_errors
from core.permissions import has_permission
from core.secrets import KeyUnavailable
from core.views import ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectListView, get_scoped
from monitoring.models import Job
from monitoring.tables import JobTable
from vaults import services
from vaults.choices import ProtectedOperation
from vaults.filtersets import BackupInstanceFilterSet, EncryptionKeyFilterSet, VaultFilterSet
from vaults.forms import (
    BackupNowForm,
    ChangePolicyForm,
    ConfigureBackupForm,
    EncryptionKeyForm,
    RestoreForm,
    VaultForm,
)
from vaults.models import BackupInstance, EncryptionKey, Vault
from vaults.security_views import _domain_message
from vaults.tables import BackupInstanceTable, EncryptionKeyTable, RecoveryPointTable, VaultTable

# Vaults ------------------------------------------------------------------------------------------


class VaultListView(ObjectListView):
    queryset = Vault.objects.select_related("resource_group", "subscription", "tenant", "location")
    filterset_class = VaultFilterSet
    table_class = VaultTable
    title = "Vaults"
    add_url_name = "vaults:vault_add"
    empty_hint = "Create a vault to hold recovery points: + Vault on Overview, or Add above."


class VaultDetailView(ObjectDetailView):
    model = Vault
    template_name = "vaults/vault_detail.html"

    def get_extra_context(self, request, obj):
        points = obj.recovery_points.exclude(state="deleted")
        usage = points.values("tier").annotate(bytes=Sum("data_added"), count=Count("id")).order_by("tier")
        instances = obj.instances.for_user(request.user).select_related("datasource", "vault", "policy")
        jobs = Job.objects.for_user(request.user).filter(vault=obj).select_related("vault")[:10]
        from vaults.security import vault_posture

        return {
            "posture": vault_posture(obj),
            "soft_deleted_count": obj.recovery_points.filter(state="soft_deleted").count(),
            "usage": list(usage),
            "usage_total": sum(row["bytes"] or 0 for row in usage),
            "storage": obj.storage_locations.all(),
            "instances_table": BackupInstanceTable(instances),
            "jobs_table": JobTable(jobs),
            "policies": obj.policies.all(),
        }


class VaultEditView(ObjectEditView):
    model = Vault
    form_class = VaultForm
    create_service = services.vault_create
    update_service = services.vault_update

    def call_create(self, request, data):
        try:
            return services.vault_create(actor=request.user, **data)
        except DomainError as error:
            raise ValidationError({"storage_url": [error.message]}) from None


class VaultDeleteView(ObjectDeleteView):
    model = Vault
    delete_service = services.vault_delete
    success_url_name = "vaults:vault_list"


# Keys --------------------------------------------------------------------------------------------


class KeyListView(ObjectListView):
    queryset = EncryptionKey.objects.select_related("resource_group", "subscription", "tenant")
    filterset_class = EncryptionKeyFilterSet
    table_class = EncryptionKeyTable
    title = "Customer-managed keys"
    add_url_name = "vaults:key_add"
    empty_hint = "Create a key, then choose it when you create a vault with customer-managed encryption."


class KeyDetailView(ObjectDetailView):
    model = EncryptionKey
    template_name = "vaults/key_detail.html"

    def get_attributes(self, obj):
        return [
            ("Name", obj.name),
            ("Resource group", obj.resource_group),
            ("Tenant", obj.tenant),
            ("Current version", obj.current_version),
            ("State", "enabled" if obj.enabled else "disabled"),
            ("Created", obj.created),
            ("Last rotated", obj.rotated or "never"),
            ("Vaults using it", ", ".join(v.name for v in obj.vaults.all()) or "none"),
        ]


class KeyEditView(ObjectEditView):
    model = EncryptionKey
    form_class = EncryptionKeyForm
    create_service = services.key_create


@login_required
@require_POST
def key_action(request, pk, action):
    if action not in ("rotate", "enable", "disable"):
        raise Http404
    key = get_scoped(EncryptionKey, request.user, pk, "change")
    try:
        if action == "rotate":
            job = services.key_rotate(actor=request.user, key=key)
            messages.success(request, job.message)
        else:
            services.key_set_enabled(actor=request.user, key=key, enabled=action == "enable")
            messages.success(request, f"Key {key} is {'enabled' if action == 'enable' else 'disabled'}.")
    except (DomainError, KeyUnavailable) as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(key.get_absolute_url())


# Backup instances --------------------------------------------------------------------------------


class InstanceListView(ObjectListView):
    queryset = BackupInstance.objects.select_related("datasource", "vault", "policy")
    filterset_class = BackupInstanceFilterSet
    table_class = BackupInstanceTable
    title = "Backup instances"
    add_url_name = "vaults:instance_add"
    empty_hint = "Protect a datasource with + Backup on Overview, or from Protectable datasources."


class InstanceDetailView(ObjectDetailView):
    model = BackupInstance
    template_name = "vaults/instance_detail.html"

    def get_attributes(self, obj):
        return [
            ("Datasource", obj.datasource),
            ("Datasource type", obj.datasource.get_kind_display()),
            ("Vault", obj.vault),
            ("Policy", obj.policy),
            ("Protection state", obj.get_protection_state_display()),
            ("Health", obj.get_health_display()),
            ("Last backup", obj.last_backup_status or "—"),
            ("Last backup time", obj.last_backup_time),
            ("Selection", obj.selection or "everything"),
        ]

    def get_extra_context(self, request, obj):
        points = obj.recovery_points.exclude(state="deleted")
        jobs = Job.objects.for_user(request.user).filter(instance=obj).select_related("vault")[:10]
        return {
            "points_table": RecoveryPointTable(points),
            "jobs_table": JobTable(jobs),
            "can_operate": has_permission(request.user, "operate", obj),
            "backup_form": BackupNowForm(),
            "policy_form": ChangePolicyForm(instance=obj),
        }


@login_required
def instance_add(request):
    """+ Backup: choose the datasource type, the datasource, the vault and the policy, then protect it."""
    initial = {k: request.GET.get(k) for k in ("kind", "datasource", "vault") if request.GET.get(k)}
    if "datasource" in initial and "kind" not in initial:
        from inventory.models import Datasource

        found = Datasource.objects.for_user(request.user).filter(pk=initial["datasource"]).first()
        if found:
            initial["kind"] = found.kind
    if request.method == "POST":
        form = ConfigureBackupForm(request.POST, user=request.user)
        if form.is_valid():
            d = form.cleaned_data
            excludes = [line.strip() for line in d.get("excludes", "").splitlines() if line.strip()]
            try:
                instance = services.instance_create(
                    actor=request.user,
                    datasource=d["datasource"],
                    vault=d["vault"],
                    policy=d["policy"],
                    selection={"excludes": excludes} if excludes else {},
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"{instance.datasource} is now protected in {instance.vault}.")
                return HttpResponseRedirect(instance.get_absolute_url())
    else:
        # HTMX refreshes of the wizard re-render it from the choices so far, without showing errors yet.
        if request.htmx:
            initial.update({k: v for k, v in request.GET.items() if k in ("kind", "datasource", "vault", "policy")})
        form = ConfigureBackupForm(initial=initial, user=request.user)
    return render(request, "vaults/instance_add.html", {"form": form, "title": "Configure backup"})


@login_required
@require_POST
def instance_backup(request, pk):
    """Backup now (optionally kept until a date)."""
    instance = get_scoped(BackupInstance, request.user, pk)
    form = BackupNowForm(request.POST)
    retain_until = form.cleaned_data.get("retain_until") if form.is_valid() else None
    try:
        job = services.instance_backup_now(actor=request.user, instance=instance, retain_until=retain_until)
    except (DomainError, ValidationError) as error:
        messages.error(request, getattr(error, "message", None) or "; ".join(error.messages))
        return HttpResponseRedirect(instance.get_absolute_url())
    messages.success(request, f"Backup of {instance.datasource} is queued as job #{job.pk}.")
    return HttpResponseRedirect(job.get_absolute_url())


@login_required
@require_POST
def instance_protection(request, pk, action):
    if action not in ("stop", "resume"):
        raise Http404
    instance = get_scoped(BackupInstance, request.user, pk)
    try:
        if action == "stop":
            services.instance_stop_protection(actor=request.user, instance=instance)
            messages.success(request, f"Protection of {instance.datasource} stopped; its recovery points are kept.")
        else:
            services.instance_resume_protection(actor=request.user, instance=instance)
            messages.success(request, f"Protection of {instance.datasource} resumed.")
    except DomainError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(instance.get_absolute_url())


@login_required
@require_POST
def instance_change_policy(request, pk):
    """Move the instance to another policy of its vault; a weaker one may need approved access or be refused."""
    instance = get_scoped(BackupInstance, request.user, pk, "change")
    form = ChangePolicyForm(request.POST, instance=instance)
    if not form.is_valid():
        messages.error(request, "; ".join(form.errors.get("policy", [])) or "Choose a policy.")
        return HttpResponseRedirect(instance.get_absolute_url())
    policy = form.cleaned_data["policy"]
    try:
        services.instance_change_policy(actor=request.user, instance=instance, policy=policy)
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    except DomainError as error:
        _domain_message(request, error, instance.vault, ProtectedOperation.MOVE_TO_WEAKER_POLICY)
    else:
        messages.success(request, f"{instance.datasource} is now protected with policy {policy}.")
    return HttpResponseRedirect(instance.get_absolute_url())


@login_required
def instance_restore(request, pk):
    """The restore wizard of one instance: recovery point, then the target for its kind."""
    instance = get_scoped(BackupInstance, request.user, pk, "operate")
    if request.method == "POST":
        form = RestoreForm(request.POST, instance=instance)
        if form.is_valid():
            try:
                job = services.instance_restore(
                    actor=request.user,
                    instance=instance,
                    recovery_point=form.cleaned_data["recovery_point"],
                    target=form.target(),
                )
            except ValidationError as error:
                apply_errors(form, error)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Restore queued as job #{job.pk}.")
                return HttpResponseRedirect(job.get_absolute_url())
    else:
        latest = instance.recovery_points.filter(state="available").order_by("-created").first()
        initial = {"recovery_point": request.GET.get("recovery_point") or (latest.pk if latest else None)}
        if instance.datasource.kind == "files":
            initial.update(location="alternate", conflict="fail")
        form = RestoreForm(initial=initial, instance=instance)
    roots = [str(p) for p in services.restore_roots()]
    return render(
        request,
        "vaults/instance_restore.html",
        {
            "form": form,
            "object": instance,
            "title": f"Restore {instance.datasource}",
            "roots": roots,
            "now": timezone.now(),
        },
    )


@login_required
def restore_start(request):
    """Restore from the action center: choose the backup instance first."""
    instances = BackupInstance.objects.for_user(request.user, "operate").select_related("datasource", "vault")
    kind = request.GET.get("kind")
    if kind:
        instances = instances.filter(datasource__kind=kind)
    return render(
        request,
        "vaults/restore_start.html",
        {"title": "Restore", "instances": instances.order_by("datasource__name"), "kind": kind},
    )
