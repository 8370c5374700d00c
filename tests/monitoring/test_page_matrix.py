"""Invariant 1 as a table for the monitoring pages: jobs and their export, alerts and their state changes, health
events, metrics, metric alert rules, action groups, alert processing rules and the per-vault alert settings — every
route of the `monitoring` namespace, for every persona, owner (oscar) and security admin (sam) included. A route
added to the namespace without a row here fails `test_every_monitoring_page_has_a_row`; a stale row fails it too.

The objects (per side: inside = subscription prod, outside = subscription main of fabrikam): the monitoring API
estate (a vault with instances and a queued restore job, a security alert and a health event on the vault, a metric
alert rule and an email action group in the subscription) plus an alert processing rule in the subscription."""

import pytest
from django.urls import reverse

from core.models import ChangeRecord
from core.permissions import SystemActor
from monitoring.notifications import processing_rule_create
from monitoring.rules import TEMPLATES
from tests.matrix import BOUNCED, DONE, LOGIN, REFUSED, Row, check_page, named_routes
from tests.monitoring.test_api import monitoring_estate, subscription  # noqa: F401 - fixtures
from tests.vaults.api_world import side

pytestmark = pytest.mark.django_db

PERSONAS = ("anon", "charlie", "bob", "alice", "alice_out", "oscar", "sam", "admin")
SEES_INSIDE = ("bob", "alice", "oscar", "sam", "admin")
NAMESPACES = {"monitoring"}

VISIBLE = {p: 200 for p in PERSONAS if p != "alice_out"} | {"anon": LOGIN}
SCOPED = {**VISIBLE, "charlie": 404, "alice_out": 404}
# Change and operate: contributor and owner (and the administrator); reader and security admin are refused.
CHANGE = {**SCOPED, "bob": 403, "sam": 403}
POST_ONLY = {p: 405 for p in VISIBLE} | {"anon": LOGIN}
CREATE = {p: REFUSED for p in PERSONAS} | {"anon": LOGIN, "alice": DONE, "oscar": DONE, "admin": DONE}
# Pages that catch the refusal of the service and show it as a message on the page they return to.
OPERATE_MESSAGE = {**SCOPED, "bob": BOUNCED, "sam": BOUNCED, "alice": DONE, "oscar": DONE, "admin": DONE}
# The bulk alert form ignores alerts the user cannot see, and reports refusals as messages.
BULK = {p: BOUNCED for p in PERSONAS} | {"anon": LOGIN, "alice": DONE, "oscar": DONE, "admin": DONE}


def done(get: dict) -> dict:
    return {p: (DONE if v == 200 else v) for p, v in get.items()}


def link(key):
    return lambda e, where: f'href="{getattr(e, where)[key].get_absolute_url()}"'


def form_payload(form_class, e, instance, **changes):
    """An edit form as the page posts it: the object's own values with `changes`."""
    form = form_class(user=e.admin, instance=instance)
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value in (None, False, "", []):
            continue
        if isinstance(value, list):
            value = [getattr(v, "pk", v) for v in value]
        data[name] = getattr(value, "pk", value)
    return {**data, **changes}


def rule_add(e, where):
    template = {k: v for k, v in TEMPLATES["failed_job"].items() if k != "description"}
    return {**template, "subscription": subscription(e, where).pk, "metric": "backup_health", "name": "new rule"}


def rule_edit(e, rule):
    from monitoring.forms import MetricAlertRuleForm

    return form_payload(MetricAlertRuleForm, e, rule, threshold="3")


def group_edit(e, group):
    from monitoring.forms import ActionGroupForm

    return form_payload(ActionGroupForm, e, group, max_attempts="2")


def processing_edit(e, rule):
    from monitoring.forms import AlertProcessingRuleForm

    return form_payload(AlertProcessingRuleForm, e, rule, name="renamed")


PAGES: dict[str, Row] = {
    # Jobs
    "monitoring:job_list": Row(expect={"GET": VISIBLE}, marker=link("job")),
    "monitoring:job_export": Row(expect={"GET": VISIBLE}, marker=lambda e, where: f"restore {where}"),
    "monitoring:job_detail": Row(target="job", expect={"GET": SCOPED}),
    "monitoring:job_cancel": Row(target="job", expect={"GET": POST_ONLY, "POST": done(CHANGE)}),
    # Alerts: seen in scope; acknowledged and closed with the operate role.
    "monitoring:alert_list": Row(expect={"GET": VISIBLE}, marker=link("alert")),
    "monitoring:alert_detail": Row(target="alert", expect={"GET": SCOPED}),
    "monitoring:alert_state": Row(
        target="alert",
        expect={"GET": POST_ONLY, "POST": OPERATE_MESSAGE},
        payload=lambda e, alert: {"state": "acknowledged"},
    ),
    "monitoring:alert_bulk": Row(
        expect={"GET": POST_ONLY, "POST": BULK},
        payload=lambda e, where: {"state": "closed", "select": [side(e, where)["alert"].pk]},
    ),
    # Per-vault job failure alerts: switched with the change role on the vault.
    "monitoring:alert_settings": Row(expect={"GET": VISIBLE}, marker=lambda e, where: side(e, where)["vault"].name),
    "monitoring:alert_settings_update": Row(
        target="vault", expect={"GET": POST_ONLY, "POST": OPERATE_MESSAGE}, payload=lambda e, vault: {}
    ),
    # Health events and metrics: read only.
    "monitoring:healthevent_list": Row(expect={"GET": VISIBLE}, marker=lambda e, where: side(e, where)["vault"].name),
    "monitoring:metrics": Row(expect={"GET": VISIBLE}),
    "monitoring:metrics_chart": Row(expect={"GET": VISIBLE}),
    "monitoring:overview_health_chart": Row(expect={"GET": VISIBLE}),
    # Metric alert rules, action groups and processing rules: changed with the change role on the subscription.
    "monitoring:metricalertrule_list": Row(expect={"GET": VISIBLE}, marker=link("metricalertrule")),
    "monitoring:metricalertrule_add": Row(expect={"GET": VISIBLE, "POST": CREATE}, payload=rule_add),
    "monitoring:metricalertrule_template": Row(
        expect={"GET": POST_ONLY, "POST": {**OPERATE_MESSAGE, "charlie": 404}},
        payload=lambda e, where: {"subscription": subscription(e, where).pk, "template": "failed_job"},
    ),
    "monitoring:metricalertrule_detail": Row(target="metricalertrule", expect={"GET": SCOPED}),
    "monitoring:metricalertrule_edit": Row(
        target="metricalertrule", expect={"GET": CHANGE, "POST": done(CHANGE)}, payload=rule_edit
    ),
    "monitoring:metricalertrule_delete": Row(target="metricalertrule", expect={"GET": CHANGE, "POST": done(CHANGE)}),
    "monitoring:actiongroup_list": Row(expect={"GET": VISIBLE}, marker=link("actiongroup")),
    "monitoring:actiongroup_add": Row(
        expect={"GET": VISIBLE, "POST": CREATE},
        payload=lambda e, where: {
            "subscription": subscription(e, where).pk,
            "name": "new group",
            "emails": "ops@example.com",
            "timeout_seconds": "10",
            "max_attempts": "4",
            "enabled": "on",
        },
    ),
    "monitoring:actiongroup_detail": Row(target="actiongroup", expect={"GET": SCOPED}),
    "monitoring:actiongroup_edit": Row(
        target="actiongroup", expect={"GET": CHANGE, "POST": done(CHANGE)}, payload=group_edit
    ),
    "monitoring:actiongroup_delete": Row(target="actiongroup", expect={"GET": CHANGE, "POST": done(CHANGE)}),
    # A test notification is an operation.
    "monitoring:actiongroup_test": Row(target="actiongroup", expect={"GET": POST_ONLY, "POST": OPERATE_MESSAGE}),
    "monitoring:alertprocessingrule_list": Row(
        expect={"GET": VISIBLE}, marker=lambda e, where: side(e, where)["alertprocessingrule"].name
    ),
    "monitoring:alertprocessingrule_add": Row(
        expect={"GET": VISIBLE, "POST": CREATE},
        payload=lambda e, where: {
            "subscription": subscription(e, where).pk,
            "name": "maintenance",
            "action": "suppress",
            "enabled": "on",
        },
    ),
    "monitoring:alertprocessingrule_edit": Row(
        target="alertprocessingrule", expect={"GET": CHANGE, "POST": done(CHANGE)}, payload=processing_edit
    ),
    "monitoring:alertprocessingrule_delete": Row(
        target="alertprocessingrule", expect={"GET": CHANGE, "POST": done(CHANGE)}
    ),
}


def test_every_monitoring_page_has_a_row():
    routes = named_routes(NAMESPACES, root_names=False)
    missing = routes - set(PAGES)
    assert not missing, f"add these routes to the monitoring page matrix: {sorted(missing)}"
    stale = set(PAGES) - routes
    assert not stale, f"the matrix names routes that no longer exist: {sorted(stale)}"


@pytest.fixture
def monitoring_pages(monitoring_estate):  # noqa: F811
    system = SystemActor("test-setup")
    for where in ("inside", "outside"):
        side(monitoring_estate, where)["alertprocessingrule"] = processing_rule_create(
            actor=system, subscription=subscription(monitoring_estate, where), name=f"apr-{where}", action="suppress"
        )
    return monitoring_estate


def _cells():
    for name, row in PAGES.items():
        for method, column in row.expect.items():
            for persona in PERSONAS:
                if persona in column:
                    yield pytest.param(name, method, persona, id=f"{name}-{method}-{persona}")


@pytest.mark.parametrize(("name", "method", "persona"), list(_cells()))
def test_monitoring_pages_answer_each_persona_as_the_matrix_says(monitoring_pages, client_for, name, method, persona):
    e, row = monitoring_pages, PAGES[name]
    user = "alice" if persona == "alice_out" else persona
    where = "outside" if persona == "alice_out" else "inside"
    target = side(e, where)[row.target] if row.target else None
    url = reverse(name, args=[target.pk]) if target is not None else reverse(name)
    client = client_for(user)
    data = {}
    if method == "POST" and row.payload is not None:
        data = row.payload(e, target if target is not None else where)
    before = ChangeRecord.objects.count()
    response = client.get(url) if method == "GET" else client.post(url, data)
    expected = row.expect[method][persona]
    check_page(response, expected, before, ChangeRecord.objects.count())
    if expected == DONE:
        assert ChangeRecord.objects.count() > before, "a write that went through must be in the change log"
    if method == "GET" and row.marker and response.status_code == 200:
        body = response.getvalue() if response.streaming else response.content
        content = body.decode()
        assert (row.marker(e, "inside") in content) == (persona in SEES_INSIDE), "inside object"
        assert (row.marker(e, "outside") in content) == (persona == "admin"), "fabrikam object"
