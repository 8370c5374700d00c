"""Invariant 1 as a table: every page of the inventory, the backup policies, the activity log and the console shell,
and every API endpoint under /api/inventory/ and /api/core/, for every persona. A route added to the URLconf without
a row here fails `test_every_route_has_a_row_in_the_matrix`. /metrics is for Prometheus, not for signed-in users: it
is exempt from the session matrix and has its own test below."""

import pytest
from django.urls import reverse

from core.models import ChangeRecord
from core.permissions import SystemActor
from tests.factories import real_folder
from tests.matrix import DONE, LOGIN, PERSONAS, REFUSED, Row, check_api, check_page, named_routes

# Expected outcomes of GET pages ------------------------------------------------------------------------------------
VISIBLE = {"anon": LOGIN, "charlie": 200, "bob": 200, "alice": 200, "admin": 200}
SCOPED = {"anon": LOGIN, "charlie": 404, "bob": 200, "alice": 200, "alice_out": 404, "admin": 200}
CHANGE = {"anon": LOGIN, "charlie": 404, "bob": 403, "alice": 200, "alice_out": 404, "admin": 200}
ADMIN_SCOPED = {"anon": LOGIN, "charlie": 404, "bob": 403, "alice": 403, "alice_out": 404, "admin": 200}
ADMIN_ONLY = {"anon": LOGIN, "charlie": 403, "bob": 403, "alice": 403, "admin": 200}


def done(get: dict) -> dict:
    """The POST column matching a GET column: where the GET page opens, the write goes through."""
    return {p: (DONE if v == 200 else v) for p, v in get.items()}


CREATE = {"anon": LOGIN, "charlie": REFUSED, "bob": REFUSED, "alice": DONE, "alice_out": REFUSED, "admin": DONE}
CREATE_ADMIN = {**CREATE, "alice": REFUSED}


def link(key):
    return lambda e, where: f'href="{getattr(e, where)[key].get_absolute_url()}"'


def _page_payloads():
    def tenant(e, where):
        return {"name": getattr(e, where)["tenant"].name if where == "edit" else "newco", "description": "x"}

    def sub(e, where):
        return {"tenant": (e.fabrikam if where == "outside" else e.contoso).pk, "name": "qa"}

    def rg(e, where):
        return {"subscription": (e.main if where == "outside" else e.prod).pk, "name": "rg-new"}

    def location(e, where):
        return {"name": "south-europe", "display_name": "", "paired_region": "", "zones": "1"}

    def connector(e, where):
        group = e.rg_fab if where == "outside" else e.rg_prod
        return {
            "resource_group": group.pk,
            "location": e.west.pk,
            "name": "host-new",
            "kind": "host",
            "host": "local",
            "root_paths": real_folder(),
        }

    def datasource(e, where):
        group = e.rg_fab if where == "outside" else e.rg_prod
        return {
            "resource_group": group.pk,
            "location": e.west.pk,
            "kind": "files",
            "name": "share-new",
            "host": "local",
            "paths": real_folder(),
            "excludes": "",
            "tags": "",
        }

    def grant(e, where):
        scope = e.main if where == "outside" else e.prod
        return {"user": e.charlie.pk, "role": "reader", "scope_level": "subscription", "subscription": scope.pk}

    return {
        "tenant": tenant,
        "subscription": sub,
        "resourcegroup": rg,
        "location": location,
        "connector": connector,
        "datasource": datasource,
        "roleassignment": grant,
    }


ADD = _page_payloads()
EDIT = {
    "tenant": lambda e, t: {"name": t.name, "description": "changed"},
    "subscription": lambda e, t: {"name": t.name + "-x"},
    "resourcegroup": lambda e, t: {"name": t.name + "-x"},
    "location": lambda e, t: {"name": t.name, "display_name": "Changed", "paired_region": "", "zones": "1"},
    "connector": lambda e, t: {
        "location": e.west.pk,
        "name": t.name,
        "host": "local",
        "root_paths": "\n".join(t.settings["root_paths"]),
    },
    "datasource": lambda e, t: {
        "location": e.west.pk,
        "name": t.name,
        "host": "local",
        "paths": "\n".join(t.connection["paths"]),
        "excludes": "",
        "tags": "",
    },
}


def crud_rows(key: str, detail: dict, change: dict, create: dict, list_marker=True) -> dict[str, Row]:
    name = f"inventory:{key}"
    return {
        f"{name}_list": Row(expect={"GET": VISIBLE}, marker=link(key) if list_marker else None),
        f"{name}_add": Row(expect={"GET": VISIBLE, "POST": create}, payload=ADD[key]),
        f"{name}_detail": Row(target=key, expect={"GET": detail}),
        f"{name}_edit": Row(target=key, expect={"GET": change, "POST": done(change)}, payload=EDIT.get(key)),
        f"{name}_delete": Row(target=key, expect={"GET": change, "POST": done(change)}),
    }


LOCATION_DETAIL = {**VISIBLE}
PAGES: dict[str, Row] = {
    "overview": Row(expect={"GET": VISIBLE}),
    "inventory:home": Row(expect={"GET": VISIBLE}),
    "inventory:protectable": Row(expect={"GET": VISIBLE}, marker=link("datasource")),
    "core:activity": Row(expect={"GET": VISIBLE}, marker=lambda e, where: getattr(e, where)["datasource"].name),
    "inventory:connector_discover": Row(target="connector", expect={"POST": done(CHANGE)}),
    **crud_rows("tenant", SCOPED, ADMIN_SCOPED, CREATE_ADMIN),
    **crud_rows("subscription", SCOPED, CHANGE, CREATE_ADMIN),
    **crud_rows("resourcegroup", SCOPED, CHANGE, CREATE),
    **crud_rows("location", LOCATION_DETAIL, ADMIN_ONLY, CREATE_ADMIN, list_marker=False),
    **crud_rows("connector", SCOPED, CHANGE, CREATE),
    **crud_rows("datasource", SCOPED, CHANGE, CREATE),
    "inventory:roleassignment_list": Row(expect={"GET": VISIBLE}, marker=link("roleassignment")),
    "inventory:roleassignment_add": Row(expect={"GET": VISIBLE, "POST": CREATE_ADMIN}, payload=ADD["roleassignment"]),
    "inventory:roleassignment_detail": Row(target="roleassignment", expect={"GET": SCOPED}),
    "inventory:roleassignment_delete": Row(
        target="roleassignment", expect={"GET": ADMIN_SCOPED, "POST": done(ADMIN_SCOPED)}
    ),
}

# Backup policies ---------------------------------------------------------------------------------------------------
DAILY = {"frequency": "daily", "times": ["02:00"], "timezone": "UTC"}
POLICY_RULES = {
    "datasource_kind": "files",
    "frequency": "daily",
    "timezone": "UTC",
    "times": "02:00",
    "interval_hours": "4",
    "window_start": "08:00",
    "window_hours": "12",
    "instant_restore_days": "2",
    "daily_count": "30",
    "weekly_count": "0",
    "monthly_count": "0",
    "monthly_basis": "day",
    "yearly_count": "0",
    "yearly_basis": "day",
    "tiering_mode": "do_not_tier",
}


def add_policies(estate) -> None:
    """A vault (row only) with a files policy on each side: rg-prod inside, rg-fab outside."""
    from policies.services import policy_create
    from tests.vaults.api_world import make_vault

    if "policy" in estate.inside:
        return
    for where, group in (("inside", estate.rg_prod), ("outside", estate.rg_fab)):
        vault = make_vault(group, estate.west, f"vault-policies-{where}")
        policy = policy_create(
            actor=SystemActor("test-setup"),
            vault=vault,
            name=f"nightly-{where}",
            datasource_kind="files",
            schedule=DAILY,
            retention={"daily_count": 30},
        )
        getattr(estate, where).update(vault=vault, policy=policy)


def policy_add_payload(e, where):
    return {**POLICY_RULES, "vault": (e.outside if where == "outside" else e.inside)["vault"].pk, "name": "new"}


def policy_edit_payload(e, policy):
    """The editor as the page posts it: the policy's own values with a longer retention (no approval needed)."""
    from policies.forms import PolicyForm

    form = PolicyForm(user=e.admin, instance=policy)
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    return {**data, "daily_count": "60"}


PREVIEW = {"anon": LOGIN, "charlie": 200, "bob": 200, "alice": 200, "admin": 200}
POST_ONLY = {"anon": LOGIN, "charlie": 405, "bob": 405, "alice": 405, "admin": 405}
POLICY_PAGES: dict[str, Row] = {
    "policies:policy_list": Row(expect={"GET": VISIBLE}, marker=link("policy")),
    # GET is the "+ Policy" chooser (datasource type, then vault); the vault list is scoped by the change role.
    "policies:policy_add": Row(expect={"GET": VISIBLE, "POST": CREATE}, payload=policy_add_payload),
    "policies:policy_detail": Row(target="policy", expect={"GET": SCOPED}),
    "policies:policy_edit": Row(
        target="policy", expect={"GET": CHANGE, "POST": done(CHANGE)}, payload=policy_edit_payload
    ),
    "policies:policy_delete": Row(target="policy", expect={"GET": CHANGE, "POST": done(CHANGE)}),
    # The live previews compute from the posted form only; they read and write nothing of anyone's.
    "policies:preview_schedule": Row(expect={"GET": POST_ONLY, "POST": PREVIEW}, payload=lambda e, w: POLICY_RULES),
    "policies:preview_retention": Row(expect={"GET": POST_ONLY, "POST": PREVIEW}, payload=lambda e, w: POLICY_RULES),
    # Auto-protection of a connector: shown to whoever sees the connector, set or cleared with the change role.
    "policies:auto_protection": Row(
        target="connector", expect={"GET": SCOPED, "POST": done(CHANGE)}, payload=lambda e, t: {"clear": "1"}
    ),
}
PAGES.update(POLICY_PAGES)

# Routes with a word in the path: one row per word the product knows.
PARAMETRISED_PAGES = {
    "action_center": [
        Row(kwargs={"action": a}, expect={"GET": {**done(VISIBLE), "anon": LOGIN}})
        for a in ("backup", "restore", "policy", "vault")
    ],
}
# Root routes that are not product pages of this matrix, with the reason.
EXEMPT = {
    "login": "public sign-in page",
    "logout": "sign-out, POST only",
    "schema": "OpenAPI schema, covered in test_api",
    "api-docs": "API docs, covered in test_api",
    "prometheus_metrics": "Prometheus scrape endpoint: a bearer token, not a session, decides; see test_metrics_*",
}

# API ---------------------------------------------------------------------------------------------------------------
A_LIST = {"anon": 401, "charlie": 200, "bob": 200, "alice": 200, "admin": 200}
A_DETAIL = {"anon": 401, "charlie": 404, "bob": 200, "alice": 200, "alice_out": 404, "admin": 200}
A_CHANGE = {"anon": 401, "charlie": 404, "bob": 403, "alice": 200, "alice_out": 404, "admin": 200}
A_ADMIN_SCOPED = {"anon": 401, "charlie": 404, "bob": 403, "alice": 403, "alice_out": 404, "admin": 200}
A_ADMIN = {"anon": 401, "charlie": 403, "bob": 403, "alice": 403, "admin": 200}
A_CREATE = {"anon": 401, "charlie": REFUSED, "bob": REFUSED, "alice": 201, "alice_out": REFUSED, "admin": 201}
A_CREATE_ADMIN = {**A_CREATE, "alice": REFUSED}


def deleted(change: dict, code: int = 204) -> dict:
    return {p: (code if v == 200 else v) for p, v in change.items()}


def _api_payloads():
    def inside(e, where):
        return where != "outside"

    return {
        "tenant": lambda e, w: {"name": "newco"},
        "subscription": lambda e, w: {"tenant": (e.contoso if inside(e, w) else e.fabrikam).pk, "name": "qa"},
        "resourcegroup": lambda e, w: {"subscription": (e.prod if inside(e, w) else e.main).pk, "name": "rg-new"},
        "location": lambda e, w: {"name": "south-europe"},
        "connector": lambda e, w: {
            "resource_group": (e.rg_prod if inside(e, w) else e.rg_fab).pk,
            "location": e.west.pk,
            "name": "host-new",
            "kind": "host",
            "settings": {"root_paths": [real_folder()]},
        },
        "datasource": lambda e, w: {
            "resource_group": (e.rg_prod if inside(e, w) else e.rg_fab).pk,
            "location": e.west.pk,
            "name": "share-new",
            "kind": "files",
            "connection": {"paths": [real_folder()]},
        },
        "roleassignment": lambda e, w: {
            "user": "charlie",
            "role": "reader",
            "scope_level": "subscription",
            "scope_id": (e.prod if inside(e, w) else e.main).pk,
        },
    }


API_ADD = _api_payloads()
API_PATCH = {
    "tenant": {"description": "changed"},
    "subscription": {"name": "renamed"},
    "resourcegroup": {"name": "renamed"},
    "location": {"display_name": "Changed"},
    "connector": {"name": "renamed"},
    "datasource": {"tags": {"owner": "ops"}},
}


def api_rows(key: str, detail, change, create, delete, list_marker=True) -> dict[str, Row]:
    name = f"api:inventory:{key}"
    return {
        f"{name}-list": Row(
            expect={"GET": A_LIST, "POST": create},
            payload=API_ADD[key],
            marker=(lambda e, w: f'"id":{getattr(e, w)[key].pk},') if list_marker else None,
        ),
        f"{name}-detail": Row(
            target=key, expect={"GET": detail, "PATCH": change, "DELETE": delete}, payload=API_PATCH.get(key)
        ),
    }


def record_of(e, where):
    return ChangeRecord.objects.filter(object_type="inventory.datasource", action="create").get(
        object_id=str(getattr(e, where)["datasource"].pk)
    )


APIS: dict[str, Row] = {
    "api:inventory:api-root": Row(expect={"GET": A_LIST}),
    "api:core:api-root": Row(expect={"GET": A_LIST}),
    "api:core:changerecord-list": Row(
        expect={"GET": A_LIST}, marker=lambda e, w: f'"object_repr":"{getattr(e, w)["datasource"].name}"'
    ),
    "api:core:changerecord-detail": Row(target="changerecord", expect={"GET": A_DETAIL}),
    **api_rows("tenant", A_DETAIL, A_ADMIN_SCOPED, A_CREATE_ADMIN, deleted(A_ADMIN_SCOPED, 409)),
    **api_rows("subscription", A_DETAIL, A_CHANGE, A_CREATE_ADMIN, deleted(A_CHANGE, 409)),
    **api_rows("resourcegroup", A_DETAIL, A_CHANGE, A_CREATE, deleted(A_CHANGE, 409)),
    **api_rows(
        "location",
        {**A_LIST},
        A_ADMIN,
        A_CREATE_ADMIN | {"charlie": 403, "bob": 403, "alice": 403},
        deleted(A_ADMIN, 409),
        list_marker=False,
    ),
    **api_rows("connector", A_DETAIL, A_CHANGE, A_CREATE, deleted(A_CHANGE)),
    **api_rows("datasource", A_DETAIL, A_CHANGE, A_CREATE, deleted(A_CHANGE)),
    "api:inventory:connector-discover": Row(target="connector", expect={"POST": deleted(A_CHANGE, 202)}),
    "api:inventory:connector-auto-protection": Row(target="connector", expect={"GET": A_DETAIL}),
    "api:inventory:roleassignment-list": Row(
        expect={"GET": A_LIST, "POST": A_CREATE_ADMIN},
        payload=API_ADD["roleassignment"],
        marker=lambda e, w: f'"id":{getattr(e, w)["roleassignment"].pk},',
    ),
    "api:inventory:roleassignment-detail": Row(
        target="roleassignment", expect={"GET": A_DETAIL, "DELETE": deleted(A_ADMIN_SCOPED)}
    ),
}
# The API route names use model names; page rows use the same keys.
API_MODEL_NAME = {"resourcegroup": "resourcegroup", "roleassignment": "roleassignment"}


# The completeness check ------------------------------------------------------------------------------------------


def test_every_route_has_a_row_in_the_matrix():
    routes = named_routes({"inventory", "core", "policies", "api:inventory", "api:core"})
    covered = set(PAGES) | set(PARAMETRISED_PAGES) | set(APIS) | set(EXEMPT)
    missing = routes - covered
    assert not missing, f"add these routes to the permission matrix: {sorted(missing)}"
    stale = (set(PAGES) | set(APIS)) - routes
    assert not stale, f"the matrix names routes that no longer exist: {sorted(stale)}"


# The matrix ----------------------------------------------------------------------------------------------------------


def _cells(table: dict[str, Row | list[Row]]):
    for name, rows in table.items():
        for index, row in enumerate(rows if isinstance(rows, list) else [rows]):
            for method, column in row.expect.items():
                for persona in PERSONAS:
                    if persona in column:
                        suffix = f"[{list(row.kwargs.values())[0]}]" if row.kwargs else ""
                        yield pytest.param(name, index, method, persona, id=f"{name}{suffix}-{method}-{persona}")


def _target(estate, row: Row, persona: str):
    where = "outside" if persona == "alice_out" else "inside"
    if row.target == "policy":
        add_policies(estate)
    if row.target == "changerecord":
        return record_of(estate, where)
    return getattr(estate, where)[row.target]


def _url(name: str, row: Row, target) -> str:
    if target is not None:
        return reverse(name, args=[target.pk])
    return reverse(name, kwargs=row.kwargs or None)


def _row(table, name, index) -> Row:
    rows = table[name]
    return rows[index] if isinstance(rows, list) else rows


@pytest.mark.parametrize(("name", "index", "method", "persona"), list(_cells({**PAGES, **PARAMETRISED_PAGES})))
def test_pages_answer_each_persona_as_the_matrix_says(estate, client_for, name, index, method, persona):
    row = _row({**PAGES, **PARAMETRISED_PAGES}, name, index)
    if name.startswith("policies:"):
        add_policies(estate)
    user = "alice" if persona == "alice_out" else persona
    where = "outside" if persona == "alice_out" else "inside"
    target = _target(estate, row, persona) if row.target else None
    client = client_for(user)
    url = _url(name, row, target)
    before = ChangeRecord.objects.count()
    if method == "GET":
        response = client.get(url)
    else:
        data = {}
        if row.payload is not None:
            data = row.payload(estate, target) if target is not None else row.payload(estate, where)
        response = client.post(url, data)
    expected = row.expect[method][persona]
    check_page(response, expected, before, ChangeRecord.objects.count())
    if method == "GET" and row.marker and response.status_code == 200:
        content = response.content.decode()
        assert (row.marker(estate, "inside") in content) == (persona in ("bob", "alice", "admin")), "inside object"
        assert (row.marker(estate, "outside") in content) == (persona == "admin"), "fabrikam object"


@pytest.mark.parametrize(("name", "index", "method", "persona"), list(_cells(APIS)))
def test_api_endpoints_answer_each_persona_as_the_matrix_says(estate, api_for, name, index, method, persona):
    row = APIS[name]
    user = "alice" if persona == "alice_out" else persona
    where = "outside" if persona == "alice_out" else "inside"
    target = _target(estate, row, persona) if row.target else None
    client = api_for(user)
    url = _url(name, row, target)
    before = ChangeRecord.objects.count()
    if method == "GET":
        response = client.get(url)
    elif method == "POST":
        response = client.post(url, row.payload(estate, where) if row.payload else {}, format="json")
    elif method == "PATCH":
        response = client.patch(url, row.payload, format="json")
    else:
        response = client.delete(url)
    check_api(response, row.expect[method][persona], before, ChangeRecord.objects.count())
    if method == "GET" and row.marker and response.status_code == 200:
        content = response.content.decode().replace(" ", "")
        assert (row.marker(estate, "inside") in content) == (persona in ("bob", "alice", "admin")), "inside object"
        assert (row.marker(estate, "outside") in content) == (persona == "admin"), "fabrikam object"


# /metrics -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["anon", "charlie", "bob", "alice", "admin"])
def test_metrics_without_a_token_are_refused_whoever_is_signed_in(estate, client_for, settings, persona):
    """GIVEN /metrics with a bearer token configured
    WHEN each persona, signed in or not, asks for it without a token or with a wrong one
    THEN the answer is 401 with a Bearer challenge: a session opens nothing here."""
    settings.METRICS_BEARER_TOKEN = "scrape-token-7d1f"
    client = client_for(persona)
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": "Token scrape-token-7d1f"}):
        response = client.get(reverse("prometheus_metrics"), **headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"backupcenter_" not in response.content


def test_metrics_do_not_exist_while_no_token_is_configured(estate, client_for, settings):
    """GIVEN no METRICS_BEARER_TOKEN WHEN the administrator or anyone asks for /metrics, with any token THEN 404."""
    settings.METRICS_BEARER_TOKEN = ""
    for persona in ("anon", "admin"):
        client = client_for(persona)
        assert client.get(reverse("prometheus_metrics")).status_code == 404
        assert client.get(reverse("prometheus_metrics"), HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_with_the_token_answer_figures_and_no_secrets(estate, client, settings):
    """GIVEN a vault with a protected instance and a recovery point, an action group with a webhook secret, and the
    token configured
    WHEN Prometheus scrapes /metrics with the token and no session
    THEN it gets 200 in the exposition format with the product's figures, and neither the token, the repository
    password (sealed or clear) nor the webhook secret is in the body."""
    from core import secrets
    from monitoring.notifications import action_group_create
    from tests.vaults.security_world import make_protected, make_vault_row
    from vaults.models import StorageLocation

    settings.METRICS_BEARER_TOKEN = "scrape-token-7d1f"
    vault = make_vault_row(estate, name="vault-metrics")
    make_protected(estate, vault)
    action_group_create(
        actor=SystemActor("test-setup"),
        subscription=estate.prod,
        name="hook",
        webhook_url="https://hooks.example.com/backup",
        webhook_secret="webhook-secret-4c2a",
    )
    response = client.get(reverse("prometheus_metrics"), HTTP_AUTHORIZATION="Bearer scrape-token-7d1f")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert 'backupcenter_protected_bytes{tier="standard",vault="vault-metrics"} 100.0' in body
    assert "backupcenter_last_successful_backup_age_seconds{" in body
    storage = StorageLocation.objects.get(vault=vault)
    for secret in (
        "scrape-token-7d1f",
        "webhook-secret-4c2a",
        storage.sealed_password,
        secrets.unseal(storage.sealed_password),
    ):
        assert secret not in body
