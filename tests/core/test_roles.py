"""The role table: exactly which actions each role grants."""

import pytest

from core.roles import ROLE_ACTIONS, Action, Role, role_grants

EXPECTED = {
    Role.READER: {"view"},
    Role.OPERATOR: {"view", "operate"},
    Role.CONTRIBUTOR: {"view", "operate", "change", "delete"},
    Role.OWNER: {"view", "operate", "change", "delete", "manage_access"},
    Role.SECURITY_ADMIN: {"view", "manage_guard", "approve_access"},
}


def test_every_role_is_in_the_table():
    assert set(ROLE_ACTIONS) == set(Role.values) == set(EXPECTED)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_each_role_grants_exactly_its_actions(role, action):
    assert role_grants(role, action) is (action.value in EXPECTED[role])


def test_only_security_admins_manage_guards_and_approve_access_so_owners_cannot_approve_their_own_requests():
    for action in (Action.MANAGE_GUARD, Action.APPROVE_ACCESS):
        assert [r for r in Role if role_grants(r, action)] == [Role.SECURITY_ADMIN]


def test_an_unknown_role_grants_nothing():
    assert not any(role_grants("superhero", action) for action in Action)
