"""The gate: scope_q at each scope level, the container-visibility rule, group assignments, has_permission."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from core.exceptions import PermissionDenied
from core.permissions import SystemActor, ensure_permission, has_permission, scope_q
from core.roles import Role
from inventory import services
from inventory.models import Connector, Datasource, ResourceGroup, RoleAssignment, Subscription, Tenant
from tests.factories import DatasourceFactory, ResourceGroupFactory, UserFactory


def visible(model, user, action="view") -> set[str]:
    return set(model.objects.for_user(user, action).values_list("name", flat=True))


@pytest.fixture
def dana(estate):
    """A user with no role yet, for tests that give her one at a chosen level."""
    return UserFactory(username="dana")


def grant(estate, user, role, scope):
    return services.role_assignment_create(actor=SystemActor(), role=role, scope=scope, user=user)


def test_a_tenant_role_reaches_every_subscription_group_and_datasource_of_the_tenant(estate, dana):
    grant(estate, dana, Role.READER, estate.contoso)
    assert visible(Datasource, dana) == {"share-prod", "share-dev"}
    assert visible(Subscription, dana) == {"prod", "dev"}
    assert visible(ResourceGroup, dana) == {"rg-prod", "rg-dev"}
    assert visible(Tenant, dana) == {"contoso"}


def test_a_subscription_role_reaches_only_that_subscription(estate):
    assert visible(Datasource, estate.bob) == {"share-prod"}
    assert visible(Connector, estate.bob) == {"host-prod"}
    assert visible(ResourceGroup, estate.bob) == {"rg-prod"}


def test_a_resource_group_role_reaches_only_that_group(estate, dana):
    other = ResourceGroupFactory(subscription=estate.prod, name="rg-other")
    DatasourceFactory(resource_group=other, location=estate.west, name="other-share")
    grant(estate, dana, Role.CONTRIBUTOR, other)
    assert visible(Datasource, dana) == {"other-share"}
    assert visible(Datasource, dana, "change") == {"other-share"}
    assert visible(ResourceGroup, dana) == {"rg-other"}


def test_containers_above_a_role_are_visible_for_navigation_but_grant_nothing(estate):
    """Container visibility: bob (reader on prod) sees tenant contoso to navigate to prod, but nothing else in it,
    and seeing it gives no right to act on it."""
    assert visible(Tenant, estate.bob) == {"contoso"}
    assert visible(Subscription, estate.bob) == {"prod"}
    assert visible(Tenant, estate.alice, "change") == set()
    assert has_permission(estate.bob, "view", estate.contoso) is False
    assert visible(Tenant, estate.sam) == {"contoso"}


def test_a_resource_group_role_makes_its_subscription_and_tenant_visible(estate, dana):
    grant(estate, dana, Role.READER, estate.rg_dev)
    assert visible(Subscription, dana) == {"dev"}
    assert visible(Tenant, dana) == {"contoso"}
    assert visible(Datasource, dana) == {"share-dev"}


def test_the_action_decides_which_grants_count(estate):
    assert visible(Datasource, estate.bob, "change") == set()
    assert visible(Datasource, estate.alice, "delete") == {"share-prod"}
    assert visible(Datasource, estate.alice, "manage_access") == set()
    assert visible(Datasource, estate.oscar, "manage_access") == {"share-prod"}
    assert visible(Datasource, estate.sam, "approve_access") == {"share-prod", "share-dev"}


def test_no_role_means_no_rows_and_anonymous_users_get_none(estate):
    assert visible(Datasource, estate.charlie) == set()
    assert visible(Tenant, estate.charlie) == set()
    assert not Datasource.objects.for_user(AnonymousUser()).exists()
    assert has_permission(AnonymousUser(), "view", estate.ds_prod) is False


def test_superusers_and_the_system_actor_are_not_limited(estate):
    assert scope_q(estate.admin, Datasource, "delete") is None
    assert scope_q(SystemActor(), Datasource, "delete") is None
    assert len(visible(Datasource, estate.admin)) == 3


def test_an_inactive_superuser_is_limited_like_anyone_else(estate):
    estate.admin.is_active = False
    assert scope_q(estate.admin, Datasource, "view") is not None
    assert has_permission(estate.admin, "view", estate.ds_prod) is False


def test_a_role_given_to_a_group_applies_to_its_members(estate, dana):
    """GIVEN group operators holding operator on dev
    WHEN dana joins the group
    THEN she sees and may operate dev's datasources but not change them; leaving the group removes both."""
    operators = Group.objects.create(name="operators")
    services.role_assignment_create(actor=SystemActor(), role=Role.OPERATOR, scope=estate.dev, group=operators)
    assert visible(Datasource, dana) == set()
    dana.groups.add(operators)
    dana = type(dana).objects.get(pk=dana.pk)  # a fresh user object, as a new request would load
    assert visible(Datasource, dana) == {"share-dev"}
    assert has_permission(dana, "operate", estate.ds_dev)
    assert not has_permission(dana, "change", estate.ds_dev)
    dana.groups.remove(operators)
    dana = type(dana).objects.get(pk=dana.pk)
    assert visible(Datasource, dana) == set()


def test_role_assignments_are_seen_at_their_own_scope(estate):
    assert {a.user.username for a in RoleAssignment.objects.for_user(estate.bob)} == {"alice", "bob", "oscar"}
    assert RoleAssignment.objects.for_user(estate.charlie).count() == 0


def test_ensure_permission_refuses_with_a_readable_message(estate):
    ensure_permission(estate.alice, "change", scope=estate.ds_prod)
    ensure_permission(SystemActor(), "delete", scope=estate.ds_fab)
    with pytest.raises(PermissionDenied, match="permission to change share-prod"):
        ensure_permission(estate.bob, "change", scope=estate.ds_prod)
    with pytest.raises(PermissionDenied, match="No acting user"):
        ensure_permission(None, "view", scope=estate.ds_prod)


def test_the_grant_cache_lives_on_the_user_object_for_one_request(estate, django_assert_num_queries):
    bob = type(estate.bob).objects.get(pk=estate.bob.pk)
    with django_assert_num_queries(1):
        for _ in range(5):
            has_permission(bob, "view", estate.ds_prod)
