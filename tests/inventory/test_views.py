"""Inventory pages: HTMX table partials, sort and page links, query budgets that do not grow with rows, and the
forms handing service errors back to their fields."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import ChangeRecord
from inventory.models import Datasource, Location
from tests.factories import (
    ConnectorFactory,
    DatasourceFactory,
    LocationFactory,
    ResourceGroupFactory,
    RoleAssignmentFactory,
    SubscriptionFactory,
    TenantFactory,
)

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "table-container"}


def make_rows(estate, page: str, n: int) -> None:
    """n more rows for the list at `page`, all visible to the persona LISTS names for it."""
    if page == "tenants":
        TenantFactory.create_batch(n)
    elif page == "subscriptions":
        SubscriptionFactory.create_batch(n, tenant=estate.contoso)
    elif page == "resource-groups":
        ResourceGroupFactory.create_batch(n, subscription=estate.prod)
    elif page == "locations":
        LocationFactory.create_batch(n, paired_region=estate.west)
    elif page == "connectors":
        ConnectorFactory.create_batch(n, resource_group=estate.rg_prod, location=estate.west)
    elif page in ("datasources", "protectable"):
        DatasourceFactory.create_batch(n, resource_group=estate.rg_prod, location=estate.west)
    elif page == "role-assignments":
        RoleAssignmentFactory.create_batch(n, subscription=estate.prod)
    elif page == "activity":
        ChangeRecord.objects.bulk_create(
            ChangeRecord(
                actor_name="alice",
                action="update",
                object_type="inventory.datasource",
                object_repr=f"row-{i}",
                tenant=estate.contoso,
                subscription=estate.prod,
            )
            for i in range(n)
        )


# url, persona, query budget
LISTS = {
    "tenants": ("/inventory/tenants/", "admin", 12),
    "subscriptions": ("/inventory/subscriptions/", "admin", 12),
    "resource-groups": ("/inventory/resource-groups/", "alice", 14),
    "locations": ("/inventory/locations/", "admin", 12),
    "connectors": ("/inventory/connectors/", "alice", 14),
    "datasources": ("/inventory/datasources/", "alice", 14),
    "protectable": ("/inventory/protectable/", "alice", 14),
    "role-assignments": ("/inventory/role-assignments/", "alice", 14),
    "activity": ("/core/activity/", "alice", 14),
}


def _queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("page", list(LISTS))
def test_list_pages_stay_within_a_query_budget_that_does_not_grow_with_rows(
    estate, client_for, django_assert_max_num_queries, page
):
    """GIVEN a list with 10 extra rows, then with 30 (more than one page)
    WHEN the page is rendered in full and as an HTMX partial
    THEN both renders use the same number of queries, within the page's budget."""
    url, persona, budget = LISTS[page]
    client = client_for(persona)
    make_rows(estate, page, 10)
    client.get(url)  # warm per-process caches (content types, sessions)
    ten = _queries(client, url)
    make_rows(estate, page, 20)
    with django_assert_max_num_queries(budget):
        thirty = _queries(client, url)
    assert thirty == ten
    assert _queries(client, url + "?sort=-name&page=2", **HTMX) <= thirty


def test_the_inventory_home_and_overview_stay_within_budgets(estate, client_for, django_assert_max_num_queries):
    client = client_for("alice")
    DatasourceFactory.create_batch(30, resource_group=estate.rg_prod, location=estate.west)
    for url, budget in (("/inventory/", 16), ("/", 16)):
        with django_assert_max_num_queries(budget):
            assert client.get(url).status_code == 200


@pytest.mark.parametrize("page", list(LISTS))
def test_an_htmx_request_for_the_table_gets_only_the_table_partial(estate, client_for, page):
    url, persona, _ = LISTS[page]
    make_rows(estate, page, 30)
    response = client_for(persona).get(url, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "bc-scope" not in html and "bc-nav" not in html
    assert html.lstrip().startswith('<div id="table-container"')
    assert '<tbody hx-boost="false"' in html, "row links open whole pages, not inside the table"
    full = client_for(persona).get(url).content.decode()
    assert "<html" in full and 'id="table-container"' in full


def test_the_datasource_table_links_sorting_and_paging_and_keeps_filters_in_the_links(estate, client_for):
    DatasourceFactory.create_batch(30, resource_group=estate.rg_prod, location=estate.west)
    html = client_for("alice").get("/inventory/datasources/", {"subscription": estate.prod.pk}, **HTMX).content.decode()
    assert "sort=name" in html and "sort=kind" in html
    assert "page=2" in html and f"subscription={estate.prod.pk}" in html
    assert "31 items" in html and "Page 1 of 2" in html
    second = client_for("alice").get("/inventory/datasources/", {"page": 2, "sort": "-name"}, **HTMX)
    assert second.status_code == 200 and "Page 2 of 2" in second.content.decode()


def test_a_quick_search_narrows_the_table(estate, client_for):
    DatasourceFactory(resource_group=estate.rg_prod, location=estate.west, name="payroll-archive")
    html = client_for("alice").get("/inventory/datasources/", {"q": "payroll"}, **HTMX).content.decode()
    assert "payroll-archive" in html and "share-prod" not in html
    empty = client_for("alice").get("/inventory/datasources/", {"q": "zzz"}, **HTMX).content.decode()
    assert "Nothing matches these filters." in empty


def test_the_scope_bar_offers_only_what_the_user_can_see(estate, client_for):
    html = client_for("alice").get("/inventory/datasources/").content.decode()
    assert ">contoso<" in html and ">prod<" in html
    assert ">fabrikam<" not in html and ">main<" not in html and ">dev<" not in html


def test_a_service_error_is_shown_on_the_form_field_and_nothing_is_saved(estate, client_for):
    """GIVEN alice on the add-datasource form
    WHEN she submits a path that does not exist
    THEN the form comes back with the error on the paths field and no datasource is added."""
    before = Datasource.objects.count()
    response = client_for("alice").post(
        "/inventory/datasources/add/",
        {
            "resource_group": estate.rg_prod.pk,
            "location": estate.west.pk,
            "kind": "files",
            "name": "nope",
            "host": "local",
            "paths": "/nonexistent/bc-test",
            "excludes": "",
            "tags": "",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["paths"] == ["/nonexistent/bc-test does not exist on this host."]
    assert Datasource.objects.count() == before


def test_a_reader_sees_no_edit_or_delete_buttons_and_a_contributor_does(estate, client_for):
    url = estate.ds_prod.get_absolute_url()
    assert "bi-pencil" not in client_for("bob").get(url).content.decode()
    assert "bi-pencil" in client_for("alice").get(url).content.decode()
    assert "bi-pencil" not in client_for("alice").get(estate.west.get_absolute_url()).content.decode()


def test_the_connector_discover_button_runs_discovery_and_reports_it(estate, client_for, tmp_path):
    (tmp_path / "projects").mkdir()
    estate.conn_prod.settings = {"root_paths": [str(tmp_path)], "kinds": ["files"]}
    estate.conn_prod.save()
    response = client_for("alice").post(f"/inventory/connectors/{estate.conn_prod.pk}/discover/", follow=True)
    assert response.status_code == 200
    assert "Discovery of host-prod is queued" in response.content.decode()
    assert estate.conn_prod.datasources.get().name == "projects"


def test_a_location_pairing_is_made_symmetric(estate):
    assert Location.objects.get(name="west-europe").paired_region.name == "north-europe"
