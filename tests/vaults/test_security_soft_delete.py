"""Soft delete, purge and immutability against a real restic repository and through every entry point: deleted data
survives until its window ends and then really leaves restic; the purge is announced once; undelete brings an
instance back to "stopped, data retained" from which a restore works; irreversible settings stay irreversible."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.exceptions import DomainError
from core.models import ChangeRecord
from tests.vaults.conftest import restic_snapshot_ids, tree_manifest
from tests.vaults.security_world import guarded_vault, let_alice_read_guards, make_guard, make_protected, make_vault_row
from tests.vaults.test_security_matrix import vault_form
from vaults import services
from vaults.choices import PointState, ProtectionState
from vaults.models import BackupInstance, RecoveryPoint, StorageLocation, Vault

pytestmark = pytest.mark.integration


@pytest.fixture
def vault_root(settings, tmp_path):
    settings.BACKUPCENTER_VAULT_ROOT = tmp_path / "vaults"
    return settings.BACKUPCENTER_VAULT_ROOT


def test_soft_deleted_data_stays_in_restic_until_the_purge_then_leaves_it(
    estate, alice, vault_root, make_vault, protect, run_backup, data_dir
):
    """GIVEN a real vault over a temporary restic repository (soft delete 14 days) and a small tree backed up twice
    WHEN alice stops protection with delete data
    THEN restic still lists both snapshots; a purge before the window ends removes nothing; two days before the end
    one upcoming-purge event is raised (not twice); after the window the purge removes the snapshots from restic,
    the recovery points and the instance, and records purge_complete."""
    (data_dir / "a.txt").write_text("alpha\n")
    (data_dir / "sub").mkdir()
    (data_dir / "sub" / "b.bin").write_bytes(b"\x00\x01" * 5000)
    protected = protect("files", {"paths": [str(data_dir)]}, vault=make_vault())
    vault, instance = protected.vault, protected.instance
    assert str(vault.primary.url).startswith(str(vault_root))
    for _ in range(2):
        assert run_backup(instance).status == "completed"
    points = list(RecoveryPoint.objects.filter(instance=instance))
    ids = {p.snapshot_id for p in points}
    assert len(ids) == 2 and restic_snapshot_ids(vault) == ids

    services.instance_stop_protection(actor=alice, instance=instance, delete_data=True)
    purge_at = RecoveryPoint.objects.filter(instance=instance).first().purge_after
    assert timedelta(days=13, hours=23) < purge_at - timezone.now() <= timedelta(days=14)
    assert restic_snapshot_ids(vault) == ids, "soft delete leaves restic untouched"
    assert services.purge_due_points(vault) == 0
    assert restic_snapshot_ids(vault) == ids

    with time_machine.travel(purge_at - timedelta(days=1), tick=False):
        assert services.warn_upcoming_purges() == 2
        assert services.warn_upcoming_purges() == 0
    assert ChangeRecord.objects.filter(action="security:upcoming_purge", object_id=vault.pk).count() == 1

    with time_machine.travel(purge_at + timedelta(minutes=1), tick=False):
        assert services.purge_due_points(vault) == 2
    assert restic_snapshot_ids(vault) == set()
    assert not RecoveryPoint.objects.filter(snapshot_id__in=ids).exists()
    assert not BackupInstance.objects.filter(pk=instance.pk).exists()
    assert ChangeRecord.objects.filter(action="security:purge_complete", object_id=vault.pk).exists()


def test_undelete_returns_the_instance_to_stopped_with_data_retained_and_a_restore_works(
    estate, alice, vault_root, make_vault, protect, run_backup, run_restore, data_dir, restore_root
):
    """GIVEN a real vault with one backup of a small tree, its instance stopped with delete data
    WHEN a restore is tried, then alice undeletes the instance and restores to an alternate folder
    THEN the first restore is refused (soft deleted); after undelete the instance is stopped with data retained, its
    point is available, the snapshot never left restic and the restored tree equals the source."""
    (data_dir / "keep.txt").write_text("keep me\n")
    protected = protect("files", {"paths": [str(data_dir)]}, vault=make_vault())
    instance = protected.instance
    assert run_backup(instance).status == "completed"
    point = RecoveryPoint.objects.get(instance=instance)
    instance = services.instance_stop_protection(actor=alice, instance=instance, delete_data=True)
    point.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        services.instance_restore(
            actor=alice, instance=instance, recovery_point=point, target={"location": "alternate", "path": "/x"}
        )
    assert refused.value.code == "soft_deleted"

    services.instance_undelete(actor=alice, instance=instance)
    instance.refresh_from_db()
    point.refresh_from_db()
    assert instance.protection_state == ProtectionState.STOPPED_RETAIN_DATA
    assert point.state == PointState.AVAILABLE and point.purge_after is None
    assert point.snapshot_id in restic_snapshot_ids(protected.vault)
    job = run_restore(instance, point, {"location": "alternate", "path": str(restore_root), "conflict": "fail"})
    assert job.status == "completed", job.message
    restored = next(p for p in restore_root.rglob("keep.txt"))
    assert tree_manifest(restored.parent) == tree_manifest(data_dir)


def test_disabling_soft_delete_is_refused_while_soft_deleted_data_exists(estate, alice, client_for, api_for):
    """GIVEN an unguarded vault with soft delete on and one soft-deleted point
    WHEN alice disables soft delete through the service, the page and the API
    THEN each refuses with soft_deleted_data_exists; once the point is undeleted it works."""
    vault = make_vault_row(estate)
    instance, point = make_protected(estate, vault)
    point = services.recovery_point_delete(actor=alice, point=point)
    with pytest.raises(DomainError) as error:
        services.vault_update(actor=alice, vault=vault, soft_delete_state="disabled")
    assert error.value.code == "soft_deleted_data_exists"
    page = client_for("alice").post(f"/vaults/{vault.pk}/edit/", vault_form(vault, soft_delete_state="disabled"))
    assert page.status_code == 200 and "soft-deleted backup data" in page.content.decode()
    api = api_for("alice").patch(f"/api/vaults/vaults/{vault.pk}/", {"soft_delete_state": "disabled"}, format="json")
    assert api.status_code == 409 and api.json()["code"] == "soft_deleted_data_exists"
    assert Vault.objects.get(pk=vault.pk).soft_delete_state == "enabled"
    services.recovery_point_undelete(actor=alice, point=point)
    services.vault_update(actor=alice, vault=vault, soft_delete_state="disabled")
    assert Vault.objects.get(pk=vault.pk).soft_delete_state == "disabled"


@pytest.mark.parametrize("immutability", ["unlocked", "locked"])
def test_an_immutable_vault_refuses_delete_data_early_deletes_and_a_shorter_soft_delete_window(
    immutability, estate, alice, api_for
):
    """GIVEN an immutable vault (unlocked or locked) with soft delete 30 days and a point that has not expired
    WHEN alice stops protection with delete data, deletes the point, or shortens soft delete to 20 days
    THEN each is refused with vault_immutable and nothing changes; a point past its expiry can be deleted; a longer
    window is accepted."""
    vault = make_vault_row(estate, soft_delete_days=30, immutability=immutability)
    instance, point = make_protected(estate, vault)
    for attempt in (
        lambda: services.instance_stop_protection(actor=alice, instance=instance, delete_data=True),
        lambda: services.recovery_point_delete(actor=alice, point=point),
        lambda: services.vault_update(actor=alice, vault=vault, soft_delete_days=20),
    ):
        with pytest.raises(DomainError) as error:
            attempt()
        assert error.value.code == "vault_immutable"
    api = api_for("alice").delete(f"/api/vaults/recovery-points/{point.pk}/")
    assert api.status_code == 409 and api.json()["code"] == "vault_immutable"
    assert BackupInstance.objects.get(pk=instance.pk).protection_state == ProtectionState.PROTECTED
    assert RecoveryPoint.objects.get(pk=point.pk).state == PointState.AVAILABLE
    assert Vault.objects.get(pk=vault.pk).soft_delete_days == 30
    services.vault_update(actor=alice, vault=vault, soft_delete_days=60)
    RecoveryPoint.objects.filter(pk=point.pk).update(expires_at=timezone.now() - timedelta(days=1))
    services.recovery_point_delete(actor=alice, point=RecoveryPoint.objects.get(pk=point.pk))
    assert RecoveryPoint.objects.get(pk=point.pk).state == PointState.SOFT_DELETED


@pytest.mark.parametrize(
    "fields, change",
    [
        ({"soft_delete_state": "always_on"}, {"soft_delete_state": "enabled"}),
        ({"soft_delete_state": "always_on"}, {"soft_delete_state": "disabled"}),
        ({"immutability": "locked"}, {"immutability": "unlocked"}),
        ({"immutability": "locked"}, {"immutability": "disabled"}),
    ],
)
def test_always_on_and_locked_cannot_be_reversed_through_service_page_api_or_admin(
    fields, change, estate, alice, client_for, api_for
):
    """GIVEN a vault with always-on soft delete or locked immutability, guarded, and alice holding an approved time
    window (so MUA is not what stops her)
    WHEN she reverses the setting through the service, the page and the API, and the administrator through the admin
    THEN each is refused (field error, 400, or 403 in the admin) and the setting stays."""
    let_alice_read_guards(estate)
    guard = make_guard(estate)
    world = guarded_vault(estate, guard, **fields)
    request = services.access_request_create(
        actor=alice, vault=world.vault, operation="", justification="window", duration_hours=2
    )
    services.access_request_approve(actor=estate.sam, request=request)
    with pytest.raises(ValidationError) as error:
        services.vault_update(actor=alice, vault=world.vault, **change)
    assert "irreversible" in str(error.value)
    page = client_for("alice").post(f"/vaults/{world.vault.pk}/edit/", vault_form(world.vault, **change))
    assert page.status_code == 200
    api = api_for("alice").patch(f"/api/vaults/vaults/{world.vault.pk}/", change, format="json")
    assert api.status_code == 400 and set(change) <= set(api.json())
    admin = client_for("admin").post(f"/admin/vaults/vault/{world.vault.pk}/change/", vault_form(world.vault, **change))
    assert admin.status_code == 403
    vault = Vault.objects.get(pk=world.vault.pk)
    assert all(getattr(vault, k) == v for k, v in fields.items())


def test_a_guard_updated_to_protect_nothing_still_guards_the_mandatory_operations(estate, alice):
    """GIVEN a guarded vault whose guard sam updates to an empty list of operations
    WHEN alice disables soft delete and unlinks the guard without approval
    THEN both are refused with mua_required, while an optional operation (stop with retain data) now runs."""
    let_alice_read_guards(estate)
    guard = make_guard(estate)
    services.guard_update(actor=estate.sam, guard=guard, protected_operations=[])
    world = guarded_vault(estate, guard)
    for attempt in (
        lambda: services.vault_update(actor=alice, vault=world.vault, soft_delete_state="disabled"),
        lambda: services.vault_unlink_guard(actor=alice, vault=world.vault),
    ):
        with pytest.raises(DomainError) as error:
            attempt()
        assert error.value.code == "mua_required"
    services.instance_stop_protection(actor=alice, instance=world.instance)
    assert BackupInstance.objects.get(pk=world.instance.pk).protection_state == ProtectionState.STOPPED_RETAIN_DATA


# The admin ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["vault", "resourceguard", "accessrequest", "recoverypoint", "storagelocation"])
def test_the_admin_refuses_to_add_change_or_delete_security_rows(model, estate, alice, client_for):
    """GIVEN a guarded vault with a point, a storage location and a pending access request
    WHEN the superuser opens and posts the admin's add, change and delete forms of each
    THEN the change page is view-only, every post answers 403, and nothing changes."""
    let_alice_read_guards(estate)
    guard = make_guard(estate)
    world = guarded_vault(estate, guard)
    request = services.access_request_create(
        actor=alice, vault=world.vault, operation="remove_mua", justification="j", duration_hours=1
    )
    obj = {
        "vault": world.vault,
        "resourceguard": guard,
        "accessrequest": request,
        "recoverypoint": world.point,
        "storagelocation": world.vault.primary,
    }[model]
    admin = client_for("admin")
    base = f"/admin/vaults/{model}/"
    view = admin.get(f"{base}{obj.pk}/change/")
    assert view.status_code == 200
    assert 'type="submit"' not in view.content.decode() or "Save" not in view.content.decode()
    posts = {
        "change": {"name": "renamed", "status": "approved", "approver": estate.alice.pk, "state": "deleted"},
        "delete": {"post": "yes"},
    }
    before = model_state(obj)
    for action, body in posts.items():
        assert admin.post(f"{base}{obj.pk}/{action}/", body).status_code == 403, action
    assert admin.post(f"{base}add/", {"name": "new"}).status_code == 403
    assert model_state(obj) == before


def model_state(obj) -> dict:
    fresh = type(obj).objects.get(pk=obj.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


def test_the_admin_never_shows_the_sealed_repository_password(estate, client_for):
    vault = make_vault_row(estate)
    storage = StorageLocation.objects.get(vault=vault)
    admin = client_for("admin")
    for url in ("/admin/vaults/storagelocation/", f"/admin/vaults/storagelocation/{storage.pk}/change/"):
        html = admin.get(url).content.decode()
        assert storage.sealed_password not in html
        assert "sealed" not in html.lower()
