"""The inventory REST API: token auth, field errors, secrets never returned, brief mode, the same filters as the
pages, and the OpenAPI schema and docs served without any external URL."""

import re
import secrets
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from inventory import services
from inventory.models import Datasource
from tests.factories import DatasourceFactory

DATASOURCES = "/api/inventory/datasources/"


def test_create_api_token_prints_a_token_that_authenticates_its_user(estate):
    """GIVEN bob without a token
    WHEN `manage.py create_api_token bob` runs and its output is sent as `Authorization: Token <key>`
    THEN the API answers as bob; running the command again prints the same token, --rotate a new one."""
    out = StringIO()
    call_command("create_api_token", "bob", stdout=out)
    key = out.getvalue().strip()
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(DATASOURCES)
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["share-prod"]

    again = StringIO()
    call_command("create_api_token", "bob", stdout=again)
    assert again.getvalue().strip() == key
    rotated = StringIO()
    call_command("create_api_token", "bob", "--rotate", stdout=rotated)
    assert rotated.getvalue().strip() != key
    assert client.get(DATASOURCES).status_code == 401


def test_create_api_token_names_an_unknown_user(db):
    with pytest.raises(CommandError, match="nobody"):
        call_command("create_api_token", "nobody", stdout=StringIO())


def test_a_wrong_token_is_refused_with_401(estate):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(DATASOURCES).status_code == 401


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"resource_group", "location", "name", "kind", "connection"}),
        ({"kind": "mysql", "connection": {"host": "db"}}, {"kind"}),
        ({"kind": "tape", "connection": {}}, {"kind"}),
        ({"kind": "files", "connection": {"paths": ["relative/path"]}}, {"paths"}),
        ({"kind": "postgresql", "connection": {"port": "x"}}, {"host", "port", "dbname", "user"}),
        ({"kind": "files", "connection": {"paths": ["/tmp"]}, "tags": {"env": 3}}, {"tags"}),
    ],
    ids=["empty", "unsupported-kind", "unknown-kind", "relative-path", "bad-postgres", "bad-tags"],
)
def test_bad_datasource_input_answers_400_with_field_errors(estate, api_for, payload, fields):
    base = {"resource_group": estate.rg_prod.pk, "location": estate.west.pk, "name": "new"}
    body = payload if not payload else {**base, **payload}
    before = Datasource.objects.count()
    response = api_for("alice").post(DATASOURCES, body, format="json")
    assert response.status_code == 400, response.content
    assert fields <= set(response.json()), response.json()
    assert Datasource.objects.count() == before


def test_a_resource_group_outside_the_callers_scope_is_a_field_error_not_a_leak(estate, api_for):
    response = api_for("alice").post(
        DATASOURCES,
        {
            "resource_group": estate.rg_fab.pk,
            "location": estate.west.pk,
            "name": "x",
            "kind": "files",
            "connection": {"paths": ["/tmp"]},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "resource_group" in response.json()
    assert "fabrikam" not in response.content.decode() and "rg-fab" not in response.content.decode()


def test_a_postgres_password_never_appears_in_any_api_response(estate, api_for):
    """GIVEN a PostgreSQL datasource created through the API with password s3cret-<random>
    WHEN it is read back by create, list, detail, brief list, update and the activity log
    THEN the password is absent from every response body and the API says only that a secret is stored."""
    password = f"s3cret-{secrets.token_hex(8)}"
    client = api_for("alice")
    created = client.post(
        DATASOURCES,
        {
            "resource_group": estate.rg_prod.pk,
            "location": estate.west.pk,
            "name": "shop",
            "kind": "postgresql",
            "connection": {"host": "127.0.0.1", "port": 5432, "dbname": "shop", "user": "app", "password": password},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["has_secret"] is True and "password" not in created.json()["connection"]
    bodies = [created.content]
    for url in (DATASOURCES, f"{DATASOURCES}{pk}/", f"{DATASOURCES}?brief=1", "/api/core/activity/"):
        for persona in ("alice", "bob", "admin"):
            response = api_for(persona).get(url)
            assert response.status_code == 200
            bodies.append(response.content)
    bodies.append(client.patch(f"{DATASOURCES}{pk}/", {"tags": {"a": "b"}}, format="json").content)
    bodies.append(client.get(f"/inventory/datasources/{pk}/").content)
    for body in bodies:
        assert password.encode() not in body


def test_brief_mode_returns_only_id_url_and_display(estate, api_for):
    response = api_for("bob").get(f"{DATASOURCES}?brief=1")
    [row] = response.json()["results"]
    assert row == {
        "id": estate.ds_prod.pk,
        "url": f"http://testserver{DATASOURCES}{estate.ds_prod.pk}/",
        "display": "share-prod",
    }
    detail = api_for("bob").get(f"{DATASOURCES}{estate.ds_prod.pk}/?brief=true").json()
    assert set(detail) == {"id", "url", "display"}


def test_related_objects_are_brief_and_link_to_their_api_urls(estate, api_for):
    row = api_for("bob").get(f"{DATASOURCES}{estate.ds_prod.pk}/").json()
    assert row["resource_group"] == {
        "id": estate.rg_prod.pk,
        "url": f"http://testserver/api/inventory/resource-groups/{estate.rg_prod.pk}/",
        "display": "rg-prod",
    }
    assert row["tenant"]["display"] == "contoso"


FILTERS = [
    ("tenant", lambda e: {"tenant": e.contoso.pk}),
    ("subscription", lambda e: {"subscription": e.dev.pk}),
    ("resource_group", lambda e: {"resource_group": e.rg_fab.pk}),
    ("q", lambda e: {"q": "PROD"}),
    ("kind", lambda e: {"kind": "postgresql"}),
    ("datasource_kind", lambda e: {"datasource_kind": "files"}),
    ("exists", lambda e: {"exists": "false"}),
    ("location", lambda e: {"location": e.north.pk}),
]


@pytest.mark.parametrize(("name", "params"), FILTERS, ids=[f[0] for f in FILTERS])
def test_api_filters_select_the_same_datasources_as_the_list_page(estate, api_for, client_for, name, params):
    DatasourceFactory(resource_group=estate.rg_prod, location=estate.west, name="gone-prod", exists=False)
    services.datasource_create(
        actor=estate.admin,
        resource_group=estate.rg_dev,
        location=estate.west,
        kind="postgresql",
        name="orders",
        connection={"host": "db", "dbname": "orders", "user": "app"},
    )
    query = params(estate)
    api_names = sorted(row["display"] for row in api_for("admin").get(DATASOURCES, query).json()["results"])
    page = client_for("admin").get("/inventory/datasources/", query).content.decode()
    page_names = sorted(ds.name for ds in Datasource.objects.all() if f'href="/inventory/datasources/{ds.pk}/"' in page)
    assert api_names == page_names
    assert 0 < len(api_names) < Datasource.objects.count()


def test_the_openapi_schema_renders_and_lists_the_inventory(estate, client_for):
    response = client_for("bob").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/inventory/datasources/" in paths and "/api/core/activity/" in paths


def test_the_api_docs_load_no_asset_from_another_host(estate, client_for):
    response = client_for("bob").get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    external = [u for u in re.findall(r"https?://[^\s\"'<>)]+", html) if not u.startswith("http://testserver")]
    assert external == []
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets, "the docs page serves Swagger UI from our static files"
    for asset in assets:
        assert client_for("bob").get(asset).status_code == 200, asset
