"""Each built-in definition evaluated on crafted estates: compliant, non-compliant, exempt and an excluded child
scope; plus history ("compliant since"), conflicts between DeployIfNotExists assignments and query budgets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.governance.choices import ComplianceState as S
from policies.governance.evaluation import evaluate
from policies.governance.models import ComplianceChange, ComplianceSnapshot
from tests.governance.conftest import states

pytestmark = pytest.mark.django_db


def test_backup_enabled_judges_each_datasource_of_the_chosen_types_in_scope(
    estate, assign, make_vault, make_datasource, protect
):
    """GIVEN files datasources in contoso: one protected, one stopped, one unprotected, one exempt, one gone,
    one in the excluded subscription dev and one PostgreSQL database (another type)
    WHEN backup_enabled(kinds=files) is assigned at tenant contoso
    THEN each gets its state and reason, dev and fabrikam are not judged."""
    vault = make_vault()
    protected = make_datasource(name="protected")
    protect(protected, vault)
    stopped = make_datasource(name="stopped")
    protect(stopped, vault, state="stopped_retain_data")
    make_datasource(name="naked")
    exempt = make_datasource(name="exempted")
    make_datasource(name="gone", exists=False)
    make_datasource(name="database", kind="postgresql")
    assignment = assign(
        "backup_enabled",
        estate.contoso,
        parameters={"kinds": ["files"]},
        exempt_resources=[exempt.pk],
        excluded_scopes=[{"level": "subscription", "id": estate.dev.pk}],
    )
    result = states(assignment)
    assert result["protected"][0] == S.COMPLIANT
    assert result["stopped"] == (S.NON_COMPLIANT, "Protection was stopped; no new backups are taken.")
    assert result["naked"] == (S.NON_COMPLIANT, "Backup is not enabled.")
    assert result["share-prod"][0] == S.NON_COMPLIANT
    assert result["exempted"][0] == S.EXEMPT
    assert result["gone"][0] == S.UNKNOWN
    assert "database" not in result
    assert "share-dev" not in result, "the excluded child scope is not evaluated"
    assert "share-fab" not in result, "another tenant is never judged"


def test_configure_backup_selects_by_tag_location_and_type(estate, assign, make_vault, make_policy, make_datasource):
    vault = make_vault()
    policy = make_policy(vault)
    make_datasource(name="tagged", tags={"backup": "gold"})
    make_datasource(name="other-value", tags={"backup": "none"})
    make_datasource(name="untagged")
    make_datasource(name="tagged-north", tags={"backup": "gold"}, location=estate.north)
    make_datasource(name="tagged-db", tags={"backup": "gold"}, kind="sqlite")
    include = assign(
        "configure_backup_tagged",
        estate.prod,
        parameters={"policy": policy.pk, "tag_name": "backup", "tag_values": ["gold"]},
    )
    assert set(states(include)) == {"tagged"}
    assert states(include)["tagged"][0] == S.NON_COMPLIANT
    assert f"vault {vault}" in states(include)["tagged"][1]
    exclude = assign(
        "configure_backup_tagged",
        estate.prod,
        parameters={"policy": policy.pk, "tag_name": "backup", "tag_values": ["none"], "tag_mode": "exclude"},
    )
    assert set(states(exclude)) == {"tagged", "untagged", "share-prod"}


def test_two_deploy_assignments_with_different_policies_conflict_on_the_same_datasource(
    estate, assign, make_vault, make_policy, make_datasource
):
    vault = make_vault()
    first, second = make_policy(vault), make_policy(vault)
    make_datasource(name="contested", tags={"tier": "a"})
    a = assign("configure_backup_tagged", estate.prod, parameters={"policy": first.pk, "tag_name": "tier"})
    b = assign("configure_backup_tagged", estate.rg_prod, parameters={"policy": second.pk, "tag_name": "tier"})
    evaluate()
    assert states(a)["contested"][0] == S.CONFLICT
    assert states(b)["contested"][0] == S.CONFLICT


@pytest.mark.parametrize(
    ("always_on_only", "expected"),
    [
        (True, {"off": S.NON_COMPLIANT, "on": S.NON_COMPLIANT, "always": S.COMPLIANT}),
        (False, {"off": S.NON_COMPLIANT, "on": S.COMPLIANT, "always": S.COMPLIANT}),
    ],
)
def test_soft_delete_definition_honours_the_always_on_parameter(estate, assign, make_vault, always_on_only, expected):
    make_vault(name="off", soft_delete_state="disabled")
    make_vault(name="on", soft_delete_state="enabled")
    make_vault(name="always", soft_delete_state="always_on")
    assignment = assign("soft_delete_enabled", estate.prod, parameters={"always_on_only": always_on_only})
    assert {name: state for name, (state, _) in states(assignment).items()} == expected


def test_immutability_definition_with_locked_only_and_an_exempt_vault(estate, assign, make_vault):
    make_vault(name="none")
    make_vault(name="unlocked", immutability="unlocked")
    make_vault(name="locked", immutability="locked")
    waived = make_vault(name="waived")
    assignment = assign("immutability_enabled", estate.prod, exempt_resources=[waived.pk])
    result = states(assignment)
    assert result["none"][0] == result["unlocked"][0] == S.NON_COMPLIANT
    assert result["unlocked"][1] == "Immutability is enabled but not locked."
    assert result["locked"][0] == S.COMPLIANT
    assert result["waived"][0] == S.EXEMPT


def test_mua_definition_needs_a_resource_guard_and_skips_excluded_resource_groups(estate, assign, make_vault):
    from vaults.models import ResourceGuard

    guard = ResourceGuard.objects.create(resource_group=estate.rg_prod, location=estate.west, name="guard")
    make_vault(name="guarded", resource_guard=guard)
    make_vault(name="open")
    make_vault(name="dev-vault", rg=estate.rg_dev, location=estate.north)
    assignment = assign(
        "mua_enabled", estate.contoso, excluded_scopes=[{"level": "resource_group", "id": estate.rg_dev.pk}]
    )
    result = states(assignment)
    assert result == {
        "guarded": (S.COMPLIANT, "A Resource Guard protects the vault."),
        "open": (S.NON_COMPLIANT, "No Resource Guard protects the vault."),
    }


def test_cmk_and_redundancy_definitions_report_existing_vaults(estate, assign, make_vault):
    from vaults.models import EncryptionKey

    key = EncryptionKey.objects.create(resource_group=estate.rg_prod, name="key")
    make_vault(name="cmk", encryption="customer_managed", encryption_key=key)
    make_vault(name="platform-grs", redundancy="GRS")
    cmk = assign("vault_cmk", estate.prod)
    redundancy = assign("disallowed_redundancy", estate.prod, parameters={"redundancies": ["GRS"]})
    assert states(cmk)["cmk"][0] == S.COMPLIANT
    assert states(cmk)["platform-grs"][0] == S.NON_COMPLIANT
    assert states(redundancy)["cmk"][0] == S.COMPLIANT
    assert states(redundancy)["platform-grs"][0] == S.NON_COMPLIANT


def test_policy_minimums_check_retention_days_and_interval(estate, assign, make_vault, make_policy):
    vault = make_vault()
    make_policy(vault, name="good", retention={"daily_count": 35})
    make_policy(vault, name="short", retention={"daily_count": 7})
    make_policy(
        vault,
        name="rare",
        schedule={"frequency": "weekly", "weekdays": [0], "times": ["01:00"], "timezone": "UTC"},
        retention={"weekly_count": 10, "weekly_weekday": 0},
    )
    make_policy(
        vault,
        name="hourly",
        schedule={"frequency": "hourly", "interval_hours": 4, "window_start": "00:00", "window_hours": 24},
        retention={"daily_count": 40},
    )
    assignment = assign("policy_min_retention_frequency", estate.prod, parameters={"min_retention_days": 35})
    result = states(assignment)
    assert result["good"][0] == result["hourly"][0] == S.COMPLIANT
    assert result["short"] == (S.NON_COMPLIANT, "Policy short keeps recovery points 7 days (at least 35 required).")
    assert result["rare"][0] == S.NON_COMPLIANT and "runs every 168 hours" in result["rare"][1]


def test_last_recovery_point_definition_uses_the_age_parameter(estate, assign, make_vault, make_datasource, protect):
    from vaults.models import BackupInstance, RecoveryPoint

    vault = make_vault()
    now = timezone.now()
    fresh, stale, new = (protect(make_datasource(name=n), vault) for n in ("fresh", "stale", "new"))
    BackupInstance.objects.filter(pk__in=[fresh.pk, stale.pk]).update(created=now - timedelta(days=5))
    RecoveryPoint.objects.create(instance=fresh, snapshot_id="a" * 64, created=now - timedelta(hours=3))
    RecoveryPoint.objects.create(instance=stale, snapshot_id="b" * 64, created=now - timedelta(hours=30))
    assignment = assign("last_recovery_point_age", estate.prod, parameters={"max_age_hours": 24})
    result = states(assignment)
    assert result["fresh"][0] == S.COMPLIANT
    assert result["stale"] == (S.NON_COMPLIANT, "No recovery point in the last 24 hours.")
    assert result["new"][0] == S.UNKNOWN


def test_restore_drill_definition_needs_a_successful_restore_in_the_period(
    estate, assign, make_vault, make_datasource, protect
):
    from monitoring.models import Job
    from vaults.models import BackupInstance

    vault = make_vault()
    now = timezone.now()
    drilled, failed = protect(make_datasource(name="drilled"), vault), protect(make_datasource(name="failed"), vault)
    BackupInstance.objects.update(created=now - timedelta(days=90))
    Job.objects.create(
        operation="restore",
        status="completed",
        instance=drilled,
        tenant_id=drilled.tenant_id,
        ended=now - timedelta(days=3),
    )
    Job.objects.create(operation="restore", status="failed", instance=failed, tenant_id=failed.tenant_id, ended=now)
    assignment = assign("restore_drill", estate.prod, parameters={"days": 30})
    assert states(assignment)["drilled"][0] == S.COMPLIANT
    assert states(assignment)["failed"] == (S.NON_COMPLIANT, "No successful restore in the last 30 days.")


def test_history_records_changes_and_state_since_survives_unchanged_evaluations(
    estate, assign, make_vault, make_datasource, protect
):
    ds = make_datasource(name="tracked")
    assignment = assign("backup_enabled", estate.rg_prod)
    first = assignment.results.get(resource_name="tracked")
    assert first.state == S.NON_COMPLIANT
    later = timezone.now() + timedelta(minutes=5)
    evaluate([assignment], now=later)
    assert assignment.results.get(resource_name="tracked").state_since == first.state_since
    protect(ds, make_vault())
    evaluate([assignment], now=later + timedelta(minutes=5))
    result = assignment.results.get(resource_name="tracked")
    assert result.state == S.COMPLIANT and result.state_since == later + timedelta(minutes=5)
    changes = list(ComplianceChange.objects.filter(resource_id=ds.pk).order_by("changed_at"))
    assert [(c.old_state, c.new_state) for c in changes] == [("", S.NON_COMPLIANT), (S.NON_COMPLIANT, S.COMPLIANT)]
    assert ComplianceSnapshot.objects.filter(assignment=assignment).count() == 3


def test_a_resource_that_leaves_the_scope_loses_its_result(estate, assign, make_datasource):
    from inventory.models import Datasource

    ds = make_datasource(name="leaving")
    assignment = assign("backup_enabled", estate.rg_prod)
    assert "leaving" in states(assignment)
    Datasource.objects.filter(pk=ds.pk).update(kind="postgresql")
    assignment.parameters = {"kinds": ["files"]}
    assignment.save()
    evaluate([assignment])
    assert "leaving" not in states(assignment)


def test_evaluation_query_count_does_not_grow_with_resources(
    estate, assign, make_datasource, django_assert_max_num_queries
):
    assignment = assign("backup_enabled", estate.contoso)
    for n in range(30):
        make_datasource(name=f"many-{n}")
    with django_assert_max_num_queries(12):
        evaluate([assignment])
    assert len(states(assignment)) == 32  # share-prod, share-dev and the 30 new ones
