"""The REST API of vaults, keys, backup instances and recovery points: a permission matrix over every endpoint and
action (behaviour of each endpoint: test_api_behaviour.py)."""

import pytest
from django.urls import resolve, reverse

from tests.matrix import Row, named_routes
from tests.vaults.api_world import (
    A_CHANGE,
    A_CREATE,
    A_DETAIL,
    A_LIST,
    answers,
    detail_marker,
    longer_policy,
    matrix_cells,
    restore_payload,
    run_cell,
    side,
)

# The matrix ----------------------------------------------------------------------------------------------------------


APIS: dict[str, Row] = {
    "api:vaults:api-root": Row(expect={"GET": A_LIST}),
    "api:vaults:vault-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE},
        payload=lambda e, w: {
            "resource_group": (e.rg_fab if w == "outside" else e.rg_prod).pk,
            "location": e.west.pk,
            "name": "vault-new",
        },
        marker=detail_marker("api:vaults:vault-detail", "vault"),
    ),
    "api:vaults:vault-detail": Row(
        target="vault",
        # A vault that protects items refuses deletion (409 vault_not_empty); test_api deletes an empty one.
        expect={"GET": A_DETAIL, "PATCH": A_CHANGE, "DELETE": answers(A_CHANGE, 409)},
        payload=lambda e, w: {"soft_delete_days": 30},
    ),
    "api:vaults:encryptionkey-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE},
        payload=lambda e, w: {"resource_group": (e.rg_fab if w == "outside" else e.rg_prod).pk, "name": "key-new"},
        marker=detail_marker("api:vaults:encryptionkey-detail", "encryptionkey"),
    ),
    "api:vaults:encryptionkey-detail": Row(target="encryptionkey", expect={"GET": A_DETAIL}),
    "api:vaults:encryptionkey-rotate": Row(target="encryptionkey", expect={"POST": answers(A_CHANGE, 201)}),
    "api:vaults:encryptionkey-enable": Row(target="encryptionkey", expect={"POST": A_CHANGE}),
    "api:vaults:encryptionkey-disable": Row(target="encryptionkey", expect={"POST": A_CHANGE}),
    "api:vaults:backupinstance-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE},
        payload=lambda e, w: {"datasource": side(e, w)["spare_datasource"].pk, "vault": side(e, w)["vault"].pk},
        marker=detail_marker("api:vaults:backupinstance-detail", "backupinstance"),
    ),
    "api:vaults:backupinstance-detail": Row(target="backupinstance", expect={"GET": A_DETAIL}),
    "api:vaults:backupinstance-backup": Row(target="backupinstance", expect={"POST": answers(A_CHANGE, 201)}),
    "api:vaults:backupinstance-restore": Row(
        target="backupinstance", expect={"POST": answers(A_CHANGE, 201)}, payload=restore_payload
    ),
    "api:vaults:backupinstance-change-policy": Row(
        target="backupinstance", expect={"POST": A_CHANGE}, payload=lambda e, w: {"policy": longer_policy(e, w).pk}
    ),
    "api:vaults:backupinstance-stop-protection": Row(target="backupinstance", expect={"POST": A_CHANGE}),
    "api:vaults:backupinstance-resume-protection": Row(target="stoppedinstance", expect={"POST": A_CHANGE}),
    "api:vaults:recoverypoint-list": Row(
        expect={"GET": A_LIST}, marker=detail_marker("api:vaults:recoverypoint-detail", "recoverypoint")
    ),
    "api:vaults:recoverypoint-detail": Row(target="recoverypoint", expect={"GET": A_DETAIL}),
}


MINE = {"vault", "encryptionkey", "backupinstance", "recoverypoint"}


def built_here(name: str) -> bool:
    """Whether a route serves an endpoint or action of `vaults.api.views` (others, such as the security actions of
    `vaults.api.security`, have their own matrix)."""
    basename, _, suffix = name.removeprefix("api:vaults:").partition("-")
    if name == "api:vaults:api-root" or (basename in MINE and suffix in ("list", "detail")):
        return True
    if basename not in MINE:
        return False
    view = resolve(reverse(name, args=[1])).func
    handler = getattr(view.cls, next(iter(view.actions.values())))
    return handler.__module__ == "vaults.api.views"


def test_every_vaults_api_route_has_a_row_in_the_matrix():
    routes = named_routes({"api:vaults"}, root_names=False)
    missing = {name for name in routes if built_here(name)} - set(APIS)
    assert not missing, f"add these routes to the permission matrix: {sorted(missing)}"
    assert not set(APIS) - routes, f"the matrix names routes that no longer exist: {sorted(set(APIS) - routes)}"


@pytest.mark.parametrize(("name", "method", "persona"), list(matrix_cells(APIS)))
def test_vaults_api_answers_each_persona_as_the_matrix_says(api_estate, api_for, name, method, persona):
    run_cell(api_estate, api_for, APIS, name, method, persona)


def test_keys_and_instances_cannot_be_edited_or_deleted_through_the_api(api_estate, api_for):
    client = api_for("alice")
    for route, key in (
        ("api:vaults:encryptionkey-detail", "encryptionkey"),
        ("api:vaults:backupinstance-detail", "backupinstance"),
    ):
        url = reverse(route, args=[api_estate.inside[key].pk])
        assert client.patch(url, {"name": "x"}, format="json").status_code == 405
        assert client.delete(url).status_code == 405
