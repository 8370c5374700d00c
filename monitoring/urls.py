from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("jobs/", views.JobListView.as_view(), name="job_list"),
    path("jobs/export.csv", views.job_export, name="job_export"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("alerts/", views.AlertListView.as_view(), name="alert_list"),
    path("alerts/state/", views.alert_bulk, name="alert_bulk"),
    path("alerts/settings/", views.alert_settings, name="alert_settings"),
    path("alerts/settings/<int:vault_pk>/", views.alert_settings_update, name="alert_settings_update"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/state/", views.alert_state, name="alert_state"),
    path("health-events/", views.HealthEventListView.as_view(), name="healthevent_list"),
    path("metrics/", views.metrics, name="metrics"),
    path("metrics/chart/", views.metrics_chart, name="metrics_chart"),
    path("overview/health-chart/", views.overview_health_chart, name="overview_health_chart"),
    path("alert-rules/", views.MetricAlertRuleListView.as_view(), name="metricalertrule_list"),
    path("alert-rules/add/", views.MetricAlertRuleEditView.as_view(), name="metricalertrule_add"),
    path("alert-rules/from-template/", views.metric_rule_template, name="metricalertrule_template"),
    path("alert-rules/<int:pk>/", views.MetricAlertRuleDetailView.as_view(), name="metricalertrule_detail"),
    path("alert-rules/<int:pk>/edit/", views.MetricAlertRuleEditView.as_view(), name="metricalertrule_edit"),
    path("alert-rules/<int:pk>/delete/", views.MetricAlertRuleDeleteView.as_view(), name="metricalertrule_delete"),
    path("action-groups/", views.ActionGroupListView.as_view(), name="actiongroup_list"),
    path("action-groups/add/", views.ActionGroupEditView.as_view(), name="actiongroup_add"),
    path("action-groups/<int:pk>/", views.ActionGroupDetailView.as_view(), name="actiongroup_detail"),
    path("action-groups/<int:pk>/edit/", views.ActionGroupEditView.as_view(), name="actiongroup_edit"),
    path("action-groups/<int:pk>/delete/", views.ActionGroupDeleteView.as_view(), name="actiongroup_delete"),
    path("action-groups/<int:pk>/test/", views.action_group_test, name="actiongroup_test"),
    path("processing-rules/", views.AlertProcessingRuleListView.as_view(), name="alertprocessingrule_list"),
    path("processing-rules/add/", views.AlertProcessingRuleEditView.as_view(), name="alertprocessingrule_add"),
    path(
        "processing-rules/<int:pk>/edit/",
        views.AlertProcessingRuleEditView.as_view(),
        name="alertprocessingrule_edit",
    ),
    path(
        "processing-rules/<int:pk>/delete/",
        views.AlertProcessingRuleDeleteView.as_view(),
        name="alertprocessingrule_delete",
    ),
]
