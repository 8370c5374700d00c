"""Invariant 1 as a table for the pages of vaults, keys, backup instances, Resource Guards and access requests: every
route of the `vaults` namespace, for every persona, owner (oscar) and security admin (sam) included. A route added
to the namespace without a row here fails `test_every_vaults_page_has_a_row`; a row naming a route that is gone
fails it too.

The objects (per side: inside = rg-prod of contoso, outside = rg-fab of fabrikam): the vaults API estate (a key, an
unguarded vault with a protected and a stopped instance, each with a recovery point, a queued restore job, a spare
datasource), plus an empty vault, a soft-deleted instance, a Resource Guard in the side's resource group, a second
vault linked to that guard and a pending access request on it (alice's inside, the administrator's outside).

Operations protected by multi-user authorization are covered by tests/vaults/test_security_matrix.py; here they run
on an unguarded vault, so only the role gate is checked. Backup now and restore only queue a job (the worker runs on
commit, which never comes inside a test transaction): the matrix checks the redirect and the new Job row."""

import uuid
from dataclasses import dataclass

import pytest
from django.urls import reverse

from core.models import ChangeRecord
from core.permissions import SystemActor
from monitoring.models import Job
from tests.matrix import BOUNCED, DONE, LOGIN, REFUSED, Row, check_page, named_routes
from tests.vaults.api_world import add_vaults, longer_policy, make_datasource, make_point, make_vault, side
from tests.vaults.test_security_matrix import vault_form
from vaults import services
from vaults.choices import PointState, ProtectionState
from vaults.models import BackupInstance, ResourceGuard

pytestmark = pytest.mark.django_db

PERSONAS = ("anon", "charlie", "bob", "alice", "alice_out", "oscar", "sam", "admin")
SEES_INSIDE = ("bob", "alice", "oscar", "sam", "admin")
NAMESPACES = {"vaults"}

VISIBLE = {p: 200 for p in PERSONAS if p != "alice_out"} | {"anon": LOGIN}
SCOPED = {**VISIBLE, "charlie": 404, "alice_out": 404}
# Change, delete and operate: contributor and owner (and the administrator); the reader and the security admin see
# the object but are refused.
CHANGE = {**SCOPED, "bob": 403, "sam": 403}
# Resource Guards are changed by security admins only (manage_guard), never by backup admins.
MANAGE_GUARD = {**SCOPED, "bob": 403, "alice": 403, "oscar": 403}
POST_ONLY = {p: 405 for p in VISIBLE} | {"anon": LOGIN}
NOT_FOUND = {p: 404 for p in VISIBLE} | {"anon": LOGIN}
# A create page opens for everyone; the form offers only the scopes where the user may create (else re-shown).
CREATE = {p: REFUSED for p in PERSONAS} | {"anon": LOGIN, "alice": DONE, "oscar": DONE, "admin": DONE}
CREATE_GUARD = {p: REFUSED for p in PERSONAS} | {"anon": LOGIN, "sam": DONE, "admin": DONE}
# An access request: its requester (alice) and the guard's security admins (sam, the administrator).
REQUEST = {**NOT_FOUND, "alice": 200, "sam": 200, "admin": 200}
# Deciding: the guard's security admins; the requester sees her request but is refused the decision.
UNGUARDED = {**SCOPED, **{p: BOUNCED for p in SEES_INSIDE}}
DECIDE = {**NOT_FOUND, "alice": 403, "sam": DONE, "admin": DONE}


def done(get: dict) -> dict:
    return {p: (DONE if v == 200 else v) for p, v in get.items()}


@dataclass
class PageRow(Row):
    """A row with a label for its id, the name of the URL's object argument, the personas a list shows the inside
    object to, and a model whose rows a write that goes through must add (a queued job)."""

    label: str = ""
    pk_name: str = "pk"
    sees: tuple = SEES_INSIDE
    creates: type | None = None


def link(key):
    return lambda e, where: f'href="{getattr(e, where)[key].get_absolute_url()}"'


def scope_of(e, where):
    return e.rg_fab if where == "outside" else e.rg_prod


def vault_add_payload(e, where):
    return {
        "resource_group": scope_of(e, where).pk,
        "location": e.west.pk,
        "name": f"vault-new-{uuid.uuid4().hex[:6]}",
        "redundancy": "LRS",
        "soft_delete_state": "enabled",
        "soft_delete_days": "14",
        "immutability": "disabled",
        "encryption": "platform",
    }


def instance_add_payload(e, where):
    return {"kind": "files", "datasource": side(e, where)["spare_datasource"].pk, "vault": side(e, where)["vault"].pk}


def restore_payload(e, instance):
    point = instance.recovery_points.get(state=PointState.AVAILABLE)
    path = e.restore_root / f"to-{uuid.uuid4().hex[:6]}"
    return {"recovery_point": point.pk, "location": "alternate", "path": str(path), "conflict": "fail"}


def guard_add_payload(e, where):
    return {"resource_group": scope_of(e, where).pk, "location": e.west.pk, "name": "guard-new", "description": "x"}


def guard_edit_payload(e, guard):
    return {"description": "changed", "protected_operations": guard.protected_operations}


REQUEST_PAYLOAD = {"operation": "", "justification": "monthly restore test", "duration_hours": "1"}

PAGES: dict[str, PageRow | list[PageRow]] = {
    # Vaults
    "vaults:vault_list": PageRow(expect={"GET": VISIBLE}, marker=link("vault")),
    "vaults:vault_add": PageRow(expect={"GET": VISIBLE, "POST": CREATE}, payload=vault_add_payload),
    "vaults:vault_detail": PageRow(target="vault", expect={"GET": SCOPED}),
    "vaults:vault_edit": PageRow(
        target="vault",
        expect={"GET": CHANGE, "POST": done(CHANGE)},
        payload=lambda e, vault: vault_form(vault, soft_delete_days=30),
    ),
    "vaults:vault_delete": [
        PageRow(target="emptyvault", label="empty", expect={"GET": CHANGE, "POST": done(CHANGE)}),
        # A vault that protects items refuses deletion with a message.
        PageRow(
            target="vault",
            label="in-use",
            expect={"POST": {**CHANGE, "alice": BOUNCED, "oscar": BOUNCED, "admin": BOUNCED}},
        ),
    ],
    # Customer-managed keys
    "vaults:encryptionkey_list": PageRow(expect={"GET": VISIBLE}, marker=link("encryptionkey")),
    "vaults:key_add": PageRow(
        expect={"GET": VISIBLE, "POST": CREATE},
        payload=lambda e, where: {"resource_group": scope_of(e, where).pk, "name": "key-new"},
    ),
    "vaults:key_detail": PageRow(target="encryptionkey", expect={"GET": SCOPED}),
    "vaults:key_action": [
        PageRow(target="encryptionkey", kwargs={"action": a}, expect={"GET": POST_ONLY, "POST": done(CHANGE)})
        for a in ("rotate", "disable", "enable")
    ]
    + [PageRow(target="encryptionkey", kwargs={"action": "bogus"}, expect={"POST": NOT_FOUND})],
    # Backup instances
    "vaults:instance_list": PageRow(expect={"GET": VISIBLE}, marker=link("backupinstance")),
    "vaults:instance_add": PageRow(expect={"GET": VISIBLE, "POST": CREATE}, payload=instance_add_payload),
    "vaults:instance_detail": PageRow(target="backupinstance", expect={"GET": SCOPED}),
    "vaults:instance_backup": PageRow(
        target="backupinstance", expect={"GET": POST_ONLY, "POST": done(CHANGE)}, creates=Job
    ),
    "vaults:instance_protection": [
        PageRow(target="backupinstance", kwargs={"action": "stop"}, expect={"GET": POST_ONLY, "POST": done(CHANGE)}),
        PageRow(target="stoppedinstance", kwargs={"action": "resume"}, expect={"POST": done(CHANGE)}),
        PageRow(target="backupinstance", kwargs={"action": "bogus"}, expect={"POST": NOT_FOUND}),
    ],
    "vaults:instance_change_policy": PageRow(
        target="backupinstance",
        expect={"GET": POST_ONLY, "POST": done(CHANGE)},
        payload=lambda e, instance: {
            "policy": longer_policy(e, "outside" if instance.tenant == e.fabrikam else "inside").pk
        },
    ),
    "vaults:instance_restore": PageRow(
        target="backupinstance", expect={"GET": CHANGE, "POST": done(CHANGE)}, payload=restore_payload, creates=Job
    ),
    # Restore from the action center lists the instances the user may restore (operate).
    "vaults:restore": PageRow(
        expect={"GET": VISIBLE},
        marker=lambda e, where: reverse("vaults:instance_restore", args=[getattr(e, where)["backupinstance"].pk]),
        sees=("alice", "oscar", "admin"),
    ),
    # Soft delete (MUA-protected operations: the role gate only, on an unguarded vault)
    "vaults:instance_delete_data": PageRow(target="backupinstance", expect={"GET": POST_ONLY, "POST": done(CHANGE)}),
    "vaults:instance_undelete": PageRow(target="softdeleted", expect={"GET": POST_ONLY, "POST": done(CHANGE)}),
    "vaults:recoverypoint_delete": PageRow(target="recoverypoint", expect={"GET": POST_ONLY, "POST": done(CHANGE)}),
    # Multi-user authorization of a vault: linked by its backup admins; unlinking an unguarded vault is refused with
    # a message (the approval itself is in the security matrix).
    "vaults:vault_guard": [
        PageRow(
            target="vault",
            label="link",
            expect={"GET": CHANGE, "POST": done(CHANGE)},
            payload=lambda e, vault: {"guard": ResourceGuard.objects.get(name=f"guard-{vault.name}").pk},
        ),
        PageRow(
            target="vault",
            label="unlink",
            expect={"POST": {**CHANGE, "alice": BOUNCED, "oscar": BOUNCED, "admin": BOUNCED}},
            payload=lambda e, vault: {"action": "unlink"},
        ),
    ],
    # Anyone who sees a guarded vault may ask for access; an unguarded vault sends them back with a message.
    "vaults:accessrequest_add": [
        PageRow(
            target="guardedvault",
            pk_name="vault_pk",
            label="guarded",
            expect={"GET": SCOPED, "POST": done(SCOPED)},
            payload=lambda e, vault: REQUEST_PAYLOAD,
        ),
        PageRow(
            target="vault",
            pk_name="vault_pk",
            label="unguarded",
            expect={"GET": UNGUARDED, "POST": UNGUARDED},
            payload=lambda e, vault: REQUEST_PAYLOAD,
        ),
    ],
    # Resource Guards
    "vaults:resourceguard_list": PageRow(expect={"GET": VISIBLE}, marker=link("guard")),
    "vaults:guard_add": PageRow(expect={"GET": VISIBLE, "POST": CREATE_GUARD}, payload=guard_add_payload),
    "vaults:guard_detail": PageRow(target="guard", expect={"GET": SCOPED}),
    "vaults:resourceguard_edit": PageRow(
        target="guard", expect={"GET": MANAGE_GUARD, "POST": done(MANAGE_GUARD)}, payload=guard_edit_payload
    ),
    # Access requests
    "vaults:accessrequest_list": PageRow(
        expect={"GET": VISIBLE}, marker=link("accessrequest"), sees=("alice", "sam", "admin")
    ),
    "vaults:accessrequest_detail": PageRow(target="accessrequest", expect={"GET": REQUEST}),
    "vaults:accessrequest_decide": [
        PageRow(target="accessrequest", kwargs={"decision": d}, expect={"GET": POST_ONLY, "POST": DECIDE})
        for d in ("approve", "deny")
    ]
    + [PageRow(target="accessrequest", kwargs={"decision": "bogus"}, expect={"POST": NOT_FOUND})],
}


def test_every_vaults_page_has_a_row():
    routes = named_routes(NAMESPACES, root_names=False)
    missing = routes - set(PAGES)
    assert not missing, f"add these routes to the vaults page matrix: {sorted(missing)}"
    stale = set(PAGES) - routes
    assert not stale, f"the matrix names routes that no longer exist: {sorted(stale)}"


# The objects -------------------------------------------------------------------------------------------------------


@pytest.fixture
def vault_pages(isolated_keyring, estate, settings, tmp_path):  # noqa: F811
    """The estate with the objects described at the top, on both sides."""
    settings.BACKUPCENTER_VAULT_ROOT = tmp_path / "vaults"
    root = tmp_path / "restores"
    root.mkdir()
    settings.BACKUPCENTER_RESTORE_ROOTS = [str(root)]
    add_vaults(estate, root)
    system = SystemActor("test-setup")
    for where, group, guard_admin, requester in (
        ("inside", estate.rg_prod, estate.sam, estate.alice),
        ("outside", estate.rg_fab, estate.admin, estate.admin),
    ):
        bucket = side(estate, where)
        vault = bucket["vault"]
        guard = services.guard_create(
            actor=guard_admin, resource_group=group, location=estate.west, name=f"guard-{vault.name}"
        )
        guarded = make_vault(group, estate.west, f"guarded-{where}")
        guarded = services.vault_link_guard(actor=estate.admin, vault=guarded, guard=guard)
        request = services.access_request_create(
            actor=requester, vault=guarded, operation="", justification="quarterly restore test"
        )
        gone = services.instance_create(
            actor=system, datasource=make_datasource(group, estate.west, f"gone-{where}"), vault=vault
        )
        make_point(gone, state=PointState.SOFT_DELETED)
        BackupInstance.objects.filter(pk=gone.pk).update(protection_state=ProtectionState.SOFT_DELETED)
        bucket.update(
            emptyvault=make_vault(group, estate.west, f"empty-{where}"),
            guard=guard,
            guardedvault=guarded,
            accessrequest=request,
            softdeleted=BackupInstance.objects.get(pk=gone.pk),
        )
    return estate


# The matrix ----------------------------------------------------------------------------------------------------------


def _cells():
    for name, rows in PAGES.items():
        for index, row in enumerate(rows if isinstance(rows, list) else [rows]):
            suffix = "".join(f"[{v}]" for v in row.kwargs.values()) + (f"[{row.label}]" if row.label else "")
            for method, column in row.expect.items():
                for persona in PERSONAS:
                    if persona in column:
                        yield pytest.param(name, index, method, persona, id=f"{name}{suffix}-{method}-{persona}")


@pytest.mark.parametrize(("name", "index", "method", "persona"), list(_cells()))
def test_vaults_pages_answer_each_persona_as_the_matrix_says(vault_pages, client_for, name, index, method, persona):
    rows = PAGES[name]
    row = rows[index] if isinstance(rows, list) else rows
    user = "alice" if persona == "alice_out" else persona
    where = "outside" if persona == "alice_out" else "inside"
    target = getattr(vault_pages, where)[row.target] if row.target else None
    kwargs = {**row.kwargs, **({row.pk_name: target.pk} if target is not None else {})}
    url = reverse(name, kwargs=kwargs or None)
    client = client_for(user)
    data = {}
    if method == "POST" and row.payload is not None:
        data = row.payload(vault_pages, target if target is not None else where)
    changes, created = ChangeRecord.objects.count(), row.creates.objects.count() if row.creates else 0
    response = client.get(url) if method == "GET" else client.post(url, data)
    expected = row.expect[method][persona]
    check_page(response, expected, changes, ChangeRecord.objects.count())
    if expected == DONE:
        assert ChangeRecord.objects.count() > changes, "a write that went through must be in the change log"
        if row.creates:
            assert row.creates.objects.count() > created, f"a new {row.creates.__name__} row"
    if method == "GET" and row.marker and response.status_code == 200:
        content = response.content.decode()
        assert (row.marker(vault_pages, "inside") in content) == (persona in row.sees), "inside object"
        assert (row.marker(vault_pages, "outside") in content) == (persona == "admin"), "fabrikam object"
