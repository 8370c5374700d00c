"""The multi-user authorization matrix: every protected operation × every entry point (service, page, API, admin) ×
the state of the actor's access request. Weakening a policy (shortening retention, moving an instance to a weaker
policy) is in the matrix too. An operation on a guarded vault is allowed only with an approved, unexpired,
unused request for that operation (or a time window) on that vault, approved by someone else; the admin never
performs it at all.

Each test runs one operation through one entry point over every request state (a fresh guarded vault per state) and
compares the whole row of outcomes, so a failure shows every state that went wrong at once.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.models import ChangeRecord
from monitoring.choices import Operation
from monitoring.models import Job
from policies.models import BackupPolicy
from policies.services import policy_update
from tests.vaults.security_world import (
    STATES,
    Guarded,
    guarded_vault,
    let_alice_read_guards,
    make_guard,
    put_request_in_state,
)
from vaults import services
from vaults.choices import AccessRequestStatus, PointState, ProtectionState
from vaults.models import AccessRequest, BackupInstance, RecoveryPoint, Vault
from vaults.security import AuthorizationRequired


def vault_form(vault: Vault, **changes) -> dict:
    """The vault settings form as the page posts it, with `changes` applied."""
    data = {
        "redundancy": vault.redundancy,
        "soft_delete_state": vault.soft_delete_state,
        "soft_delete_days": vault.soft_delete_days,
        "immutability": vault.immutability,
        "encryption": vault.encryption,
        "encryption_key": vault.encryption_key_id or "",
    }
    if vault.cross_region_restore:
        data["cross_region_restore"] = "on"
    data.update(changes)
    return data


def fresh(model, obj):
    return model.objects.get(pk=obj.pk)


def policy_form(user, policy, **changes) -> dict:
    """The policy editor as the page posts it for `policy`, with `changes` applied."""
    from policies.forms import PolicyForm

    form = PolicyForm(user=user, instance=policy)
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(changes)
    return data


SHORTER = {"daily_count": 7}  # the vault's default policy keeps 30 daily points


def _weaker_policy(estate, world, extra):
    """A second files policy in the world's vault that keeps 7 days instead of 30."""
    from policies.services import policy_create

    extra["weaker"] = policy_create(
        actor=estate.alice,
        vault=world.vault,
        name="keep-a-week",
        datasource_kind="files",
        schedule={"frequency": "daily", "times": ["02:00"], "timezone": "UTC"},
        retention=SHORTER,
    )


@dataclass
class Op:
    """How one protected operation is run through each entry point, and how to tell that it happened."""

    service: Callable
    page: Callable
    api: Callable
    admin: Callable | None
    done: Callable
    vault_fields: dict = field(default_factory=dict)
    prepare: Callable = lambda estate, world, extra: None


def _key(estate, world, extra):
    extra["key"] = services.key_create(actor=estate.alice, resource_group=estate.rg_prod, name=f"cmk-{world.vault.pk}")


def _restore_target(estate, world, extra):
    extra["target"] = {"location": "alternate", "path": str(extra["restore_root"]), "conflict": "fail"}


OPS: dict[str, Op] = {
    "disable_soft_delete": Op(
        service=lambda e, w, x: services.vault_update(actor=e.alice, vault=w.vault, soft_delete_state="disabled"),
        page=lambda c, w, x: c.post(f"/vaults/{w.vault.pk}/edit/", vault_form(w.vault, soft_delete_state="disabled")),
        api=lambda a, w, x: a.patch(
            f"/api/vaults/vaults/{w.vault.pk}/", {"soft_delete_state": "disabled"}, format="json"
        ),
        admin=lambda c, w, x: c.post(
            f"/admin/vaults/vault/{w.vault.pk}/change/", vault_form(w.vault, soft_delete_state="disabled")
        ),
        done=lambda w, x: fresh(Vault, w.vault).soft_delete_state == "disabled",
    ),
    "remove_mua": Op(
        service=lambda e, w, x: services.vault_unlink_guard(actor=e.alice, vault=w.vault),
        page=lambda c, w, x: c.post(f"/vaults/{w.vault.pk}/guard/", {"action": "unlink"}),
        api=lambda a, w, x: a.post(f"/api/vaults/vaults/{w.vault.pk}/unlink-guard/"),
        admin=lambda c, w, x: c.post(
            f"/admin/vaults/vault/{w.vault.pk}/change/", {**vault_form(w.vault), "resource_guard": ""}
        ),
        done=lambda w, x: fresh(Vault, w.vault).resource_guard_id is None,
    ),
    "stop_protection_delete_data": Op(
        service=lambda e, w, x: services.instance_stop_protection(actor=e.alice, instance=w.instance, delete_data=True),
        page=lambda c, w, x: c.post(f"/vaults/instances/{w.instance.pk}/delete-data/"),
        api=lambda a, w, x: a.post(
            f"/api/vaults/backup-instances/{w.instance.pk}/stop-protection/", {"delete_data": True}, format="json"
        ),
        admin=lambda c, w, x: c.post(f"/admin/vaults/backupinstance/{w.instance.pk}/delete/", {"post": "yes"}),
        done=lambda w, x: fresh(BackupInstance, w.instance).protection_state == ProtectionState.SOFT_DELETED,
    ),
    "stop_protection_retain_data": Op(
        service=lambda e, w, x: services.instance_stop_protection(actor=e.alice, instance=w.instance),
        page=lambda c, w, x: c.post(f"/vaults/instances/{w.instance.pk}/protection/stop/"),
        api=lambda a, w, x: a.post(f"/api/vaults/backup-instances/{w.instance.pk}/stop-protection/", {}, format="json"),
        admin=lambda c, w, x: c.post(
            f"/admin/vaults/backupinstance/{w.instance.pk}/change/", {"protection_state": "stopped_retain_data"}
        ),
        done=lambda w, x: fresh(BackupInstance, w.instance).protection_state == ProtectionState.STOPPED_RETAIN_DATA,
    ),
    "disable_immutability": Op(
        vault_fields={"immutability": "unlocked"},
        service=lambda e, w, x: services.vault_update(actor=e.alice, vault=w.vault, immutability="disabled"),
        page=lambda c, w, x: c.post(f"/vaults/{w.vault.pk}/edit/", vault_form(w.vault, immutability="disabled")),
        api=lambda a, w, x: a.patch(f"/api/vaults/vaults/{w.vault.pk}/", {"immutability": "disabled"}, format="json"),
        admin=lambda c, w, x: c.post(
            f"/admin/vaults/vault/{w.vault.pk}/change/", vault_form(w.vault, immutability="disabled")
        ),
        done=lambda w, x: fresh(Vault, w.vault).immutability == "disabled",
    ),
    "change_encryption": Op(
        prepare=_key,
        service=lambda e, w, x: services.vault_update(
            actor=e.alice, vault=w.vault, encryption="customer_managed", encryption_key=x["key"]
        ),
        page=lambda c, w, x: c.post(
            f"/vaults/{w.vault.pk}/edit/",
            vault_form(w.vault, encryption="customer_managed", encryption_key=x["key"].pk),
        ),
        api=lambda a, w, x: a.patch(
            f"/api/vaults/vaults/{w.vault.pk}/",
            {"encryption": "customer_managed", "encryption_key": x["key"].pk},
            format="json",
        ),
        admin=lambda c, w, x: c.post(
            f"/admin/vaults/vault/{w.vault.pk}/change/",
            vault_form(w.vault, encryption="customer_managed", encryption_key=x["key"].pk),
        ),
        done=lambda w, x: fresh(Vault, w.vault).encryption == "customer_managed",
    ),
    "delete_recovery_point": Op(
        service=lambda e, w, x: services.recovery_point_delete(actor=e.alice, point=w.point),
        page=lambda c, w, x: c.post(f"/vaults/recovery-points/{w.point.pk}/delete/"),
        api=lambda a, w, x: a.delete(f"/api/vaults/recovery-points/{w.point.pk}/"),
        admin=lambda c, w, x: c.post(f"/admin/vaults/recoverypoint/{w.point.pk}/delete/", {"post": "yes"}),
        done=lambda w, x: fresh(RecoveryPoint, w.point).state == PointState.SOFT_DELETED,
    ),
    "restore": Op(
        prepare=_restore_target,
        service=lambda e, w, x: services.instance_restore(
            actor=e.alice, instance=w.instance, recovery_point=w.point, target=x["target"]
        ),
        page=lambda c, w, x: c.post(
            f"/vaults/instances/{w.instance.pk}/restore/", {"recovery_point": w.point.pk, **x["target"]}
        ),
        api=lambda a, w, x: a.post(
            f"/api/vaults/backup-instances/{w.instance.pk}/restore/",
            {"recovery_point": w.point.pk, "target": x["target"]},
            format="json",
        ),
        admin=None,  # the admin has no restore
        done=lambda w, x: Job.objects.filter(instance=w.instance, operation=Operation.RESTORE).exists(),
    ),
    "reduce_retention": Op(
        service=lambda e, w, x: policy_update(actor=e.alice, policy=w.instance.policy, retention=SHORTER),
        page=lambda c, w, x: c.post(
            f"/policies/{w.instance.policy_id}/edit/",
            policy_form(x["alice"], w.instance.policy, daily_count="7"),
        ),
        api=lambda a, w, x: a.patch(
            f"/api/policies/backup-policies/{w.instance.policy_id}/", {"retention": SHORTER}, format="json"
        ),
        admin=None,  # policies are not in the admin
        done=lambda w, x: fresh(BackupPolicy, w.instance.policy).retention["daily_count"] == 7,
    ),
    "move_to_weaker_policy": Op(
        prepare=_weaker_policy,
        service=lambda e, w, x: services.instance_change_policy(actor=e.alice, instance=w.instance, policy=x["weaker"]),
        page=lambda c, w, x: c.post(f"/vaults/instances/{w.instance.pk}/change-policy/", {"policy": x["weaker"].pk}),
        api=lambda a, w, x: a.post(
            f"/api/vaults/backup-instances/{w.instance.pk}/change-policy/", {"policy": x["weaker"].pk}, format="json"
        ),
        admin=lambda c, w, x: c.post(
            f"/admin/vaults/backupinstance/{w.instance.pk}/change/", {"policy": x["weaker"].pk}
        ),
        done=lambda w, x: fresh(BackupInstance, w.instance).policy_id == x["weaker"].pk,
    ),
}

ENTRY_POINTS = ["service", "page", "api"]
MUA_MESSAGE = "is protected by Resource Guard"


@pytest.fixture
def guard(estate):
    let_alice_read_guards(estate)
    return make_guard(estate)


@pytest.fixture
def restore_root(settings, tmp_path) -> Path:
    root = tmp_path / "restores"
    root.mkdir()
    settings.BACKUPCENTER_RESTORE_ROOTS = [str(root)]
    return root


def attempt(entry: str, op: Op, estate, world: Guarded, extra: dict, client_for, api_for) -> bool:
    """Run the operation through one entry point as alice; True when it ran, False when MUA refused it. Any
    other outcome fails the test."""
    if entry == "service":
        try:
            op.service(estate, world, extra)
        except AuthorizationRequired as error:
            assert error.code == "mua_required"
            return False
        return True
    if entry == "page":
        client = client_for("alice")
        response = op.page(client, world, extra)
        assert response.status_code in (200, 302), response.status_code
        # A refused action redirects with a message, a refused form is shown again with the error.
        text = (client.get(response["Location"]) if response.status_code == 302 else response).content.decode()
        if op.done(world, extra):
            return True
        assert MUA_MESSAGE in text, "the refusal must be explained on the page"
        return False
    if entry == "api":
        response = op.api(api_for("alice"), world, extra)
        if response.status_code in (200, 201):
            return True
        assert response.status_code == 403, (response.status_code, response.content[:300])
        assert response.json()["code"] == "mua_required"
        assert MUA_MESSAGE in response.json()["detail"]
        return False
    raise AssertionError(entry)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("operation", list(OPS))
def test_a_protected_operation_runs_only_with_an_approved_unexpired_unused_request_of_someone_else(
    operation, entry, estate, guard, restore_root, client_for, api_for
):
    """GIVEN a vault guarded by sam's Resource Guard (protecting every operation, restore included), and alice
    holding an access request in each state in turn (none, pending, approved by herself, denied, expired, used,
    approved for another operation or vault, approved, approved as a time window)
    WHEN alice runs the operation through this entry point
    THEN it runs only for the approved request and the approved time window; otherwise it is refused with
    `mua_required` and nothing changes; a single-operation request is consumed, a window is not."""
    op = OPS[operation]
    outcomes, expected = {}, {}
    for state, allowed in STATES.items():
        world = guarded_vault(estate, guard, **op.vault_fields)
        extra = {"restore_root": restore_root, "alice": estate.alice}
        op.prepare(estate, world, extra)
        request = put_request_in_state(estate, world, operation, state)
        ran = attempt(entry, op, estate, world, extra, client_for, api_for)
        outcomes[state] = (ran, op.done(world, extra))
        expected[state] = (allowed, allowed)
        if request is not None and state == "approved":
            request.refresh_from_db()
            assert request.status == AccessRequestStatus.USED, "a single-operation request is consumed"
        if request is not None and state == "approved_time_window":
            request.refresh_from_db()
            assert request.status == AccessRequestStatus.APPROVED, "a time window stays open until it expires"
    assert outcomes == expected


@pytest.mark.parametrize("state", ["none", "approved"])
@pytest.mark.parametrize("operation", [name for name, op in OPS.items() if op.admin is not None])
def test_the_admin_never_runs_a_protected_operation_whatever_the_request(
    operation, state, estate, guard, restore_root, client_for
):
    """GIVEN a guarded vault and the superuser holding no request, or a request approved by sam
    WHEN the superuser posts the change or delete form of the admin for that operation
    THEN the admin answers 403, nothing changes, and the approved request stays unused."""
    op = OPS[operation]
    world = guarded_vault(estate, guard, **op.vault_fields)
    extra = {"restore_root": restore_root, "alice": estate.alice}
    op.prepare(estate, world, extra)
    request = put_request_in_state(estate, world, operation, state, requester=estate.admin)
    before = ChangeRecord.objects.count()
    response = op.admin(client_for("admin"), world, extra)
    assert response.status_code == 403
    assert not op.done(world, extra)
    assert ChangeRecord.objects.count() == before
    if request is not None:
        assert AccessRequest.objects.get(pk=request.pk).status == AccessRequestStatus.APPROVED


def test_the_superuser_is_held_by_the_guard_like_anyone_else_through_the_service(estate, guard):
    """GIVEN a guarded vault
    WHEN the superuser disables soft delete without an approved request, then with one approved by sam
    THEN the first attempt is refused with mua_required and the second runs."""
    world = guarded_vault(estate, guard)
    with pytest.raises(AuthorizationRequired):
        services.vault_update(actor=estate.admin, vault=world.vault, soft_delete_state="disabled")
    put_request_in_state(estate, world, "disable_soft_delete", "approved", requester=estate.admin)
    services.vault_update(actor=estate.admin, vault=world.vault, soft_delete_state="disabled")
    assert fresh(Vault, world.vault).soft_delete_state == "disabled"
