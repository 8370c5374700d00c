"""Alice in a real browser: sign in, Inventory → Datasources, filter by subscription through the scope bar, quick
search (HTMX), open a datasource."""

import re

import pytest

from tests.conftest import PASSWORD, build_estate
from tests.factories import DatasourceFactory


@pytest.fixture
def committed_estate(transactional_db):
    from core.permissions import SystemActor
    from inventory import services

    estate = build_estate()
    # A second subscription for alice (reader on dev) so the subscription filter has something to hide.
    services.role_assignment_create(actor=SystemActor(), role="reader", scope=estate.dev, user=estate.alice)
    DatasourceFactory(resource_group=estate.rg_prod, location=estate.west, name="payroll-archive")
    DatasourceFactory(resource_group=estate.rg_dev, location=estate.north, name="payroll-dev")
    return estate


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))


def table_names(page) -> list[str]:
    return sorted(page.locator("#table-container tbody tr td:first-child").all_inner_texts())


@pytest.mark.django_db(transaction=True)
def test_alice_finds_and_opens_a_datasource_through_inventory_scope_bar_and_quick_search(
    committed_estate, page, screenshot, live_server
):
    """GIVEN alice, contributor on prod and reader on dev, with datasources in both and one in fabrikam
    WHEN she signs in, opens Inventory → Datasources, picks subscription prod in the scope bar, searches "payroll"
    and opens the result
    THEN each step shows only what she may see, the search swaps the table without a page load, and the detail page
    shows the datasource with Edit and Delete buttons."""
    sign_in(page, "alice")
    assert page.get_by_role("heading", name="Overview").is_visible()
    screenshot("overview")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inventory").click()
    page.wait_for_url("**/inventory/")
    page.locator("main").get_by_role("link", name=re.compile("Datasources")).first.click()
    page.wait_for_url("**/inventory/datasources/")
    assert table_names(page) == ["payroll-archive", "payroll-dev", "share-dev", "share-prod"]
    screenshot("list")

    page.get_by_label("Subscription").select_option(label="prod")
    page.wait_for_url(re.compile(rf".*subscription={committed_estate.prod.pk}.*"))
    assert table_names(page) == ["payroll-archive", "share-prod"]

    page.evaluate("window.__same_page = true")
    page.get_by_placeholder("Search").press_sequentially("payroll")  # keyup triggers the HTMX request
    page.wait_for_function("document.querySelectorAll('#table-container tbody tr').length === 1")
    assert table_names(page) == ["payroll-archive"]
    assert page.evaluate("window.__same_page") is True, "the search swapped the table without reloading the page"
    assert "q=payroll" in page.url and f"subscription={committed_estate.prod.pk}" in page.url
    screenshot("search")

    page.get_by_role("link", name="payroll-archive").click()
    page.wait_for_url(re.compile(r".*/inventory/datasources/\d+/$"))
    assert page.get_by_role("heading", name="Datasource: payroll-archive").is_visible()
    assert page.locator("header").count() == 1, "the detail page opens as a page, not inside the list's table"
    assert page.locator("#table-container").count() == 0
    assert page.get_by_role("link", name="Edit").is_visible()
    assert "share-fab" not in page.content() and "fabrikam" not in page.content()
    screenshot("detail")


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_keeps_the_user_on_the_sign_in_page(committed_estate, page, screenshot):
    page.goto("/login/")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator(".alert-danger").inner_text().startswith("Your user name and password didn't match")
    assert page.url.endswith("/login/")
    screenshot()
