"""Invariant 1 as a table: every page of the inventory, the activity log and the console shell, and every API
endpoint under /api/inventory/ and /api/core/, for every persona. A route added to the URLconf without a row here
fails `test_every_route_has_a_row_in_the_matrix`."""

import pytest
from django.urls import reverse

from backupcenter.views import COMING
from core.models import ChangeRecord
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
# Routes with a word in the path: one row per word the product knows.
PARAMETRISED_PAGES = {
    "coming_soon": [Row(kwargs={"feature": f}, expect={"GET": VISIBLE}) for f in COMING],
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
    routes = named_routes({"inventory", "core", "api:inventory", "api:core"})
    covered = set(PAGES) | set(PARAMETRISED_PAGES) | set(APIS) | set(EXEMPT)
    missing = routes - covered
    assert not missing, f"add these routes to the permission matrix: {sorted(missing)}"
    stale = (set(PAGES) | set(APIS)) - routes
    assert not stale, f"the matrix names routes that no longer exist: {sorted(stale)}"


def test_every_coming_soon_feature_and_action_has_a_row():
    assert {row.kwargs["feature"] for row in PARAMETRISED_PAGES["coming_soon"]} == set(COMING)


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
