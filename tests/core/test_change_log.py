"""The change log: request ids from the middleware, task ids from the task context, masking of secret fields."""

from core.context import origin
from core.models import ChangeRecord
from core.services import MASK, change_record_write, snapshot
from inventory.models import Datasource


def test_a_request_id_sent_by_the_caller_is_echoed_and_recorded_on_the_change(estate, client_for):
    """GIVEN alice posting an edit with X-Request-Id: trace-1234
    WHEN the change is saved
    THEN the response carries the same header and the change record stores it."""
    response = client_for("alice").post(
        f"/inventory/resource-groups/{estate.rg_prod.pk}/edit/", {"name": "rg-prod-2"}, HTTP_X_REQUEST_ID="trace-1234"
    )
    assert response.status_code == 302
    assert response["X-Request-Id"] == "trace-1234"
    record = ChangeRecord.objects.filter(action="update").latest("id")
    assert (record.request_id, record.actor_name, record.object_repr) == ("trace-1234", "alice", "rg-prod-2")


def test_without_a_request_id_one_is_made_up_and_recorded(estate, api_for):
    response = api_for("alice").patch(
        f"/api/inventory/datasources/{estate.ds_prod.pk}/", {"tags": {"a": "b"}}, format="json"
    )
    assert response.status_code == 200
    request_id = response["X-Request-Id"]
    assert len(request_id) == 32
    assert ChangeRecord.objects.filter(action="update").latest("id").request_id == request_id


def test_an_overlong_request_id_is_cut_to_the_column_size(estate, client_for):
    response = client_for("alice").get("/", HTTP_X_REQUEST_ID="x" * 500)
    assert response["X-Request-Id"] == "x" * 64


def test_changes_made_by_a_task_carry_its_task_id_and_the_system_actor_name(estate, system_actor):
    with origin(task_id="task-42"):
        record = change_record_write(actor=system_actor, action="discovered", obj=estate.ds_prod)
    assert (record.task_id, record.request_id, record.actor, record.actor_name) == ("task-42", "", None, "test")
    assert (record.tenant, record.subscription, record.resource_group) == (estate.contoso, estate.prod, estate.rg_prod)


def test_snapshots_mask_secret_columns_and_secret_keys_inside_json(estate):
    ds = Datasource(connection={"host": "db", "password": "leak"}, secret="bc1$platform$abc", tags={})
    data = snapshot(ds)
    assert data["secret"] == MASK and data["connection"] == {"host": "db", "password": MASK}
    assert snapshot(Datasource(secret=""))["secret"] == ""
    assert snapshot(None) is None


def test_the_activity_log_shows_a_reader_only_changes_in_his_scope(estate, client_for):
    html = client_for("bob").get("/core/activity/").content.decode()
    assert "share-prod" in html and "share-fab" not in html and "share-dev" not in html
