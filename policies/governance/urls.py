from django.urls import path

from policies.governance import views

app_name = "governance"
urlpatterns = [
    path("", views.governance, name="governance"),
    path("assign/<slug:key>/", views.assign, name="assign"),
    path("assignments/<int:pk>/", views.assignment_detail, name="assignment_detail"),
    path("assignments/<int:pk>/edit/", views.assignment_edit, name="assignment_edit"),
    path("assignments/<int:pk>/delete/", views.assignment_delete_view, name="assignment_delete"),
    path("assignments/<int:pk>/evaluate/", views.assignment_evaluate_view, name="assignment_evaluate"),
    path("assignments/<int:pk>/remediate/", views.assignment_remediate_view, name="assignment_remediate"),
    path("remediations/<int:pk>/", views.remediation_detail, name="remediation_detail"),
]
