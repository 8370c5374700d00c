"""Changes that can move compliance — datasources, vaults, instances, policies, recovery points — request a
debounced evaluation. The receivers only set a flag; the evaluation runs later in a worker."""

from django.db.models.signals import post_delete, post_save

WATCHED = (
    "inventory.Datasource",
    "vaults.Vault",
    "vaults.BackupInstance",
    "policies.BackupPolicy",
    "vaults.RecoveryPoint",
)


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return
    from policies.governance.services import evaluation_request

    evaluation_request()


def connect() -> None:
    from django.apps import apps

    for label in WATCHED:
        model = apps.get_model(label)
        post_save.connect(_changed, sender=model, dispatch_uid=f"governance-{label}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"governance-{label}-delete")
