"""The estate the vaults API tests share: expected outcome columns, vaults on both sides of the scope line,
instances, points and jobs to act on (the `isolated_keyring` and `api_estate` fixtures
are in tests/vaults/conftest.py)."""

import secrets as pysecrets
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from core import secrets
from core.models import ChangeRecord
from core.permissions import SystemActor
from inventory.models import Datasource
from monitoring.choices import Operation
from monitoring.services import job_create
from tests.matrix import PERSONAS, REFUSED, Row, check_api
from vaults.choices import ProtectionState
from vaults.models import BackupInstance, EncryptionKey, RecoveryPoint, StorageLocation, Vault
from vaults.services import instance_create

# Expected outcomes ---------------------------------------------------------------------------------------------------
A_LIST = {"anon": 401, "charlie": 200, "bob": 200, "alice": 200, "admin": 200}
A_DETAIL = {"anon": 401, "charlie": 404, "bob": 200, "alice": 200, "alice_out": 404, "admin": 200}
A_CHANGE = {"anon": 401, "charlie": 404, "bob": 403, "alice": 200, "alice_out": 404, "admin": 200}
A_CREATE = {"anon": 401, "charlie": REFUSED, "bob": REFUSED, "alice": 201, "alice_out": REFUSED, "admin": 201}


def answers(column: dict, code: int) -> dict:
    """The column of an action that answers `code` where the gate lets the caller through."""
    return {p: (code if v == 200 else v) for p, v in column.items()}


# The estate of vaults ------------------------------------------------------------------------------------------------


def make_vault(resource_group, location, name: str, **fields) -> Vault:
    """A vault row with a sealed repository password, without initialising a repository (fast; for reads and
    for operations that only queue work)."""
    vault = Vault(resource_group=resource_group, location=location, name=name, **fields)
    vault.save()
    StorageLocation.objects.create(
        vault=vault,
        url=str(Path(settings.BACKUPCENTER_VAULT_ROOT) / f"{name}-{uuid.uuid4().hex}"),
        sealed_password=secrets.seal(pysecrets.token_hex(32)),
        region=location.name,
    )
    return vault


def make_datasource(resource_group, location, name: str) -> Datasource:
    folder = Path(settings.VAR_DIR) / "api-data" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("a\n")
    return Datasource.objects.create(
        resource_group=resource_group, location=location, kind="files", name=name, connection={"paths": [str(folder)]}
    )


def make_point(instance: BackupInstance, **fields) -> RecoveryPoint:
    values = {"snapshot_id": pysecrets.token_hex(32), "created": timezone.now(), "size": 100, "data_added": 40}
    return RecoveryPoint.objects.create(instance=instance, **{**values, **fields})


def add_vaults(estate, restore_root: Path) -> None:
    """Per side (inside = rg-prod, outside = rg-fab): a key, a vault, a protected instance with a recovery point, a
    stopped instance, a queued restore job and a spare datasource to protect."""
    from vaults.services import key_create

    system = SystemActor("test-setup")
    for where, group, ds in (("inside", estate.rg_prod, estate.ds_prod), ("outside", estate.rg_fab, estate.ds_fab)):
        bucket = getattr(estate, where)
        key = key_create(actor=system, resource_group=group, name=f"key-{where}")
        vault = make_vault(group, estate.west, f"vault-{where}")
        instance = instance_create(actor=system, datasource=ds, vault=vault)
        stopped_ds = make_datasource(group, estate.west, f"stopped-{where}")
        stopped = instance_create(actor=system, datasource=stopped_ds, vault=vault)
        BackupInstance.objects.filter(pk=stopped.pk).update(protection_state=ProtectionState.STOPPED_RETAIN_DATA)
        point = make_point(instance)
        job = job_create(
            actor=system, operation=Operation.RESTORE, scope=instance, instance=instance, subject=f"restore {where}"
        )
        bucket.update(
            encryptionkey=key,
            vault=vault,
            backupinstance=instance,
            stoppedinstance=stopped,
            recoverypoint=point,
            stoppedpoint=make_point(stopped),
            job=job,
            spare_datasource=make_datasource(group, estate.west, f"spare-{where}"),
        )
    estate.extra["restore_root"] = restore_root


# Matrix helpers shared by the API and page matrices -------------------------------------------------------


def detail_marker(route: str, key: str):
    """A list shows an object when its detail URL is in the body (nested briefs point at other routes)."""
    return lambda e, where: reverse(route, args=[getattr(e, where)[key].pk]) + '"'


def side(e, where):
    return e.outside if where == "outside" else e.inside


def restore_payload(e, where):
    return {
        "recovery_point": side(e, where)["recoverypoint"].pk,
        "target": {"location": "alternate", "path": str(e.restore_root / f"to-{uuid.uuid4().hex[:6]}")},
    }


def longer_policy(e, where):
    """A files policy in the side's vault that keeps more than the default one (moving to it needs no approval)."""
    from policies.services import policy_create

    return policy_create(
        actor=SystemActor("test-setup"),
        vault=side(e, where)["vault"],
        name=f"keep-90-{uuid.uuid4().hex[:6]}",
        datasource_kind="files",
        schedule={"frequency": "daily", "times": ["02:00"], "timezone": "UTC"},
        retention={"daily_count": 90},
    )


def matrix_cells(table: dict[str, Row]):
    for name, row in table.items():
        for method, column in row.expect.items():
            if not isinstance(column, dict):
                continue
            for persona in PERSONAS:
                if persona in column:
                    yield pytest.param(name, method, persona, id=f"{name}-{method}-{persona}")


def run_cell(estate, api_for, table: dict[str, Row], name: str, method: str, persona: str) -> None:
    """One (route, method, persona) cell: the status the matrix expects, nothing logged when refused, and lists
    that show the inside object to those in scope and the fabrikam object only to the administrator."""
    row = table[name]
    user = "alice" if persona == "alice_out" else persona
    where = "outside" if persona == "alice_out" else "inside"
    client = api_for(user)
    url = reverse(name, args=[side(estate, where)[row.target].pk]) if row.target else reverse(name)
    data = row.payload(estate, where) if row.payload else {}
    before = ChangeRecord.objects.count()
    response = getattr(client, method.lower())(url, data, format="json") if method != "GET" else client.get(url)
    check_api(response, row.expect[method][persona], before, ChangeRecord.objects.count())
    if method == "GET" and row.marker and response.status_code == 200:
        content = response.content.decode().replace(" ", "")
        assert (row.marker(estate, "inside") in content) == (persona in ("bob", "alice", "admin")), "inside object"
        assert (row.marker(estate, "outside") in content) == (persona == "admin"), "fabrikam object"


def grow(estate, count: int) -> None:
    """`count` more vaults, instances (each with two points) and jobs in rg-prod."""
    system = SystemActor("test-setup")
    for _ in range(count):
        n = uuid.uuid4().hex[:6]
        vault = make_vault(estate.rg_prod, estate.west, f"vault-{n}")
        policy = estate.inside["backupinstance"].policy
        ds = make_datasource(estate.rg_prod, estate.west, f"ds-{n}")
        instance = BackupInstance.objects.create(
            datasource=ds, vault=estate.inside["vault"], policy=policy, protection_state=ProtectionState.PROTECTED
        )
        point = make_point(instance)
        make_point(instance)
        job_create(
            actor=system,
            operation=Operation.RESTORE,
            scope=instance,
            instance=instance,
            datasource=ds,
            recovery_point=point,
            subject=ds.name,
        )
        job_create(actor=system, operation=Operation.CREATE_VAULT, scope=vault, subject=vault.name)
        EncryptionKey.objects.create(resource_group=estate.rg_prod, name=f"key-{n}")
