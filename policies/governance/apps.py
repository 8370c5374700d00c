from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """Its own app label, so its migrations never interleave with the backup policy app's."""

    name = "policies.governance"
    label = "governance"
    verbose_name = "Governance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from policies.governance import signals

        signals.connect()
