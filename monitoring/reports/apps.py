from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Its own app label, so its migrations never interleave with the monitoring app's."""

    name = "monitoring.reports"
    label = "reports"
    verbose_name = "Backup reports"
    default_auto_field = "django.db.models.BigAutoField"
