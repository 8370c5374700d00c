"""Invariant 1 as a table for governance, compliance and backup reports: every page and action under /governance/,
/compliance/ and /reports/, and every API endpoint of /api/policies/{definitions,assignments,compliance,remediations}/
and /api/monitoring/reports/, for every persona, owner (oscar) and security admin (sam) included. A route added to
these namespaces without a row here fails `test_every_governance_and_reports_route_has_a_row`.

The objects: an AuditIfNotExists assignment and a DeployIfNotExists assignment on subscription prod (inside) and on
subscription main of fabrikam (outside), made by the administrator and evaluated; a finished remediation task of
each DeployIfNotExists assignment; a scheduled report owned by oscar on prod (inside) and by the administrator on
main (outside); an export file owned by alice (inside) and one owned by bob (outside: someone else's export)."""

from dataclasses import dataclass

import pytest
from django.urls import reverse

from core.models import ChangeRecord
from tests.inventory.test_permission_matrix import add_policies
from tests.matrix import BOUNCED, DONE, LOGIN, REFUSED, Row, check_api, check_page, named_routes

pytestmark = pytest.mark.django_db

PERSONAS = ("anon", "charlie", "bob", "alice", "alice_out", "oscar", "sam", "admin")
# Who sees the objects under prod: its reader, contributor and owner, contoso's security admin, the administrator.
SEES_INSIDE = ("bob", "alice", "oscar", "sam", "admin")
NAMESPACES = {"governance", "compliance", "reports", "api:governance", "api:reports"}

# Pages -------------------------------------------------------------------------------------------------------------
VISIBLE = {p: 200 for p in PERSONAS if p != "alice_out"} | {"anon": LOGIN}
SCOPED = {**VISIBLE, "charlie": 404, "alice_out": 404}
# Assignments are changed by owners of their scope only (manage_access), like role assignments.
MANAGE = {**SCOPED, "bob": 403, "alice": 403, "sam": 403}
# A compliance scan is an operation (operator and up), like discovery.
OPERATE = {**SCOPED, "bob": 403, "sam": 403}
POST_ONLY = {p: 405 for p in VISIBLE} | {"anon": LOGIN}
# Exports are personal: only their owner (alice) opens them, the administrator included.
OWN = {p: 404 for p in PERSONAS} | {"anon": LOGIN, "alice": 200}


def done(get: dict) -> dict:
    return {p: (DONE if v == 200 else v) for p, v in get.items()}


ASSIGN = {p: REFUSED for p in PERSONAS} | {"anon": LOGIN, "oscar": DONE, "admin": DONE}
# Remediation configures backup (change); the page answers a refusal with a message on the assignment.
REMEDIATE = {**SCOPED, "bob": BOUNCED, "sam": BOUNCED, "alice": DONE, "oscar": DONE, "admin": DONE}
# Anyone may mail themselves a report of what they can see; a schedule is removed by its owner or with change.
SCHEDULE = {**done(VISIBLE), "charlie": REFUSED, "alice_out": REFUSED}
UNSCHEDULE = {**done(SCOPED), "bob": BOUNCED, "sam": BOUNCED}

TABS = ("summary", "backup_items", "usage", "jobs", "policies", "optimize", "adherence", "compliance")


def named(key):
    """A marker: the inside/outside object's name."""
    return lambda e, where: getattr(e, where)[key].name


def payload_assign(e, where):
    scope = e.main if where == "outside" else e.prod
    return {"scope": f"subscription:{scope.pk}", "name": "new-assignment", "effect": "audit"}


def payload_edit(e, assignment):
    """The edit form as the page posts it: the assignment's own values with a new message."""
    from policies.governance.forms import AssignmentForm

    form = AssignmentForm(definition=assignment.definition, user=e.admin, instance=assignment)
    data = {n: form[n].value() for n in form.fields if n != "scope" and form[n].value() not in (None, False)}
    return {**data, "non_compliance_message": "changed"}


def payload_schedule(e, where):
    scope = e.main if where == "outside" else e.prod
    return {
        "name": "weekly-new",
        "scope": f"subscription:{scope.pk}",
        "tab": "summary",
        "format": "csv",
        "frequency": "weekly",
        "recipients": "ops@example.com",
        "days": "30",
    }


PAGES: dict[str, Row] = {
    "governance:governance": Row(expect={"GET": VISIBLE}, marker=named("assignment")),
    "governance:assignment_detail": Row(target="assignment", expect={"GET": SCOPED}),
    "governance:assignment_edit": Row(
        target="assignment", expect={"GET": MANAGE, "POST": done(MANAGE)}, payload=payload_edit
    ),
    "governance:assignment_delete": Row(target="assignment", expect={"GET": MANAGE, "POST": done(MANAGE)}),
    "governance:assignment_evaluate": Row(target="assignment", expect={"GET": POST_ONLY, "POST": done(OPERATE)}),
    "governance:assignment_remediate": Row(target="dine", expect={"GET": POST_ONLY, "POST": REMEDIATE}),
    "governance:remediation_detail": Row(target="remediationtask", expect={"GET": SCOPED}),
    "compliance:overview": Row(expect={"GET": VISIBLE}, marker=named("assignment")),
    "compliance:results": Row(
        expect={"GET": VISIBLE}, marker=lambda e, where: getattr(e, where)["complianceresult"].resource_name
    ),
    "reports:schedule_list": Row(
        expect={"GET": VISIBLE, "POST": SCHEDULE}, payload=payload_schedule, marker=named("scheduledreport")
    ),
    "reports:schedule_delete": Row(target="scheduledreport", expect={"GET": POST_ONLY, "POST": UNSCHEDULE}),
    "reports:export_detail": Row(target="reportexport", expect={"GET": OWN}),
    "reports:export_download": Row(target="reportexport", expect={"GET": OWN}),
}
NOT_FOUND = {**VISIBLE, **{p: 404 for p in VISIBLE if p != "anon"}}
PARAMETRISED_PAGES: dict[str, list[Row]] = {
    "governance:assign": [
        Row(kwargs={"key": "soft_delete_enabled"}, expect={"GET": VISIBLE, "POST": ASSIGN}, payload=payload_assign),
        Row(kwargs={"key": "no_such_definition"}, expect={"GET": NOT_FOUND}),
    ],
    "reports:tab": [
        Row(kwargs={"tab": t}, expect={"GET": VISIBLE}, marker=named("policy") if t == "policies" else None)
        for t in TABS
    ]
    + [Row(kwargs={"tab": "no_such_tab"}, expect={"GET": NOT_FOUND})],
    "reports:export": [
        Row(
            kwargs={"tab": t, "fmt": "csv"},
            expect={"GET": VISIBLE},
            marker=named("policy") if t == "policies" else None,
        )
        for t in TABS
    ]
    + [Row(kwargs={"tab": "summary", "fmt": f}, expect={"GET": VISIBLE}) for f in ("xlsx", "pdf")]
    + [
        Row(kwargs={"tab": "summary", "fmt": "doc"}, expect={"GET": NOT_FOUND}),
        Row(kwargs={"tab": "no_such_tab", "fmt": "csv"}, expect={"GET": NOT_FOUND}),
    ],
}

# API ---------------------------------------------------------------------------------------------------------------
A_LIST = {p: 200 for p in PERSONAS if p != "alice_out"} | {"anon": 401}
A_DETAIL = {**A_LIST, "charlie": 404, "alice_out": 404}
A_MANAGE = {**A_DETAIL, "bob": 403, "alice": 403, "sam": 403}
A_OPERATE = {**A_DETAIL, "bob": 403, "sam": 403}
A_NOT_FOUND = {**A_LIST, **{p: 404 for p in A_LIST if p != "anon"}}


def code(column: dict, status: int) -> dict:
    return {p: (status if v == 200 else v) for p, v in column.items()}


A_ASSIGN = {p: REFUSED for p in PERSONAS} | {"anon": 401, "oscar": 201, "admin": 201}


def api_assign(e, where):
    scope = e.main if where == "outside" else e.prod
    return {
        "definition_key": "soft_delete_enabled",
        "scope_type": "subscription",
        "scope_id": scope.pk,
        "parameters": {"always_on_only": True},
    }


def ident(key, detail):
    """A marker: the object's own URL (ids alone also match nested objects)."""
    return lambda e, where: f'{reverse(detail, args=[getattr(e, where)[key].pk])}"'


@dataclass
class ApiRow(Row):
    """An API row with a query string (report formats)."""

    query: str = ""


APIS: dict[str, Row] = {
    "api:governance:definition-list": Row(expect={"GET": A_LIST}),
    "api:governance:policyassignment-list": Row(
        expect={"GET": A_LIST, "POST": A_ASSIGN},
        payload=api_assign,
        marker=ident("assignment", "api:governance:policyassignment-detail"),
    ),
    "api:governance:policyassignment-detail": Row(
        target="assignment",
        expect={"GET": A_DETAIL, "PATCH": A_MANAGE, "DELETE": code(A_MANAGE, 204)},
        payload={"non_compliance_message": "changed"},
    ),
    "api:governance:policyassignment-evaluate": Row(target="assignment", expect={"POST": code(A_OPERATE, 202)}),
    # Remediation configures backup (change): the reader and the security admin are refused.
    "api:governance:policyassignment-remediate": Row(
        target="dine", expect={"POST": {**code(A_DETAIL, 202), "bob": 403, "sam": 403}}
    ),
    "api:governance:complianceresult-list": Row(
        expect={"GET": A_LIST}, marker=ident("complianceresult", "api:governance:complianceresult-detail")
    ),
    "api:governance:complianceresult-detail": Row(target="complianceresult", expect={"GET": A_DETAIL}),
    "api:governance:remediationtask-list": Row(
        expect={"GET": A_LIST}, marker=ident("remediationtask", "api:governance:remediationtask-detail")
    ),
    "api:governance:remediationtask-detail": Row(target="remediationtask", expect={"GET": A_DETAIL}),
}
PARAMETRISED_APIS: dict[str, list[Row]] = {
    "api:governance:definition-detail": [
        Row(kwargs={"key": "backup_enabled"}, expect={"GET": A_LIST}),
        Row(kwargs={"key": "no_such_definition"}, expect={"GET": A_NOT_FOUND}),
    ],
    "api:reports:report": [
        ApiRow(kwargs={"tab": t}, expect={"GET": A_LIST}, marker=named("policy") if t == "policies" else None)
        for t in TABS
    ]
    + [ApiRow(kwargs={"tab": "summary"}, query=f"format={f}", expect={"GET": A_LIST}) for f in ("csv", "xlsx", "pdf")]
    + [ApiRow(kwargs={"tab": "no_such_tab"}, expect={"GET": A_NOT_FOUND})],
}


# The completeness check --------------------------------------------------------------------------------------------


def test_every_governance_and_reports_route_has_a_row():
    routes = named_routes(NAMESPACES, root_names=False)
    covered = set(PAGES) | set(PARAMETRISED_PAGES) | set(APIS) | set(PARAMETRISED_APIS)
    missing = routes - covered
    assert not missing, f"add these routes to the governance permission matrix: {sorted(missing)}"
    stale = covered - routes
    assert not stale, f"the matrix names routes that no longer exist: {sorted(stale)}"


# The objects -------------------------------------------------------------------------------------------------------


@pytest.fixture
def governed(estate):
    """The estate with the objects described at the top, on both sides."""
    from monitoring.reports.models import ReportExport
    from monitoring.reports.services import export_path, scheduled_report_create
    from policies.governance.choices import RemediationStatus
    from policies.governance.evaluation import evaluate
    from policies.governance.models import RemediationTask
    from policies.governance.services import assignment_create

    add_policies(estate)
    admin = estate.admin
    for where, scope, owner, exporter in (
        ("inside", estate.prod, estate.oscar, estate.alice),
        ("outside", estate.main, admin, estate.bob),
    ):
        side = getattr(estate, where)
        audit = assignment_create(actor=admin, scope=scope, definition_key="backup_enabled", name=f"audit-{where}")
        dine = assignment_create(
            actor=admin,
            scope=scope,
            definition_key="configure_backup_tagged",
            name=f"dine-{where}",
            parameters={"policy": side["policy"].pk, "tag_name": "env"},
        )
        evaluate([audit, dine])
        task = RemediationTask.objects.create(
            assignment=dine,
            tenant_id=dine.tenant_id,
            subscription_id=dine.subscription_id,
            resource_group_id=dine.resource_group_id,
            status=RemediationStatus.SUCCEEDED,
        )
        schedule = scheduled_report_create(
            actor=owner,
            scope=scope,
            name=f"schedule-{where}",
            tab="summary",
            format="csv",
            frequency="weekly",
            recipients="ops@example.com",
        )
        export = ReportExport.objects.create(owner=exporter, tab="summary", format="csv", file_name="summary.csv")
        export_path(export).write_text("a,b\n1,2\n")
        side.update(
            assignment=audit,
            dine=dine,
            complianceresult=audit.results.get(),
            remediationtask=task,
            scheduledreport=schedule,
            reportexport=export,
        )
    return estate


# The matrix ----------------------------------------------------------------------------------------------------------


def _cells(table: dict[str, Row | list[Row]]):
    for name, rows in table.items():
        for index, row in enumerate(rows if isinstance(rows, list) else [rows]):
            suffix = ""
            if row.kwargs:
                suffix = "[" + ",".join(str(v) for v in row.kwargs.values()) + "]"
            if getattr(row, "query", ""):
                suffix += f"[{row.query}]"
            for method, column in row.expect.items():
                for persona in PERSONAS:
                    if persona in column:
                        yield pytest.param(name, index, method, persona, id=f"{name}{suffix}-{method}-{persona}")


def _row(table, name, index) -> Row:
    rows = table[name]
    return rows[index] if isinstance(rows, list) else rows


def _prepare(estate, row: Row, name: str, persona: str):
    """(signed-in user, inside/outside, target object, URL) of one cell."""
    user = "alice" if persona == "alice_out" else persona
    where = "outside" if persona == "alice_out" else "inside"
    target = getattr(estate, where)[row.target] if row.target else None
    url = reverse(name, args=[target.pk]) if target is not None else reverse(name, kwargs=row.kwargs or None)
    if getattr(row, "query", ""):
        url = f"{url}?{row.query}"
    return user, where, target, url


def _check_marker(row: Row, estate, persona: str, content: str) -> None:
    assert (row.marker(estate, "inside") in content) == (persona in SEES_INSIDE), "inside object"
    assert (row.marker(estate, "outside") in content) == (persona == "admin"), "fabrikam object"


ALL_PAGES = {**PAGES, **PARAMETRISED_PAGES}
ALL_APIS = {**APIS, **PARAMETRISED_APIS}


@pytest.mark.parametrize(("name", "index", "method", "persona"), list(_cells(ALL_PAGES)))
def test_governance_and_reports_pages_answer_each_persona_as_the_matrix_says(
    governed, client_for, name, index, method, persona
):
    row = _row(ALL_PAGES, name, index)
    user, where, target, url = _prepare(governed, row, name, persona)
    client = client_for(user)
    before = ChangeRecord.objects.count()
    if method == "GET":
        response = client.get(url)
    else:
        data = {}
        if row.payload is not None:
            data = row.payload(governed, target) if target is not None else row.payload(governed, where)
        response = client.post(url, data)
    check_page(response, row.expect[method][persona], before, ChangeRecord.objects.count())
    if row.expect[method][persona] == DONE:
        assert ChangeRecord.objects.count() > before, "a write that went through must be in the change log"
    if method == "GET" and row.marker and response.status_code == 200:
        body = response.getvalue() if response.streaming else response.content
        _check_marker(row, governed, persona, body.decode())


@pytest.mark.parametrize(("name", "index", "method", "persona"), list(_cells(ALL_APIS)))
def test_governance_and_reports_api_answers_each_persona_as_the_matrix_says(
    governed, api_for, name, index, method, persona
):
    row = _row(ALL_APIS, name, index)
    user, where, target, url = _prepare(governed, row, name, persona)
    client = api_for(user)
    before = ChangeRecord.objects.count()
    if method == "GET":
        response = client.get(url)
    elif method == "POST":
        response = client.post(url, row.payload(governed, where) if row.payload else {}, format="json")
    elif method == "PATCH":
        response = client.patch(url, row.payload, format="json")
    else:
        response = client.delete(url)
    check_api(response, row.expect[method][persona], before, ChangeRecord.objects.count())
    if method == "GET" and row.marker and response.status_code == 200:
        _check_marker(row, governed, persona, response.content.decode().replace(" ", ""))
