"""The jobs table."""

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from core.tables import BadgeColumn, BaseTable
from monitoring.choices import JobStatus
from monitoring.models import Job


class JobTable(BaseTable):
    id = tables.Column(linkify=True, verbose_name="Job")
    subject = tables.Column(verbose_name="Datasource / item")
    datasource_kind = tables.Column(verbose_name="Datasource type")
    operation = tables.Column()
    status = BadgeColumn(JobStatus)
    created = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name="Start time (UTC)")
    duration = tables.Column(orderable=False, empty_values=())
    bytes_done = tables.Column(verbose_name="Data transferred")
    vault = tables.Column()
    actor_name = tables.Column(verbose_name="By")

    class Meta(BaseTable.Meta):
        model = Job
        fields = (
            "id",
            "subject",
            "datasource_kind",
            "operation",
            "status",
            "created",
            "duration",
            "bytes_done",
            "vault",
            "actor_name",
        )

    def render_id(self, value):
        return f"#{value}"

    def render_bytes_done(self, value):
        return filesizeformat(value)

    def render_duration(self, record):
        if record.duration is None:
            return format_html('<span class="text-secondary">{}</span>', "running" if record.is_active else "—")
        seconds = int(record.duration.total_seconds())
        return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
