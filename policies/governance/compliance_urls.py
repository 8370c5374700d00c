from django.urls import path

from policies.governance import views

app_name = "compliance"
urlpatterns = [
    path("", views.compliance, name="overview"),
    path("resources/", views.compliance_results, name="results"),
]
