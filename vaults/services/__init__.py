"""Every write to vaults and what they hold, split by sub-domain. Rules live here once; pages, the API,
the admin and tasks all call these functions (import them from `vaults.services`)."""

from vaults.services.guards import (
    access_request_approve,
    access_request_create,
    access_request_deny,
    guard_create,
    guard_update,
    vault_link_guard,
    vault_unlink_guard,
)
from vaults.services.instances import (
    instance_backup_now,
    instance_change_policy,
    instance_create,
    instance_resume_protection,
    instance_stop_protection,
)
from vaults.services.keys import key_create, key_rotate, key_set_enabled, repository_for
from vaults.services.restores import RESTORE_TARGET_KEYS, instance_restore, restore_roots
from vaults.services.soft_delete import (
    instance_undelete,
    purge_due_points,
    recovery_point_delete,
    recovery_point_undelete,
    warn_upcoming_purges,
)
from vaults.services.vault import REMOTE_BACKENDS, SOFT_DELETE_DAYS, vault_create, vault_delete, vault_update

__all__ = [
    "REMOTE_BACKENDS",
    "RESTORE_TARGET_KEYS",
    "SOFT_DELETE_DAYS",
    "access_request_approve",
    "access_request_create",
    "access_request_deny",
    "guard_create",
    "guard_update",
    "instance_backup_now",
    "instance_change_policy",
    "instance_create",
    "instance_restore",
    "instance_resume_protection",
    "instance_stop_protection",
    "instance_undelete",
    "key_create",
    "key_rotate",
    "key_set_enabled",
    "purge_due_points",
    "recovery_point_delete",
    "recovery_point_undelete",
    "repository_for",
    "restore_roots",
    "vault_create",
    "vault_delete",
    "vault_link_guard",
    "vault_unlink_guard",
    "vault_update",
    "warn_upcoming_purges",
]
