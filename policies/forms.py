"""The policy editor form: flat fields for the schedule, retention and tiering, checked by the services."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from core.forms import BootstrapMixin
from inventory.choices import SUPPORTED_KINDS, DatasourceKind
from policies.retention import WEEKS_OF_MONTH
from policies.schedule import HOURLY_INTERVALS
from policies.services import clean_policy_rules

WEEKDAYS = [
    (str(i), name)
    for i, name in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))
]
MONTHS = [
    (str(i), name)
    for i, name in enumerate(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        1,
    )
]
DAYS = [(str(d), str(d)) for d in range(1, 29)] + [("0", "Last")]
WEEKS = [(w, w.capitalize()) for w in WEEKS_OF_MONTH]
BASIS = [("day", "Day of the month"), ("week", "Weekday of the month")]
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
)


def _optional(choices):
    return [("", "—")] + list(choices)


class PolicyRulesForm(BootstrapMixin, forms.Form):
    """Schedule, retention and tiering fields; `rules()` gives the normalised JSON the policy stores."""

    datasource_kind = forms.ChoiceField(
        label="Datasource type", choices=[(k.value, k.label) for k in DatasourceKind if k in SUPPORTED_KINDS]
    )
    frequency = forms.ChoiceField(choices=[("daily", "Daily"), ("weekly", "Weekly"), ("hourly", "Hourly")])
    timezone = forms.CharField(label="Time zone", initial="UTC", help_text="An IANA name, e.g. Europe/Berlin.")
    times = forms.CharField(
        required=False,
        initial="02:00",
        label="Backup times",
        help_text="Daily and weekly: one or more times, HH:MM, separated by commas.",
    )
    weekdays = forms.MultipleChoiceField(
        required=False, choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple, label="Days of the week"
    )
    interval_hours = forms.CharField(
        required=False,
        initial="4",
        label="Every (hours)",
        widget=forms.Select(choices=[(str(h), str(h)) for h in HOURLY_INTERVALS]),
    )
    window_start = forms.CharField(
        required=False, initial="08:00", label="Window start", widget=forms.TimeInput(attrs={"type": "time"})
    )
    window_hours = forms.CharField(required=False, initial="24", label="Window duration (hours)")
    instant_restore_days = forms.CharField(required=False, initial="2", label="Instant restore (days)")
    daily_count = forms.CharField(required=False, initial="30", label="Daily points (days)")
    weekly_count = forms.CharField(required=False, initial="0", label="Weekly points (weeks)")
    weekly_weekday = forms.ChoiceField(required=False, choices=_optional(WEEKDAYS), label="Weekly point taken on")
    monthly_count = forms.CharField(required=False, initial="0", label="Monthly points (months)")
    monthly_basis = forms.ChoiceField(required=False, choices=BASIS, label="Monthly point taken on")
    monthly_day = forms.ChoiceField(required=False, choices=_optional(DAYS), label="Day of the month")
    monthly_week = forms.ChoiceField(required=False, choices=_optional(WEEKS), label="Week of the month")
    monthly_weekday = forms.ChoiceField(required=False, choices=_optional(WEEKDAYS), label="Weekday")
    yearly_count = forms.CharField(required=False, initial="0", label="Yearly points (years)")
    yearly_month = forms.ChoiceField(required=False, choices=_optional(MONTHS), label="Yearly point in")
    yearly_basis = forms.ChoiceField(required=False, choices=BASIS, label="Yearly point taken on")
    yearly_day = forms.ChoiceField(required=False, choices=_optional(DAYS), label="Day of the month")
    yearly_week = forms.ChoiceField(required=False, choices=_optional(WEEKS), label="Week of the month")
    yearly_weekday = forms.ChoiceField(required=False, choices=_optional(WEEKDAYS), label="Weekday")
    tiering_mode = forms.ChoiceField(
        required=False,
        label="Tiering",
        choices=[
            ("do_not_tier", "Do not tier"),
            ("tier_after", "Move to archive after N days"),
            ("tier_recommended", "Move recommended points to archive"),
        ],
    )
    tier_after_days = forms.CharField(required=False, label="Days before moving to archive")

    FIELD_OF = {"tiering.mode": "tiering_mode", "tiering.after_days": "tier_after_days"}

    def __init__(self, *args, **kwargs):
        kwargs.pop("user", None)
        super().__init__(*args, **kwargs)
        self.fields["timezone"].widget.attrs["list"] = "bc-zones"
        self.stored: tuple[dict, dict, dict] | None = None

    def _schedule_input(self, data: dict) -> dict:
        frequency = data.get("frequency")
        values = {"frequency": frequency, "timezone": (data.get("timezone") or "").strip()}
        if frequency == "hourly":
            values.update(
                interval_hours=data.get("interval_hours") or "",
                window_start=data.get("window_start") or "",
                window_hours=data.get("window_hours") or "",
            )
        else:
            values["times"] = data.get("times") or ""
            if frequency == "weekly":
                values["weekdays"] = data.get("weekdays") or []
        return values

    def _retention_input(self, data: dict) -> dict:
        values = {
            k: data.get(k)
            for k in (
                "instant_restore_days",
                "daily_count",
                "weekly_count",
                "weekly_weekday",
                "monthly_count",
                "yearly_count",
                "yearly_month",
            )
        }
        for prefix in ("monthly", "yearly"):
            if data.get(f"{prefix}_basis") == "week":
                values[f"{prefix}_week"] = data.get(f"{prefix}_week") or None
                values[f"{prefix}_weekday"] = data.get(f"{prefix}_weekday")
            else:
                values[f"{prefix}_day"] = data.get(f"{prefix}_day")
        for key in ("instant_restore_days", "daily_count", "weekly_count", "monthly_count", "yearly_count"):
            if values[key] in (None, ""):
                values[key] = "0"
        return values

    def clean(self):
        data = super().clean()
        tiering = {"mode": data.get("tiering_mode") or "do_not_tier", "after_days": data.get("tier_after_days")}
        try:
            self.stored = clean_policy_rules(
                datasource_kind=data.get("datasource_kind") or "",
                schedule=self._schedule_input(data),
                retention=self._retention_input(data),
                tiering=tiering,
            )
        except ValidationError as error:
            self.apply_rule_errors(error)
        return data

    def apply_rule_errors(self, error: ValidationError) -> None:
        """Put "schedule.times"-style keys from the services onto the matching form fields."""
        for key, messages in error.message_dict.items():
            name = self.FIELD_OF.get(key, key.split(".")[-1])
            if name.endswith("_day") and name not in self.fields:
                name = "monthly_day"
            self.add_error(name if name in self.fields else None, messages)

    def initial_from_policy(self, policy) -> dict:
        s, r, t = policy.schedule, policy.retention, policy.tiering or {}
        initial = {
            "datasource_kind": policy.datasource_kind,
            "frequency": s.get("frequency"),
            "timezone": s.get("timezone"),
            "times": ", ".join(s.get("times", [])) or "02:00",
            "weekdays": [str(d) for d in s.get("weekdays", [])],
            "interval_hours": str(s.get("interval_hours", 4)),
            "window_start": s.get("window_start", "08:00"),
            "window_hours": str(s.get("window_hours", 24)),
            "tiering_mode": t.get("mode", "do_not_tier"),
            "tier_after_days": t.get("after_days", ""),
        }
        for key, value in r.items():
            if key != "timezone" and value is not None:
                initial[key] = str(value)
        for prefix in ("monthly", "yearly"):
            initial[f"{prefix}_basis"] = "week" if r.get(f"{prefix}_week") else "day"
        return initial


class PolicyForm(PolicyRulesForm):
    """The whole editor: the rules plus the policy's vault and name (vault and type are fixed once created)."""

    vault = forms.ModelChoiceField(queryset=None)
    name = forms.CharField(max_length=80)

    field_order = ["vault", "datasource_kind", "name"]

    def __init__(self, *args, user=None, instance=None, **kwargs):
        from vaults.models import Vault

        self.instance = instance
        if instance is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                **self.initial_from_policy(instance),
                "name": instance.name,
                "vault": instance.vault_id,
            }
        super().__init__(*args, **kwargs)
        self.fields["vault"].queryset = Vault.objects.for_user(user, "change").order_by("name")
        if instance is not None:
            for name in ("vault", "datasource_kind"):
                self.fields[name].disabled = True
            self.fields["vault"].queryset = Vault.objects.filter(pk=instance.vault_id)
            self.initial.setdefault("vault", instance.vault_id)
            self.initial.setdefault("datasource_kind", instance.datasource_kind)

    def service_data(self) -> dict:
        schedule, retention, tiering = self.stored
        data = {
            "name": self.cleaned_data["name"],
            "schedule": schedule,
            "retention": {k: v for k, v in retention.items() if k != "timezone"},
            "tiering": tiering,
        }
        if self.instance is None:
            data.update(vault=self.cleaned_data["vault"], datasource_kind=self.cleaned_data["datasource_kind"])
        return data


class AutoProtectionForm(BootstrapMixin, forms.Form):
    """Auto-protection of a PostgreSQL server connector: a PostgreSQL policy of a vault, and names to leave out."""

    policy = forms.ModelChoiceField(
        queryset=None, label="Backup policy", help_text="PostgreSQL policies of vaults in the connector's location."
    )
    exclude = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Database names never protected automatically, one per line.",
    )

    def __init__(self, *args, user=None, connector=None, **kwargs):
        from policies.models import BackupPolicy

        super().__init__(*args, **kwargs)
        self.fields["policy"].queryset = (
            BackupPolicy.objects.for_user(user, "view")
            .filter(
                datasource_kind=DatasourceKind.POSTGRESQL,
                vault__location_id=connector.location_id,
                tenant_id=connector.tenant_id,
            )
            .select_related("vault")
        )
