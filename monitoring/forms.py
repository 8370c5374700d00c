"""Forms of the monitoring pages: metric alert rules, action groups, alert processing rules, the Metrics page."""

from django import forms

from core.forms import BootstrapMixin
from inventory.choices import DatasourceKind
from inventory.forms import ScopedForm
from inventory.models import Subscription
from monitoring.choices import (
    AlertCategory,
    HealthMetric,
    HealthStatus,
    Operator,
    ProcessingAction,
    RuleSplit,
    Severity,
)
from monitoring.models import ActionGroup
from vaults.models import Vault

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class _SubscriptionScoped(ScopedForm):
    """Create picks a subscription the user may change; edit keeps it."""

    subscription = forms.ModelChoiceField(queryset=Subscription.objects.none())
    edit_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subscription"].queryset = Subscription.objects.for_user(self.user, "change").select_related(
            "tenant"
        )
        self.fields["subscription"].label_from_instance = lambda s: f"{s.tenant} / {s}"
        self.fields["subscription"].widget.attrs["class"] = "form-select"
        subscription_ids = None
        if self.instance:
            del self.fields["subscription"]
            subscription_ids = [self.instance.subscription_id]
            if not self.is_bound:
                for name in self.fields:
                    value = getattr(self.instance, name, None)
                    if hasattr(value, "all"):
                        value = list(value.all())
                    self.initial[name] = value
        if "vault" in self.fields:
            vaults = Vault.objects.for_user(self.user, "view")
            self.fields["vault"].queryset = (
                vaults.filter(subscription_id__in=subscription_ids) if subscription_ids else vaults
            )
        if "action_groups" in self.fields:
            groups = ActionGroup.objects.for_user(self.user, "view")
            self.fields["action_groups"].queryset = (
                groups.filter(subscription_id__in=subscription_ids) if subscription_ids else groups
            )


class MetricAlertRuleForm(_SubscriptionScoped):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    vault = forms.ModelChoiceField(queryset=Vault.objects.none(), required=False, help_text="Empty = every vault.")
    metric = forms.ChoiceField(choices=HealthMetric.choices)
    health_statuses = forms.MultipleChoiceField(
        choices=HealthStatus.choices, required=False, help_text="Dimension filter; none selected = every status."
    )
    datasource_kinds = forms.MultipleChoiceField(
        choices=DatasourceKind.choices, required=False, label="Datasource types", help_text="None = every type."
    )
    split = forms.ChoiceField(choices=RuleSplit.choices, label="Split by")
    operator = forms.ChoiceField(choices=Operator.choices)
    threshold = forms.FloatField(initial=0)
    window_minutes = forms.IntegerField(initial=1440, min_value=1, label="Look-back window (minutes)")
    frequency_minutes = forms.IntegerField(initial=60, min_value=1, label="Evaluation frequency (minutes)")
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.SEV2)
    stateful = forms.BooleanField(
        required=False, initial=True, help_text="Fire once while the condition holds; resolve after 3 clean checks."
    )
    enabled = forms.BooleanField(required=False, initial=True)
    action_groups = forms.ModelMultipleChoiceField(queryset=ActionGroup.objects.none(), required=False)


class ActionGroupForm(_SubscriptionScoped):
    name = forms.CharField(max_length=80)
    emails = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="One address per line."
    )
    webhook_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Signs every webhook (HMAC-SHA256). Leave blank to keep the current one or to generate one.",
    )
    timeout_seconds = forms.IntegerField(initial=10, min_value=1, max_value=60)
    max_attempts = forms.IntegerField(initial=4, min_value=1, max_value=10, help_text="Retries back off exponentially.")
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and not self.is_bound:
            self.initial["emails"] = "\n".join(self.instance.emails)
            self.initial.pop("webhook_secret", None)

    def clean_emails(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["emails"].replace(",", "\n").splitlines() if line.strip()]


class AlertProcessingRuleForm(_SubscriptionScoped):
    name = forms.CharField(max_length=120)
    action = forms.ChoiceField(choices=ProcessingAction.choices)
    action_groups = forms.ModelMultipleChoiceField(
        queryset=ActionGroup.objects.none(), required=False, help_text="For “Apply action groups”."
    )
    vault = forms.ModelChoiceField(queryset=Vault.objects.none(), required=False, help_text="Empty = every vault.")
    severities = forms.MultipleChoiceField(choices=Severity.choices, required=False, help_text="None = every one.")
    categories = forms.MultipleChoiceField(choices=AlertCategory.choices, required=False, help_text="None = all.")
    starts_at = forms.DateTimeField(required=False, help_text="UTC, e.g. 2026-01-31 22:00. Empty = now.")
    ends_at = forms.DateTimeField(required=False, help_text="UTC. Empty = no end.")
    weekdays = forms.TypedMultipleChoiceField(choices=WEEKDAYS, coerce=int, required=False, help_text="Recurring.")
    daily_start = forms.TimeField(required=False, help_text="Recurring window, UTC (e.g. 22:00).")
    daily_end = forms.TimeField(required=False, help_text="May be past midnight (e.g. 02:00).")
    enabled = forms.BooleanField(required=False, initial=True)


RANGES = {"24h": 1, "7d": 7, "14d": 14, "30d": 30, "90d": 90}
GRANULARITIES = {"1h": 1, "6h": 6, "1d": 24}
SPLITS = [
    ("", "No split"),
    ("health_status", "Health status"),
    ("vault", "Vault"),
    ("datasource_kind", "Datasource type"),
    ("instance", "Backup instance (top 10)"),
]


class MetricsForm(BootstrapMixin, forms.Form):
    """What the Metrics chart shows."""

    metric = forms.ChoiceField(choices=HealthMetric.choices, initial=HealthMetric.BACKUP, required=False)
    aggregation = forms.ChoiceField(choices=[("count", "Count")], initial="count", required=False)
    range = forms.ChoiceField(choices=[(k, f"Last {k}") for k in RANGES], initial="7d", required=False)
    granularity = forms.ChoiceField(
        choices=[("1h", "1 hour"), ("6h", "6 hours"), ("1d", "1 day")], initial="1d", required=False
    )
    split_by = forms.ChoiceField(choices=SPLITS, required=False, label="Split by")
    health_status = forms.MultipleChoiceField(choices=HealthStatus.choices, required=False, label="Health status")

    def values(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "metric": data.get("metric") or HealthMetric.BACKUP,
            "days": RANGES.get(data.get("range") or "7d", 7),
            "hours": GRANULARITIES.get(data.get("granularity") or "1d", 24),
            "split_by": data.get("split_by") or "",
            "statuses": data.get("health_status") or [],
        }
