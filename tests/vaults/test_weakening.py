"""Weakening protection, the rule of `policies.services.ensure_not_weaker` as seen through the service, the pages and
the API: backing up less often needs approved access on a guarded vault, keeping longer or moving to a stronger
policy needs none, an immutable vault refuses any retention cut even with approval, a cut raises the Sev0
security alert, and an approval counts only while its approver is still a security admin of the guard.

The matrix of request states for `reduce_retention` and `move_to_weaker_policy` is in test_security_matrix.
"""

import pytest

from core.exceptions import DomainError
from core.models import ChangeRecord
from core.permissions import SystemActor
from inventory.services import role_assignment_delete
from monitoring.choices import AlertCategory, Severity
from monitoring.models import Alert
from policies.models import BackupPolicy
from policies.services import policy_create, policy_update
from tests.vaults.security_world import (
    guarded_vault,
    let_alice_read_guards,
    make_guard,
    make_protected,
    make_vault_row,
    put_request_in_state,
)
from tests.vaults.test_security_matrix import ENTRY_POINTS, SHORTER, Op, attempt, fresh, policy_form
from vaults import services
from vaults.choices import AccessRequestStatus, ProtectedOperation
from vaults.models import AccessRequest, BackupInstance
from vaults.security import AuthorizationRequired

TWICE_A_DAY = {"frequency": "daily", "times": ["02:00", "14:00"], "timezone": "UTC"}
ONCE_A_DAY = {"frequency": "daily", "times": ["02:00"], "timezone": "UTC"}
KEEP_30 = {"daily_count": 30}


@pytest.fixture
def guard(estate):
    let_alice_read_guards(estate)
    return make_guard(estate)


def second_policy(estate, vault, name: str, schedule: dict, retention: dict) -> BackupPolicy:
    return policy_create(
        actor=estate.alice, vault=vault, name=name, datasource_kind="files", schedule=schedule, retention=retention
    )


def twice_a_day(estate, world, extra):
    """The instance's policy backs up twice a day; the change under test makes it once a day."""
    policy = world.instance.policy
    policy_update(actor=SystemActor("test-setup"), policy=policy, schedule=TWICE_A_DAY)
    extra["policy"] = fresh(BackupPolicy, policy)


def stronger_policy(estate, world, extra):
    extra["target"] = second_policy(estate, world.vault, "keep-a-quarter", ONCE_A_DAY, {"daily_count": 90})


def changed(world, extra) -> bool:
    """Whether the policy no longer backs up twice a day and keeps 30 days."""
    policy = fresh(BackupPolicy, extra["policy"])
    return policy.schedule.get("times") != TWICE_A_DAY["times"] or policy.retention.get("daily_count") != 30


def move_to(key: str, prepare=lambda estate, world, extra: None) -> Op:
    """Move the world's instance to the policy `extra[key]` (service, change-policy page action, API action)."""

    def service(e, w, x):
        return services.instance_change_policy(actor=e.alice, instance=w.instance, policy=x[key])

    def page(c, w, x):
        return c.post(f"/vaults/instances/{w.instance.pk}/change-policy/", {"policy": x[key].pk})

    def api(a, w, x):
        return a.post(f"/api/vaults/backup-instances/{w.instance.pk}/change-policy/", {"policy": x[key].pk}, "json")

    return Op(
        prepare=prepare,
        service=service,
        page=page,
        api=api,
        admin=None,
        done=lambda w, x: fresh(BackupInstance, w.instance).policy_id == x[key].pk,
    )


def policy_change(changes: dict, form_changes: dict) -> Op:
    """Change the instance's policy with `changes` (service, API) or `form_changes` (the editor page)."""
    return Op(
        prepare=twice_a_day,
        service=lambda e, w, x: policy_update(actor=e.alice, policy=x["policy"], **changes),
        page=lambda c, w, x: c.post(
            f"/policies/{x['policy'].pk}/edit/", policy_form(x["alice"], x["policy"], **form_changes)
        ),
        api=lambda a, w, x: a.patch(f"/api/policies/backup-policies/{x['policy'].pk}/", changes, format="json"),
        admin=None,
        done=changed,
    )


CHANGES = {
    # daily at 02:00 and 14:00 → daily at 02:00: fewer runs per day
    "backs_up_less_often": (policy_change({"schedule": ONCE_A_DAY}, {"times": "02:00"}), True),
    # keep 30 → 60 daily points, same schedule
    "keeps_longer": (policy_change({"retention": {"daily_count": 60}}, {"daily_count": "60"}), False),
    # move the instance to a policy that keeps 90 days
    "moves_to_a_stronger_policy": (
        move_to("target", prepare=stronger_policy),
        False,
    ),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("change", list(CHANGES))
def test_only_backing_up_less_often_needs_approval_keeping_longer_or_a_stronger_policy_does_not(
    change, entry, estate, guard, client_for, api_for
):
    """GIVEN a vault guarded by sam's guard (protecting reduce_retention and move_to_weaker_policy) whose instance's
    policy backs up twice a day and keeps 30 days
    WHEN alice, without any access request, makes it back up once a day, keep 60 days, or moves the instance to a
    policy keeping 90 days; and again on a fresh vault with a request approved by sam
    THEN backing up less often is refused without approval and runs with it (consuming the request); the other two
    run without approval and leave an approved request unused."""
    op, needs_approval = CHANGES[change]
    operation = "move_to_weaker_policy" if change == "moves_to_a_stronger_policy" else "reduce_retention"
    outcomes = {}
    for state in ("none", "approved"):
        world = guarded_vault(estate, guard)
        extra = {"alice": estate.alice}
        op.prepare(estate, world, extra)
        request = put_request_in_state(estate, world, operation, state)
        ran = attempt(entry, op, estate, world, extra, client_for, api_for)
        outcomes[state] = (ran, op.done(world, extra))
        if request is not None:
            request.refresh_from_db()
            used = AccessRequestStatus.USED if needs_approval else AccessRequestStatus.APPROVED
            assert request.status == used
    assert outcomes == {"none": (not needs_approval, not needs_approval), "approved": (True, True)}


def test_a_used_approval_does_not_allow_a_second_retention_cut(estate, guard):
    """GIVEN a guarded vault whose instance's policy keeps 30 days, and alice's request approved by sam
    WHEN alice cuts retention to 14 days, then to 7 days
    THEN the first cut runs and uses the request; the second is refused with mua_required and keeps 14 days."""
    world = guarded_vault(estate, guard)
    request = put_request_in_state(estate, world, ProtectedOperation.REDUCE_RETENTION, "approved")
    policy_update(actor=estate.alice, policy=world.instance.policy, retention={"daily_count": 14})
    assert AccessRequest.objects.get(pk=request.pk).status == AccessRequestStatus.USED
    with pytest.raises(AuthorizationRequired) as refused:
        policy_update(actor=estate.alice, policy=world.instance.policy, retention={"daily_count": 7})
    assert refused.value.code == "mua_required"
    assert fresh(BackupPolicy, world.instance.policy).retention["daily_count"] == 14


# Immutable vaults --------------------------------------------------------------------------------------------------

CUTS = {
    "reduce_retention": Op(
        service=lambda e, w, x: policy_update(actor=e.alice, policy=w.instance.policy, retention=SHORTER),
        page=lambda c, w, x: c.post(
            f"/policies/{w.instance.policy_id}/edit/", policy_form(x["alice"], w.instance.policy, daily_count="7")
        ),
        api=lambda a, w, x: a.patch(
            f"/api/policies/backup-policies/{w.instance.policy_id}/", {"retention": SHORTER}, format="json"
        ),
        admin=None,
        done=lambda w, x: fresh(BackupPolicy, w.instance.policy).retention["daily_count"] == 7,
    ),
    "move_to_weaker_policy": move_to("weaker"),
}
IMMUTABLE_MESSAGE = "is immutable"


def attempt_on_immutable(entry: str, op: Op, estate, world, extra, client_for, api_for) -> str:
    """Run the cut as alice through one entry point; returns the refusal code it got (the cut must not run)."""
    if entry == "service":
        with pytest.raises(DomainError) as refused:
            op.service(estate, world, extra)
        return refused.value.code
    if entry == "page":
        client = client_for("alice")
        response = op.page(client, world, extra)
        assert response.status_code in (200, 302), response.status_code
        text = (client.get(response["Location"]) if response.status_code == 302 else response).content.decode()
        assert IMMUTABLE_MESSAGE in text, "the refusal must be explained on the page"
        return "vault_immutable"
    response = op.api(api_for("alice"), world, extra)
    assert response.status_code == 409, (response.status_code, response.content[:300])
    assert IMMUTABLE_MESSAGE in response.json()["detail"]
    return response.json()["code"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("immutability", ["unlocked", "locked"])
@pytest.mark.parametrize("operation", list(CUTS))
def test_an_immutable_vault_refuses_a_retention_cut_even_with_approval(
    operation, immutability, entry, estate, guard, client_for, api_for
):
    """GIVEN a guarded vault with immutability unlocked or locked, its instance under the 30-day default policy, a
    7-day policy beside it, and alice holding a request for the operation approved by sam
    WHEN alice shortens the policy's retention to 7 days, or moves the instance to the 7-day policy
    THEN it is refused with vault_immutable, nothing changes, no security alert is raised and the approval is
    left unused (immutability is checked before the approval is spent)."""
    op = CUTS[operation]
    world = guarded_vault(estate, guard, immutability=immutability)
    extra = {"alice": estate.alice, "weaker": second_policy(estate, world.vault, "keep-a-week", ONCE_A_DAY, SHORTER)}
    request = put_request_in_state(estate, world, operation, "approved")
    code = attempt_on_immutable(entry, op, estate, world, extra, client_for, api_for)
    assert code == "vault_immutable"
    assert not op.done(world, extra)
    assert not Alert.objects.filter(vault=world.vault, category=AlertCategory.SECURITY).exists()
    assert AccessRequest.objects.get(pk=request.pk).status == AccessRequestStatus.APPROVED


def test_an_immutable_vault_still_allows_keeping_longer_without_approval(estate, guard):
    """GIVEN a guarded vault with locked immutability WHEN alice lengthens retention from 30 to 60 days without a
    request THEN the change runs: immutability and MUA only hold back changes that keep less."""
    world = guarded_vault(estate, guard, immutability="locked")
    policy_update(actor=estate.alice, policy=world.instance.policy, retention={"daily_count": 60})
    assert fresh(BackupPolicy, world.instance.policy).retention["daily_count"] == 60


# What a retention cut leaves behind ----------------------------------------------------------------------------------


def test_a_retention_cut_raises_a_sev0_security_alert_and_writes_a_change_record(estate):
    """GIVEN an unguarded, mutable vault whose instance's policy keeps 30 days
    WHEN alice cuts the policy to 7 days
    THEN a Sev0 security alert "Modify policy with shorter retention" fires on the vault, naming the cut and alice;
    the activity log holds the update and a retention_shortened record of the policy."""
    vault = make_vault_row(estate)
    instance, _ = make_protected(estate, vault)
    policy = instance.policy
    policy_update(actor=estate.alice, policy=policy, retention=SHORTER)
    alert = Alert.objects.get(vault=vault, rule_key="security.retention_shortened")
    assert alert.severity == Severity.SEV0 and alert.category == AlertCategory.SECURITY
    assert alert.name == "Modify policy with shorter retention"
    assert "daily 30 → 7" in alert.description and "alice" in alert.description
    record = ChangeRecord.objects.get(
        object_type="policies.backuppolicy", object_id=str(policy.pk), action="retention_shortened"
    )
    assert "daily 30 → 7" in record.message
    assert record.before["retention"]["daily_count"] == 30 and record.after["retention"]["daily_count"] == 7


def test_lengthening_retention_raises_no_security_alert(estate):
    """GIVEN an unguarded vault WHEN alice lengthens retention from 30 to 60 days THEN no security alert fires and
    no retention_shortened record is written."""
    vault = make_vault_row(estate)
    instance, _ = make_protected(estate, vault)
    policy_update(actor=estate.alice, policy=instance.policy, retention={"daily_count": 60})
    assert not Alert.objects.filter(vault=vault, category=AlertCategory.SECURITY).exists()
    assert not ChangeRecord.objects.filter(action="retention_shortened").exists()


# Approvals from someone who is no longer a security admin ------------------------------------------------------------


@pytest.mark.parametrize("operation", list(CUTS))
def test_an_approval_no_longer_counts_once_its_approver_lost_the_security_admin_role(operation, estate, guard):
    """GIVEN a guarded vault with a 7-day policy beside its 30-day one, and alice's request approved by sam
    WHEN sam's security admin role assignment is deleted, then alice runs the operation
    THEN it is refused with mua_required, nothing changes and the request is not used."""
    op = CUTS[operation]
    world = guarded_vault(estate, guard)
    extra = {"alice": estate.alice, "weaker": second_policy(estate, world.vault, "keep-a-week", ONCE_A_DAY, SHORTER)}
    request = put_request_in_state(estate, world, operation, "approved")
    role_assignment_delete(actor=estate.admin, assignment=estate.grants["sam"])
    with pytest.raises(AuthorizationRequired) as refused:
        op.service(estate, world, extra)
    assert refused.value.code == "mua_required"
    assert not op.done(world, extra)
    assert AccessRequest.objects.get(pk=request.pk).status == AccessRequestStatus.APPROVED


# The change-policy page and API action -------------------------------------------------------------------------------


def test_a_refused_move_on_the_page_links_to_the_access_request_form(estate, guard, client_for):
    """GIVEN a guarded vault with a 7-day policy beside the instance's 30-day one, and no access request
    WHEN alice opens the instance page and submits Change policy with the 7-day policy
    THEN the page offers the 7-day policy, the move is refused, and the message links to the access request form
    of the vault with the operation chosen."""
    world = guarded_vault(estate, guard)
    weaker = second_policy(estate, world.vault, "keep-a-week", ONCE_A_DAY, SHORTER)
    client = client_for("alice")
    page = client.get(f"/vaults/instances/{world.instance.pk}/").content.decode()
    assert 'id="change-policy-form"' in page and f'value="{weaker.pk}"' in page
    response = client.post(f"/vaults/instances/{world.instance.pk}/change-policy/", {"policy": weaker.pk}, follow=True)
    text = response.content.decode()
    assert f"/vaults/{world.vault.pk}/request-access/?operation=move_to_weaker_policy" in text
    assert fresh(BackupInstance, world.instance).policy_id != weaker.pk


def test_a_reader_gets_no_change_policy_form_and_cannot_post_it(estate, client_for):
    """GIVEN an instance in prod with a second policy in its vault WHEN bob (reader) opens the instance page and
    posts Change policy THEN the form is not shown, the post is 403 and the instance keeps its policy."""
    vault = make_vault_row(estate)
    instance, _ = make_protected(estate, vault)
    other = second_policy(estate, vault, "keep-a-quarter", ONCE_A_DAY, {"daily_count": 90})
    client = client_for("bob")
    assert 'id="change-policy-form"' not in client.get(f"/vaults/instances/{instance.pk}/").content.decode()
    assert client.post(f"/vaults/instances/{instance.pk}/change-policy/", {"policy": other.pk}).status_code == 403
    assert fresh(BackupInstance, instance).policy_id == instance.policy_id


def test_a_policy_of_another_vault_is_refused_by_page_and_api(estate, client_for, api_for):
    """GIVEN two vaults of alice, each with a files policy WHEN alice moves an instance of the first vault to the
    second vault's policy through the API and the page THEN the API answers 400 naming `policy`, the page shows an
    error, and the instance keeps its policy."""
    vault, other_vault = make_vault_row(estate), make_vault_row(estate)
    instance, _ = make_protected(estate, vault)
    foreign = second_policy(estate, other_vault, "elsewhere", ONCE_A_DAY, {"daily_count": 90})
    url = f"/api/vaults/backup-instances/{instance.pk}/change-policy/"
    response = api_for("alice").post(url, {"policy": foreign.pk}, format="json")
    assert response.status_code == 400 and "policy" in response.json()
    page = client_for("alice").post(
        f"/vaults/instances/{instance.pk}/change-policy/", {"policy": foreign.pk}, follow=True
    )
    assert "Select a valid choice" in page.content.decode()
    assert fresh(BackupInstance, instance).policy_id == instance.policy_id


WEEKLY_MWF = {"frequency": "weekly", "times": ["02:00"], "weekdays": [0, 2, 4], "timezone": "UTC"}


@pytest.mark.parametrize(
    ("before", "after", "needs_approval"),
    [
        pytest.param(WEEKLY_MWF, {**WEEKLY_MWF, "weekdays": [0]}, True, id="weekly-3-days-to-1"),
        pytest.param(ONCE_A_DAY, WEEKLY_MWF, True, id="daily-to-weekly-3-days"),
        pytest.param(ONCE_A_DAY, {**WEEKLY_MWF, "weekdays": list(range(7))}, False, id="daily-to-weekly-every-day"),
        pytest.param(WEEKLY_MWF, ONCE_A_DAY, False, id="weekly-to-daily"),
    ],
)
def test_backing_up_on_fewer_days_of_the_week_needs_approval(before, after, needs_approval, estate, guard):
    """GIVEN a guarded vault whose policy backs up on the `before` schedule, keeping 30 days
    WHEN alice changes it to the `after` schedule without an access request
    THEN fewer runs per week (fewer weekdays, or weekly on some days instead of daily) is refused with
    mua_required; as many or more runs per week goes through."""
    world = guarded_vault(estate, guard)
    policy = world.instance.policy
    policy_update(actor=SystemActor("test-setup"), policy=policy, schedule=before)
    if needs_approval:
        with pytest.raises(AuthorizationRequired):
            policy_update(actor=estate.alice, policy=policy, schedule=after)
        assert fresh(BackupPolicy, policy).schedule["frequency"] == before["frequency"]
    else:
        policy_update(actor=estate.alice, policy=policy, schedule=after)
        assert fresh(BackupPolicy, policy).schedule["frequency"] == after["frequency"]


def test_moving_an_instance_to_a_policy_that_keeps_less_raises_a_sev0_security_alert(estate):
    """GIVEN an unguarded, mutable vault with an instance under the 30-day default policy and a 7-day policy beside it
    WHEN alice moves the instance to the 7-day policy, then back
    THEN the first move raises the Sev0 alert "Modify protection with shorter retention" on that instance, naming the
    cut; moving back to the longer policy raises nothing more."""
    vault = make_vault_row(estate)
    instance, _ = make_protected(estate, vault)
    default = instance.policy
    weaker = second_policy(estate, vault, "keep-a-week", ONCE_A_DAY, SHORTER)
    services.instance_change_policy(actor=estate.alice, instance=instance, policy=weaker)
    alert = Alert.objects.get(vault=vault, rule_key="security.protection_retention_shortened")
    assert alert.severity == Severity.SEV0 and alert.instance_id == instance.pk
    assert "daily 30 → 7" in alert.description
    services.instance_change_policy(actor=estate.alice, instance=instance, policy=default)
    assert Alert.objects.filter(vault=vault, category=AlertCategory.SECURITY).count() == 1
    assert alert.__class__.objects.get(pk=alert.pk).occurrences == 1
