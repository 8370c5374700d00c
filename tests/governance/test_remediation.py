"""Remediation of a DeployIfNotExists assignment really protects datasources (as the system actor "remediation",
recorded in the change log, one outcome per datasource) and a real restic backup of them then succeeds; new
datasources are remediated automatically when the assignment asks for it."""

import uuid

import pytest

from core.models import ChangeRecord
from policies.governance.choices import ComplianceState
from policies.governance.evaluation import evaluate
from policies.governance.models import RemediationTask
from tests.factories import real_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def dine(estate):
    """A vault with a real restic repository, a files policy, and a DeployIfNotExists assignment on tag backup=gold."""
    from policies.governance.services import assignment_create
    from policies.services import policy_create
    from vaults.services import vault_create

    alice = estate.users["alice"]
    vault = vault_create(actor=alice, resource_group=estate.rg_prod, location=estate.west, name="gold-vault")
    policy = policy_create(
        actor=alice,
        vault=vault,
        name="gold",
        datasource_kind="files",
        schedule={"frequency": "daily", "times": ["02:00"], "timezone": "UTC"},
        retention={"daily_count": 30},
    )
    assignment = assignment_create(
        actor=estate.users["oscar"],
        scope=estate.prod,
        definition_key="configure_backup_tagged",
        parameters={"policy": policy.pk, "tag_name": "backup", "tag_values": ["gold"]},
    )
    return vault, policy, assignment


def tagged(estate, name=None, tags=None):
    from inventory.services import datasource_create

    return datasource_create(
        actor=estate.users["alice"],
        resource_group=estate.rg_prod,
        location=estate.west,
        kind="files",
        name=name or f"gold-{uuid.uuid4().hex[:6]}",
        connection={"paths": [real_folder()]},
        tags=tags if tags is not None else {"backup": "gold"},
    )


def test_remediation_protects_the_non_compliant_datasources_and_a_real_backup_runs(
    estate, dine, api_for, django_capture_on_commit_callbacks
):
    from vaults.services import instance_backup_now

    vault, policy, assignment = dine
    first, second = tagged(estate, "gold-a"), tagged(estate, "gold-b")
    tagged(estate, "plain", tags={})
    evaluate([assignment])
    assert {r.resource_name: r.state for r in assignment.results.all()} == {
        "gold-a": ComplianceState.NON_COMPLIANT,
        "gold-b": ComplianceState.NON_COMPLIANT,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for("alice").post(f"/api/policies/assignments/{assignment.pk}/remediate/")
    assert response.status_code == 202, response.content
    task = RemediationTask.objects.get()
    assert (task.status, task.succeeded, task.failed) == ("succeeded", 2, 0)
    assert {r.resource_name: r.outcome for r in task.results.all()} == {"gold-a": "protected", "gold-b": "protected"}
    records = ChangeRecord.objects.filter(action="configure_backup", actor_name="remediation")
    assert {r.object_repr for r in records} == {"gold-a in gold-vault", "gold-b in gold-vault"}
    assert {r.state for r in assignment.results.all()} == {ComplianceState.COMPLIANT}
    instance = first.backup_instances.get()
    assert (instance.vault, instance.policy) == (vault, policy)
    with django_capture_on_commit_callbacks(execute=True):
        job = instance_backup_now(actor=estate.users["alice"], instance=instance)
    job.refresh_from_db()
    assert job.status == "completed", job.message
    assert instance.recovery_points.count() == 1
    assert second.backup_instances.get().vault == vault


def test_a_reader_cannot_remediate_and_audit_assignments_refuse(estate, dine, api_for, client_for):
    _, _, assignment = dine
    assert api_for("bob").post(f"/api/policies/assignments/{assignment.pk}/remediate/").status_code == 403
    assert api_for("charlie").post(f"/api/policies/assignments/{assignment.pk}/remediate/").status_code == 404
    response = client_for("bob").post(f"/governance/assignments/{assignment.pk}/remediate/", follow=True)
    assert "permission" in response.content.decode()
    assert not RemediationTask.objects.exists()


def test_new_datasources_are_remediated_automatically_when_asked(estate, dine, django_capture_on_commit_callbacks):
    from policies.governance.services import assignment_update

    _, _, assignment = dine
    assignment_update(actor=estate.users["oscar"], assignment=assignment, auto_remediate=True)
    with django_capture_on_commit_callbacks(execute=True):
        # Creating the datasource requests the debounced evaluation, which remediates it.
        newcomer = tagged(estate, "gold-new")
    assert newcomer.backup_instances.exists()
    task = RemediationTask.objects.get()
    assert task.automatic and task.requested_by_name == "auto-remediation"
