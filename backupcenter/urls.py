"""Root URLs: the console pages, the REST API under /api/, the OpenAPI schema and docs, the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backupcenter import views
from monitoring.prometheus import metrics_view

api_patterns = [
    path("core/", include("core.api_urls")),
    # Governance and reports share the /api/policies/ and /api/monitoring/ prefixes; their inner routes differ.
    path("policies/", include("policies.governance.api_urls")),
    path("monitoring/", include("monitoring.reports.api_urls")),
    path("inventory/", include("inventory.api.urls")),
    path("vaults/", include("vaults.api.urls")),
    path("monitoring/", include("monitoring.api.urls")),
    path("policies/", include("policies.api.urls")),
]

urlpatterns = [
    path("", views.overview, name="overview"),
    path("action-center/<str:action>/", views.action_center, name="action_center"),
    path("metrics", metrics_view, name="prometheus_metrics"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("inventory/", include("inventory.urls")),
    path("vaults/", include("vaults.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("policies/", include("policies.urls")),
    path("core/", include("core.urls")),
    path("governance/", include("policies.governance.urls")),
    path("compliance/", include("policies.governance.compliance_urls")),
    path("reports/", include("monitoring.reports.urls")),
    path("api/", include((api_patterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
