"""Tables of the backup policy list."""

import django_tables2 as tables

from core.tables import BaseTable
from policies.models import BackupPolicy


def schedule_summary(schedule: dict) -> str:
    zone = schedule.get("timezone", "UTC")
    if schedule.get("frequency") == "hourly":
        return (
            f"Every {schedule.get('interval_hours')} h from {schedule.get('window_start')} "
            f"for {schedule.get('window_hours')} h ({zone})"
        )
    times = ", ".join(schedule.get("times", []))
    if schedule.get("frequency") == "weekly":
        days = ", ".join(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d] for d in schedule.get("weekdays", []))
        return f"Weekly on {days} at {times} ({zone})"
    return f"Daily at {times} ({zone})"


def retention_summary(retention: dict) -> str:
    parts = []
    for key, unit in (
        ("daily_count", "days"),
        ("weekly_count", "weeks"),
        ("monthly_count", "months"),
        ("yearly_count", "years"),
    ):
        if retention.get(key):
            parts.append(f"{key.split('_')[0]} {retention[key]} {unit}")
    if retention.get("instant_restore_days"):
        parts.append(f"instant restore {retention['instant_restore_days']} days")
    return ", ".join(parts) or "—"


class BackupPolicyTable(BaseTable):
    name = tables.Column(linkify=True)
    vault = tables.Column(linkify=True)
    datasource_kind = tables.Column(verbose_name="Datasource type")
    schedule = tables.Column(orderable=False)
    retention = tables.Column(orderable=False)
    instance_count = tables.Column(verbose_name="Protected items", orderable=True)

    class Meta(BaseTable.Meta):
        model = BackupPolicy
        fields = ("name", "vault", "datasource_kind", "schedule", "retention", "instance_count", "resource_group")

    def render_schedule(self, value):
        return schedule_summary(value)

    def render_retention(self, value):
        return retention_summary(value)
