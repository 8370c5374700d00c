"""Monitoring pages: jobs (list, detail with live progress polling, cancel, CSV export), alerts (list with bulk
state changes, detail), health events, Metrics, metric alert rules, action groups, alert processing rules and the
per-vault alert switches. Views load through `for_user` and write only through services."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from core.exceptions import DomainError, PermissionDenied
from core.permissions import has_permission
from core.views import ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectListView, get_scoped
from inventory.models import Subscription
from monitoring import alerts as alert_services
from monitoring import notifications, rules
from monitoring.charts import metric_figure, to_html
from monitoring.choices import AlertState, HealthMetric
from monitoring.filtersets import AlertFilterSet, HealthEventFilterSet, JobFilterSet
from monitoring.forms import ActionGroupForm, AlertProcessingRuleForm, MetricAlertRuleForm, MetricsForm
from monitoring.models import (
    ActionGroup,
    Alert,
    AlertProcessingRule,
    Delivery,
    HealthEvent,
    Job,
    MetricAlertRule,
    VaultAlertSettings,
)
from monitoring.selectors import SCOPE_PATHS, metric_series
from monitoring.services import job_cancel
from monitoring.tables import (
    ActionGroupTable,
    AlertProcessingRuleTable,
    AlertTable,
    DeliveryTable,
    HealthEventTable,
    JobTable,
    MetricAlertRuleTable,
)


class CappedPaginator(Paginator):
    """Counts at most CAP + 1 rows: an exact COUNT(*) over a million jobs costs more than the page itself."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        # django-tables2 hands over its rows; the queryset behind them is what can be counted in the database.
        queryset = getattr(getattr(self.object_list, "data", None), "data", None)
        if hasattr(queryset, "query"):
            return queryset.order_by()[: self.CAP + 1].count()
        return super().count

    @property
    def capped(self) -> bool:
        return self.count > self.CAP


class JobListView(ObjectListView):
    queryset = Job.objects.select_related("vault")
    filterset_class = JobFilterSet
    table_class = JobTable
    title = "Backup jobs"
    empty_hint = "Jobs appear when backups, restores and other operations run."
    template_name = "monitoring/job_list.html"

    def get_context(self, request) -> dict:
        from django.conf import settings

        return {**super().get_context(request), "retention_days": settings.BACKUPCENTER_JOB_RETENTION_DAYS}

    def get(self, request):
        queryset = self.get_queryset(request)
        filterset = self.filterset_class(request.GET or None, queryset=queryset, request=request)
        table = self.table_class(filterset.qs if filterset.is_bound else queryset)
        RequestConfig(request, paginate={"per_page": 25, "paginator_class": CappedPaginator}).configure(table)
        template = self.template_name
        if request.htmx and request.htmx.target == "table-container":
            template = f"{template}#table"
        return render(request, template, {**self.get_context(request), "filterset": filterset, "table": table})


@login_required
def job_detail(request, pk):
    job = get_scoped(Job, request.user, pk)
    context = {
        "job": job,
        "object": job,
        "title": f"Job #{job.pk}: {job.get_operation_display()} {job.subject}",
        "can_operate": has_permission(request.user, "operate", job),
    }
    if request.htmx and request.htmx.target == "job-progress":
        return render(request, "monitoring/job_detail.html#progress", context)
    return render(request, "monitoring/job_detail.html", context)


@login_required
@require_POST
def job_cancel_view(request, pk):
    job = get_scoped(Job, request.user, pk)
    try:
        job_cancel(actor=request.user, job=job)
        messages.info(request, f"Cancellation of job #{job.pk} requested.")
    except DomainError as error:
        messages.error(request, error.message)
    return HttpResponseRedirect(job.get_absolute_url())


class _Echo:
    def write(self, value):
        return value


@login_required
def job_export(request):
    """The filtered jobs as CSV, streamed row by row."""
    rows = JobFilterSet(
        request.GET, queryset=Job.objects.for_user(request.user).select_related("vault"), request=request
    ).qs
    writer = csv.writer(_Echo())
    header = [
        "id",
        "operation",
        "status",
        "subject",
        "datasource_kind",
        "vault",
        "created",
        "started",
        "ended",
        "bytes_done",
        "bytes_added",
        "error_code",
        "message",
        "actor",
    ]

    def stream():
        yield writer.writerow(header)
        for job in rows.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    job.pk,
                    job.operation,
                    job.status,
                    job.subject,
                    job.datasource_kind,
                    job.vault.name if job.vault else "",
                    job.created.isoformat(),
                    job.started.isoformat() if job.started else "",
                    job.ended.isoformat() if job.ended else "",
                    job.bytes_done,
                    job.bytes_added,
                    job.error_code,
                    job.message,
                    job.actor_name,
                ]
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="jobs.csv"'
    return response


# -- alerts ----------------------------------------------------------------------------------------------------------


class AlertListView(ObjectListView):
    queryset = Alert.objects.select_related("vault")
    filterset_class = AlertFilterSet
    table_class = AlertTable
    title = "Alerts"
    empty_hint = "Alerts fire when jobs fail, security settings change or a metric alert rule's condition holds."
    template_name = "monitoring/alert_list.html"


@login_required
def alert_detail(request, pk):
    alert = get_scoped(Alert, request.user, pk)
    deliveries = DeliveryTable(Delivery.objects.filter(alert=alert).select_related("action_group"), orderable=False)
    context = {
        "alert": alert,
        "object": alert,
        "title": f"Alert #{alert.pk}: {alert.name}",
        "can_operate": has_permission(request.user, "operate", alert),
        "deliveries": deliveries,
    }
    return render(request, "monitoring/alert_detail.html", context)


@login_required
@require_POST
def alert_state(request, pk):
    alert = get_scoped(Alert, request.user, pk)
    try:
        alert_services.alert_set_state(actor=request.user, alert=alert, state=request.POST.get("state", ""))
        messages.success(request, f"Alert #{alert.pk} is now {alert.get_state_display().lower()}.")
    except (DomainError, PermissionDenied) as error:
        messages.error(request, getattr(error, "message", None) or str(error))
    return HttpResponseRedirect(alert.get_absolute_url())


@login_required
@require_POST
def alert_bulk(request):
    """Change the state of the selected alerts; ids the user cannot see are ignored (404 semantics)."""
    state = request.POST.get("state", "")
    ids = [int(v) for v in request.POST.getlist("select") if v.isdigit()]
    selected = Alert.objects.for_user(request.user).filter(pk__in=ids)
    if state not in (AlertState.ACKNOWLEDGED, AlertState.CLOSED) or not ids:
        messages.error(request, "Select alerts and a new state.")
    else:
        changed, problems = alert_services.alerts_set_state(actor=request.user, alerts=selected, state=state)
        if changed:
            messages.success(request, f"{changed} alert(s) now {AlertState(state).label.lower()}.")
        for problem in problems[:5]:
            messages.error(request, problem)
    return HttpResponseRedirect(request.POST.get("next") or reverse("monitoring:alert_list"))


# -- health events and metrics ---------------------------------------------------------------------------------------


class HealthEventListView(ObjectListView):
    queryset = HealthEvent.objects.select_related("vault", "job")
    filterset_class = HealthEventFilterSet
    table_class = HealthEventTable
    title = "Backup and restore health events"
    empty_hint = "Every finished backup and restore emits a health event."


def _scope_selection(request) -> dict:
    return {key: [v for v in request.GET.getlist(key) if v] for key in SCOPE_PATHS}


@login_required
def metrics(request):
    """The Metrics page; the chart itself is a lazily loaded partial."""
    form = MetricsForm(request.GET or None)
    return render(request, "monitoring/metrics.html", {"title": "Metrics", "form": form})


@login_required
def metrics_chart(request):
    form = MetricsForm(request.GET or None)
    values = form.values()
    rows = metric_series(
        request.user,
        _scope_selection(request),
        metric=values["metric"],
        days=values["days"],
        hours=values["hours"],
        split_by=values["split_by"],
        statuses=values["statuses"],
    )
    title = f"{HealthMetric(values['metric']).label}, count per {values['hours']} h, last {values['days']} days"
    chart = to_html(metric_figure(rows, title=title)) if rows else ""
    return render(request, "monitoring/metrics.html#chart", {"chart": chart, "rows": rows})


# -- metric alert rules ------------------------------------------------------------------------------------------------


class MetricAlertRuleListView(ObjectListView):
    queryset = MetricAlertRule.objects.select_related("subscription")
    filterset_class = None
    table_class = MetricAlertRuleTable
    title = "Metric alert rules"
    add_url_name = "monitoring:metricalertrule_add"
    empty_hint = "Create a rule, or start from one of the sample templates."
    template_name = "monitoring/rule_list.html"

    def get(self, request):
        rows = self.get_queryset(request)
        table = MetricAlertRuleTable(rows)
        RequestConfig(request, paginate={"per_page": 25}).configure(table)
        subscriptions = Subscription.objects.for_user(request.user, "change").select_related("tenant")
        return render(
            request,
            self.template_name,
            {
                **self.get_context(request),
                "table": table,
                "templates": rules.TEMPLATES,
                "subscriptions": subscriptions,
            },
        )


class MetricAlertRuleDetailView(ObjectDetailView):
    model = MetricAlertRule

    def get_attributes(self, obj):
        return [
            ("Subscription", obj.subscription),
            ("Vault", obj.vault or "Every vault"),
            ("Condition", obj.condition),
            ("Split", obj.get_split_display()),
            ("Evaluated every", f"{obj.frequency_minutes} min"),
            ("Severity", obj.get_severity_display()),
            ("Stateful", "Yes (auto-resolves after 3 clean evaluations)" if obj.stateful else "No"),
            ("Enabled", "Yes" if obj.enabled else "No"),
            ("Action groups", ", ".join(str(g) for g in obj.action_groups.all()) or "—"),
            ("Last evaluated (UTC)", obj.last_evaluated_at),
            ("Next evaluation (UTC)", obj.next_evaluation_at),
        ]

    def get_extra_context(self, request, obj):
        alerts = AlertTable(obj.alerts.for_user(request.user)[:50], orderable=False, exclude=("select",))
        return {"related": [("Alerts of this rule", alerts)]}


class MetricAlertRuleEditView(ObjectEditView):
    model = MetricAlertRule
    form_class = MetricAlertRuleForm
    create_service = rules.metric_rule_create
    update_service = rules.metric_rule_update
    object_kwarg = "metric_alert_rule"


class MetricAlertRuleDeleteView(ObjectDeleteView):
    model = MetricAlertRule
    delete_service = rules.metric_rule_delete
    success_url_name = "monitoring:metricalertrule_list"
    object_kwarg = "metric_alert_rule"


@login_required
@require_POST
def metric_rule_template(request):
    """One click: create a sample rule in the chosen subscription."""
    subscription = get_scoped(Subscription, request.user, request.POST.get("subscription") or 0)
    try:
        rule = rules.metric_rule_from_template(
            actor=request.user, subscription=subscription, template=request.POST.get("template", "")
        )
    except PermissionDenied as error:
        messages.error(request, str(error))
        return redirect("monitoring:metricalertrule_list")
    except Exception as error:  # a ValidationError names the template
        messages.error(request, getattr(error, "messages", [str(error)])[0])
        return redirect("monitoring:metricalertrule_list")
    messages.success(request, f"Created rule “{rule}”.")
    return HttpResponseRedirect(rule.get_absolute_url())


# -- action groups and processing rules ----------------------------------------------------------------------------


class ActionGroupListView(ObjectListView):
    queryset = ActionGroup.objects.select_related("subscription")
    table_class = ActionGroupTable
    title = "Action groups"
    add_url_name = "monitoring:actiongroup_add"
    empty_hint = "An action group sends email and signed webhooks when alerts fire."
    template_name = "monitoring/simple_list.html"

    def get(self, request):
        table = self.table_class(self.get_queryset(request))
        RequestConfig(request, paginate={"per_page": 25}).configure(table)
        return render(request, self.template_name, {**self.get_context(request), "table": table})


class ActionGroupDetailView(ObjectDetailView):
    model = ActionGroup
    template_name = "monitoring/actiongroup_detail.html"

    def get_attributes(self, obj):
        return [
            ("Subscription", obj.subscription),
            ("Email", ", ".join(obj.emails) or "—"),
            ("Webhook", obj.webhook_url or "—"),
            ("Signature", "HMAC-SHA256 over “<timestamp>.<body>”, header X-BackupCenter-Signature"),
            ("Timeout", f"{obj.timeout_seconds} s"),
            ("Attempts", f"{obj.max_attempts} (exponential backoff)"),
            ("Enabled", "Yes" if obj.enabled else "No"),
        ]

    def get_extra_context(self, request, obj):
        deliveries = DeliveryTable(obj.deliveries.select_related("alert")[:50], orderable=False)
        can_change = has_permission(request.user, "change", obj)
        return {
            "deliveries": deliveries,
            "can_operate": has_permission(request.user, "operate", obj),
            "secret": notifications.action_group_secret(obj) if can_change and obj.webhook_url else "",
        }


class ActionGroupEditView(ObjectEditView):
    model = ActionGroup
    form_class = ActionGroupForm
    create_service = notifications.action_group_create
    update_service = notifications.action_group_update
    object_kwarg = "action_group"


class ActionGroupDeleteView(ObjectDeleteView):
    model = ActionGroup
    delete_service = notifications.action_group_delete
    success_url_name = "monitoring:actiongroup_list"
    object_kwarg = "action_group"


@login_required
@require_POST
def action_group_test(request, pk):
    group = get_scoped(ActionGroup, request.user, pk)
    try:
        deliveries = notifications.action_group_test(actor=request.user, action_group=group)
        messages.info(request, f"Test notification queued through {len(deliveries)} channel(s); see the log below.")
    except PermissionDenied as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(group.get_absolute_url())


class AlertProcessingRuleListView(ActionGroupListView):
    queryset = AlertProcessingRule.objects.select_related("subscription")
    table_class = AlertProcessingRuleTable
    title = "Alert processing rules"
    add_url_name = "monitoring:alertprocessingrule_add"
    empty_hint = "Suppress notifications during a maintenance window, or send matching alerts to action groups."


class AlertProcessingRuleEditView(ObjectEditView):
    model = AlertProcessingRule
    form_class = AlertProcessingRuleForm
    create_service = notifications.processing_rule_create
    update_service = notifications.processing_rule_update
    object_kwarg = "alert_processing_rule"


class AlertProcessingRuleDeleteView(ObjectDeleteView):
    model = AlertProcessingRule
    delete_service = notifications.processing_rule_delete
    success_url_name = "monitoring:alertprocessingrule_list"
    object_kwarg = "alert_processing_rule"


# -- per-vault alert switches ------------------------------------------------------------------------------------


@login_required
def alert_settings(request):
    """Built-in job failure alerts per vault (on by default); security alerts are always on."""
    from vaults.models import Vault

    vaults = Vault.objects.for_user(request.user).select_related("resource_group").order_by("name")
    off = set(VaultAlertSettings.objects.filter(job_failure_alerts=False).values_list("vault_id", flat=True))
    rows = [(v, v.pk not in off, has_permission(request.user, "change", v)) for v in vaults[:500]]
    return render(request, "monitoring/alert_settings.html", {"title": "Alert settings", "rows": rows})


@login_required
@require_POST
def alert_settings_update(request, vault_pk):
    from vaults.models import Vault

    vault = get_scoped(Vault, request.user, vault_pk)
    enabled = request.POST.get("job_failure_alerts") == "on"
    try:
        alert_services.vault_alert_settings_update(actor=request.user, vault=vault, job_failure_alerts=enabled)
        messages.success(request, f"Job failure alerts {'on' if enabled else 'off'} for {vault}.")
    except PermissionDenied as error:
        messages.error(request, str(error))
    return redirect("monitoring:alert_settings")


@login_required
def overview_health_chart(request):
    """The Overview's 14-day backup health chart, loaded lazily into the page."""
    from monitoring.charts import backup_health_figure
    from monitoring.selectors import health_by_day

    rows = health_by_day(request.user, _scope_selection(request), HealthMetric.BACKUP, days=14)
    chart = to_html(backup_health_figure(rows)) if rows else ""
    return render(request, "monitoring/metrics.html#chart", {"chart": chart, "rows": rows})
