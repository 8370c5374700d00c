"""The guarded world of the security tests: a Resource Guard owned by sam (security admin on tenant contoso) in
rg-dev, and vaults of alice (contributor on prod) in rg-prod linked to it, each with a protected instance and a
recovery point. Rows are made directly where the service would only add a restic repository (fast); the guard,
links and access requests go through the services.

Access request states are built the way they happen: created by alice, decided by sam, expired by time travel,
used by the one check. The one state the services cannot produce (approved by the requester) is written directly.
"""

import secrets as pysecrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import time_machine
from django.conf import settings
from django.utils import timezone

from core import secrets
from core.permissions import SystemActor
from core.roles import Role
from inventory import services as inventory_services
from inventory.models import Datasource
from vaults import services
from vaults.choices import AccessRequestStatus, ProtectedOperation
from vaults.models import AccessRequest, BackupInstance, RecoveryPoint, ResourceGuard, StorageLocation, Vault

ALL_OPTIONAL = [op for op in ProtectedOperation.values if op not in ("disable_soft_delete", "remove_mua")]

# Request states of the matrix, and whether the operation is allowed in that state.
STATES = {
    "none": False,
    "pending": False,
    "approved_by_requester": False,
    "denied": False,
    "expired": False,
    "used": False,
    "approved_for_another_operation": False,
    "approved_for_another_vault": False,
    "approved": True,
    "approved_time_window": True,
}


def make_vault_row(estate, name: str | None = None, **fields) -> Vault:
    """A vault in rg-prod / west-europe with a sealed password and no restic repository behind it."""
    name = name or f"vault-{uuid.uuid4().hex[:8]}"
    vault = Vault(resource_group=estate.rg_prod, location=estate.west, name=name, **fields)
    vault.save()
    StorageLocation.objects.create(
        vault=vault,
        url=str(Path(settings.BACKUPCENTER_VAULT_ROOT) / f"{name}-{uuid.uuid4().hex}"),
        sealed_password=secrets.seal(pysecrets.token_hex(32)),
        region=estate.west.name,
    )
    return vault


def make_protected(estate, vault: Vault) -> tuple[BackupInstance, RecoveryPoint]:
    """A files datasource protected in `vault` (through the service) with one available recovery point."""
    folder = Path(settings.VAR_DIR) / "security-data" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    datasource = Datasource.objects.create(
        resource_group=estate.rg_prod,
        location=estate.west,
        kind="files",
        name=f"files-{uuid.uuid4().hex[:8]}",
        connection={"paths": [str(folder)]},
    )
    instance = services.instance_create(actor=estate.alice, datasource=datasource, vault=vault)
    point = RecoveryPoint.objects.create(
        instance=instance,
        snapshot_id=pysecrets.token_hex(32),
        created=timezone.now() - timedelta(hours=1),
        size=100,
        data_added=40,
    )
    return instance, point


def let_alice_read_guards(estate) -> None:
    """alice becomes reader on subscription dev, where sam keeps the guards: Azure asks a backup admin who links a
    guard to hold Reader on it."""
    from core.permissions import clear_grant_cache

    inventory_services.role_assignment_create(
        actor=SystemActor("test-setup"), role=Role.READER, scope=estate.dev, user=estate.alice
    )
    clear_grant_cache(estate.alice)


def make_guard(estate, operations: list[str] | None = None, *, name: str = "guard-contoso", location=None):
    """sam's guard in rg-dev (another subscription than the vaults), west-europe unless told."""
    return services.guard_create(
        actor=estate.sam,
        resource_group=estate.rg_dev,
        location=location or estate.west,
        name=name,
        description="Ask the security team in #sec-approvals.",
        protected_operations=ALL_OPTIONAL if operations is None else operations,
    )


@dataclass
class Guarded:
    """One guarded vault with what the operations of the matrix act on."""

    vault: Vault
    guard: ResourceGuard
    instance: BackupInstance
    point: RecoveryPoint


def guarded_vault(estate, guard: ResourceGuard, **fields) -> Guarded:
    vault = make_vault_row(estate, **fields)
    instance, point = make_protected(estate, vault)
    services.vault_link_guard(actor=estate.alice, vault=vault, guard=guard)
    vault.refresh_from_db()
    return Guarded(vault=vault, guard=guard, instance=instance, point=point)


def other_operation(operation: str) -> str:
    return ProtectedOperation.REMOVE_MUA if operation != ProtectedOperation.REMOVE_MUA else "disable_soft_delete"


def put_request_in_state(estate, world: Guarded, operation: str, state: str, requester=None) -> AccessRequest | None:
    """Give the requester (alice unless told) an access request in `state` for `operation` on the world's vault,
    decided by sam."""
    alice, sam = requester or estate.alice, estate.sam

    def ask(op=operation, vault=None):
        return services.access_request_create(
            actor=alice,
            vault=vault or world.vault,
            operation=op,
            justification="Planned change CHG-1",
            duration_hours=1,
        )

    if state == "none":
        return None
    if state == "pending":
        return ask()
    if state == "approved_by_requester":
        return AccessRequest.objects.create(
            guard=world.guard,
            vault=world.vault,
            operation=operation,
            requester=alice,
            justification="I approve myself",
            status=AccessRequestStatus.APPROVED,
            approver=alice,
            decided=timezone.now(),
            valid_until=timezone.now() + timedelta(hours=1),
        )
    if state == "denied":
        return services.access_request_deny(actor=sam, request=ask(), note="not now")
    if state == "expired":
        with time_machine.travel(timezone.now() - timedelta(hours=3), tick=False):
            return services.access_request_approve(actor=sam, request=ask())
    if state == "used":
        request = services.access_request_approve(actor=sam, request=ask())
        from vaults.security import ensure_authorized

        ensure_authorized(actor=alice, vault=world.vault, operation=operation)
        request.refresh_from_db()
        assert request.status == AccessRequestStatus.USED
        return request
    if state == "approved_for_another_operation":
        return services.access_request_approve(actor=sam, request=ask(op=other_operation(operation)))
    if state == "approved_for_another_vault":
        other = guarded_vault(estate, world.guard)
        return services.access_request_approve(actor=sam, request=ask(vault=other.vault))
    if state == "approved":
        return services.access_request_approve(actor=sam, request=ask())
    if state == "approved_time_window":
        return services.access_request_approve(actor=sam, request=ask(op=""))
    raise AssertionError(state)
