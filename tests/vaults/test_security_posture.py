"""Security posture (Azure Business Continuity Center's levels) for every combination of soft delete, immutability
and multi-user authorization: the level and advice of one vault, the list filter on the page and the API, and the
fields of the vault in the API."""

import itertools

import pytest

from tests.vaults.security_world import let_alice_read_guards, make_guard, make_vault_row
from vaults.choices import Immutability, Posture, SoftDeleteState
from vaults.models import Vault
from vaults.security import posture_q, vault_posture


def expected_level(soft_delete: str, immutability: str, mua: bool) -> str:
    """The reference table: irreversible (always-on or locked) and MUA → excellent; soft delete on or immutability
    locked → good; MUA alone → fair; nothing → poor. Unlocked immutability alone protects nothing."""
    irreversible = soft_delete == SoftDeleteState.ALWAYS_ON or immutability == Immutability.LOCKED
    protected = soft_delete != SoftDeleteState.DISABLED or immutability == Immutability.LOCKED
    if irreversible and mua:
        return Posture.EXCELLENT
    if protected:
        return Posture.GOOD
    return Posture.FAIR if mua else Posture.POOR


COMBINATIONS = list(itertools.product(SoftDeleteState.values, Immutability.values, [False, True]))


@pytest.fixture
def vaults(estate):
    """One vault per combination, named after it."""
    let_alice_read_guards(estate)
    guard = make_guard(estate)
    made = {}
    for soft_delete, immutability, mua in COMBINATIONS:
        name = f"v-{soft_delete}-{immutability}-{'mua' if mua else 'nomua'}".replace("_", "-")
        vault = make_vault_row(estate, name=name, soft_delete_state=soft_delete, immutability=immutability)
        if mua:
            Vault.objects.filter(pk=vault.pk).update(resource_guard=guard)
            vault.refresh_from_db()
        made[(soft_delete, immutability, mua)] = vault
    return made


def test_every_combination_has_the_level_of_the_reference_table_with_advice_to_go_up(vaults):
    """GIVEN one vault per combination of soft delete (3) × immutability (3) × MUA (2)
    WHEN its posture is computed, and when the vaults are filtered by level in the database
    THEN both give the reference level; every level below excellent says what to change."""
    for combination, vault in vaults.items():
        posture = vault_posture(vault)
        assert posture.level == expected_level(*combination), combination
        assert Vault.objects.filter(posture_q(posture.level), pk=vault.pk).exists(), combination
        if posture.level == Posture.EXCELLENT:
            assert posture.advice == "Nothing to change."
        else:
            assert "reach" in posture.advice, combination
    levels = {level: Vault.objects.filter(posture_q(level)).count() for level in Posture.values}
    assert sum(levels.values()) == len(vaults), "each vault is at exactly one level"
    assert levels == {"excellent": 5, "good": 9, "fair": 2, "poor": 2}


@pytest.mark.parametrize("level", Posture.values)
def test_the_vault_list_and_api_filter_by_security_level(level, vaults, client_for, api_for):
    """GIVEN the vaults of every combination in alice's scope
    WHEN alice filters the Vaults page and /api/vaults/vaults/ by security level
    THEN both list exactly the vaults at that level, and the API shows the level, the advice and the guard."""
    wanted = {v.name for c, v in vaults.items() if expected_level(*c) == level}
    page = client_for("alice").get("/vaults/", {"posture": level})
    assert page.status_code == 200
    html = page.content.decode()
    shown = {v.name for v in vaults.values() if f">{v.name}<" in html}
    assert shown == wanted
    response = api_for("alice").get("/api/vaults/vaults/", {"posture": level, "limit": 100})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {row["name"] for row in rows} == wanted
    for row in rows:
        assert row["security_level"] == level
        assert row["security_advice"]
        assert (row["resource_guard"] is not None) == row["name"].endswith("-mua")
        if row["resource_guard"]:
            assert row["resource_guard"]["display"] == "guard-contoso"
