"""Every governance, compliance and report route refuses anonymous callers; objects outside the caller's scope are
404 for pages and the API alike."""

import pytest
from django.urls import reverse

from tests.matrix import is_login_redirect, named_routes

pytestmark = pytest.mark.django_db
NAMESPACES = {"governance", "compliance", "reports", "api:governance", "api:reports"}


def _kwargs(name: str, objects: dict) -> dict:
    pattern = name.split(":")[-1]
    if "key" in pattern or pattern == "assign":
        return {"key": "backup_enabled"}
    if pattern in ("tab",):
        return {"tab": "summary"}
    if pattern == "export":
        return {"tab": "summary", "fmt": "csv"}
    if pattern == "report":
        return {"tab": "summary"}
    if pattern.endswith("-detail") or pattern in ("definition-detail",):
        if pattern == "definition-detail":
            return {"key": "vault_cmk"}
        return {"pk": objects.get(pattern.split("-")[0], 1)}
    if any(part in pattern for part in ("detail", "edit", "delete", "evaluate", "remediate", "download")):
        return {"pk": objects.get("pk", 1)}
    return {}


def test_every_route_refuses_anonymous_callers(estate, assign, client_for, api_for):
    assignment = assign("backup_enabled", estate.prod)
    objects = {"pk": assignment.pk, "policyassignment": assignment.pk}
    routes = sorted(named_routes(NAMESPACES, root_names=False))
    assert len(routes) >= 20
    for name in routes:
        url = reverse(name, kwargs=_kwargs(name, objects))
        if name.startswith("api:"):
            assert api_for("anon").get(url).status_code in (401, 403), url
        else:
            assert is_login_redirect(client_for("anon").get(url)), url


def test_out_of_scope_objects_are_404(estate, assign, client_for, api_for):
    outside = assign("backup_enabled", estate.fabrikam)
    for url in (
        f"/governance/assignments/{outside.pk}/",
        f"/governance/assignments/{outside.pk}/edit/",
    ):
        assert client_for("alice").get(url).status_code == 404, url
    assert client_for("alice").post(f"/governance/assignments/{outside.pk}/evaluate/").status_code == 404
    assert client_for("alice").post(f"/governance/assignments/{outside.pk}/remediate/").status_code == 404
    assert api_for("alice").get(f"/api/policies/assignments/{outside.pk}/").status_code == 404
    assert api_for("alice").post(f"/api/policies/assignments/{outside.pk}/evaluate/").status_code == 404
    assert api_for("alice").delete(f"/api/policies/assignments/{outside.pk}/").status_code == 404
    assert client_for("admin").get(f"/governance/assignments/{outside.pk}/").status_code == 200
