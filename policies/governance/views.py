"""Governance pages (definitions, assignments, assign) and Compliance pages (overall %, assignments with
non-compliant counts, drill-down with reasons, remediate)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from core.exceptions import DomainError, PermissionDenied
from core.forms import apply_errors
from core.permissions import has_permission
from core.views import render_list
from policies.governance.choices import ComplianceState, Effect
from policies.governance.definitions import DEFINITIONS, get_definition, parameter_choices
from policies.governance.filtersets import AssignmentFilterSet, ResultFilterSet
from policies.governance.forms import AssignmentForm
from policies.governance.models import ComplianceResult, PolicyAssignment, RemediationTask
from policies.governance.services import (
    assignment_create,
    assignment_delete,
    assignment_evaluate,
    assignment_update,
    remediation_create,
    visible_assignment_q,
)
from policies.governance.tables import AssignmentTable, RemediationResultTable, RemediationTable, ResultTable


def assignments_with_counts(user):
    """Assignments the user may see, with counts of the results the user may see."""
    visible = ComplianceResult.objects.for_user(user)
    return (
        PolicyAssignment.objects.filter(visible_assignment_q(user))
        .annotate(
            non_compliant=Count(
                "results", filter=Q(results__state=ComplianceState.NON_COMPLIANT, results__in=visible), distinct=True
            ),
            compliant=Count(
                "results", filter=Q(results__state=ComplianceState.COMPLIANT, results__in=visible), distinct=True
            ),
        )
        .select_related("tenant", "subscription", "resource_group")
    )


def _assignment(user, pk) -> PolicyAssignment:
    assignment = PolicyAssignment.objects.filter(visible_assignment_q(user)).filter(pk=pk).first()
    if assignment is None:
        raise Http404
    return assignment


@login_required
def governance(request):
    """Governance: the built-in definitions and the assignments."""
    definitions = [
        {
            "definition": d,
            "effects": [Effect(e).label for e in d.effects],
            "parameters": [(p, parameter_choices(p)) for p in d.parameters],
        }
        for d in DEFINITIONS.values()
    ]
    return render_list(
        request,
        queryset=assignments_with_counts(request.user),
        filterset_class=AssignmentFilterSet,
        table_class=AssignmentTable,
        template="governance/governance.html",
        context={"title": "Governance", "definitions": definitions},
    )


@login_required
def assign(request, key: str):
    definition = get_definition(key)
    if definition is None:
        raise Http404
    form = AssignmentForm(request.POST or None, definition=definition, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        if data["scope"] is None:
            form.add_error("scope", "Choose a scope you can see.")
        else:
            try:
                assignment = assignment_create(actor=request.user, **data)
            except ValidationError as error:
                apply_errors(form, error)
            except (DomainError, PermissionDenied) as error:
                form.add_error(None, getattr(error, "message", str(error)))
            else:
                messages.success(request, f"Assigned {assignment}; its compliance is being evaluated.")
                return HttpResponseRedirect(assignment.get_absolute_url())
    title = f"Assign: {definition.name}"
    return render(request, "governance/assign.html", {"title": title, "form": form, "definition": definition})


@login_required
def assignment_edit(request, pk):
    assignment = _assignment(request.user, pk)
    if not has_permission(request.user, "manage_access", assignment):
        raise PermissionDenied("Only owners of the assignment's scope can change it.")
    form = AssignmentForm(
        request.POST or None, definition=assignment.definition, user=request.user, instance=assignment
    )
    if request.method == "POST" and form.is_valid():
        try:
            assignment = assignment_update(actor=request.user, assignment=assignment, **form.service_data())
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Saved {assignment}.")
            return HttpResponseRedirect(assignment.get_absolute_url())
    context = {"title": f"Edit assignment: {assignment}", "form": form, "definition": assignment.definition}
    return render(request, "governance/assign.html", context)


@login_required
def assignment_detail(request, pk):
    """Drill-down: one assignment's resources with state and reason, its remediation tasks."""
    assignment = _assignment(request.user, pk)
    results = ComplianceResult.objects.for_user(request.user).filter(assignment=assignment)
    counts = {row["state"]: row["n"] for row in results.values("state").annotate(n=Count("id"))}
    remediations = RemediationTable(assignment.remediations.all()[:20], prefix="rem-")
    context = {
        "title": f"Assignment: {assignment}",
        "assignment": assignment,
        "definition": assignment.definition,
        "counts": [(ComplianceState(s), counts.get(s, 0)) for s in ComplianceState.values],
        "can_manage": has_permission(request.user, "manage_access", assignment),
        "can_evaluate": has_permission(request.user, "operate", assignment),
        "can_remediate": assignment.effect == Effect.DEPLOY_IF_NOT_EXISTS
        and has_permission(request.user, "change", assignment),
        "remediations": remediations,
    }
    return render_list(
        request,
        queryset=results.select_related("assignment"),
        filterset_class=ResultFilterSet,
        table_class=ResultTable,
        template="governance/assignment_detail.html",
        context=context,
    )


@login_required
@require_POST
def assignment_evaluate_view(request, pk):
    assignment = _assignment(request.user, pk)
    assignment_evaluate(actor=request.user, assignment=assignment)
    messages.info(request, f"Compliance scan of {assignment} requested.")
    return HttpResponseRedirect(assignment.get_absolute_url())


@login_required
@require_POST
def assignment_remediate_view(request, pk):
    assignment = _assignment(request.user, pk)
    try:
        task = remediation_create(actor=request.user, assignment=assignment)
    except (DomainError, PermissionDenied) as error:
        messages.error(request, getattr(error, "message", str(error)))
        return HttpResponseRedirect(assignment.get_absolute_url())
    messages.success(request, f"Remediation #{task.pk} started.")
    return HttpResponseRedirect(task.get_absolute_url())


@login_required
def assignment_delete_view(request, pk):
    assignment = _assignment(request.user, pk)
    if not has_permission(request.user, "manage_access", assignment):
        raise PermissionDenied("Only owners of the assignment's scope can remove it.")
    if request.method == "POST":
        assignment_delete(actor=request.user, assignment=assignment)
        messages.success(request, f"Removed assignment {assignment}.")
        return HttpResponseRedirect(reverse("governance:governance"))
    return render(request, "core/object_delete.html", {"object": assignment, "title": f"Remove {assignment}?"})


@login_required
def remediation_detail(request, pk):
    task = get_object_or_404(RemediationTask.objects.for_user(request.user), pk=pk)
    table = RemediationResultTable(task.results.select_related("instance__datasource", "instance__vault"))
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return render(request, "governance/remediation_detail.html", {"title": str(task), "task": task, "table": table})


@login_required
def compliance(request):
    """Compliance: overall % compliant, assignments with non-compliant counts, a chart of the states."""
    from monitoring.reports.charts import compliance_figure, render_figure

    results = ComplianceResult.objects.for_user(request.user)
    from core.context_processors import SCOPE_KEYS

    for key in ("tenant", "subscription", "resource_group"):
        values = [v for v in request.GET.getlist(key) if v]
        if values:
            results = results.filter(**{f"{SCOPE_KEYS[key]}__in": values})
    counts = {row["state"]: row["n"] for row in results.values("state").annotate(n=Count("id"))}
    judged = sum(counts.values()) - counts.get(ComplianceState.EXEMPT, 0)
    percent = round(100 * counts.get(ComplianceState.COMPLIANT, 0) / judged, 1) if judged else None
    assignments = sorted(assignments_with_counts(request.user), key=lambda a: (-a.non_compliant, a.name.lower()))
    context = {
        "title": "Compliance",
        "percent": percent,
        "counts": [(ComplianceState(s), counts.get(s, 0)) for s in ComplianceState.values],
        "assignments": assignments,
        "chart": render_figure(compliance_figure(counts)) if counts else "",
        "query": request.GET.urlencode(),
    }
    return render(request, "governance/compliance.html", context)


@login_required
def compliance_results(request):
    """Every visible result, filterable by state, definition, assignment and scope."""
    return render_list(
        request,
        queryset=ComplianceResult.objects.for_user(request.user).select_related("assignment"),
        filterset_class=ResultFilterSet,
        table_class=ResultTable,
        template="governance/results.html",
        context={"title": "Compliance: resources"},
    )
