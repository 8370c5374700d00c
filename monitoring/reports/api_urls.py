"""Mounted at /api/monitoring/ next to the monitoring API (different inner routes)."""

from django.urls import path

from monitoring.reports import api

app_name = "reports"
urlpatterns = [path("reports/<slug:tab>/", api.ReportView.as_view(), name="report")]
