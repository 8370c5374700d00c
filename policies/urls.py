from django.urls import path

from policies import views

app_name = "policies"

urlpatterns = [
    path("", views.PolicyListView.as_view(), name="policy_list"),
    path("add/", views.PolicyEditView.as_view(), name="policy_add"),
    path("preview/schedule/", views.preview_schedule, name="preview_schedule"),
    path("preview/retention/", views.preview_retention, name="preview_retention"),
    path("<int:pk>/", views.PolicyDetailView.as_view(), name="policy_detail"),
    path("<int:pk>/edit/", views.PolicyEditView.as_view(), name="policy_edit"),
    path("<int:pk>/delete/", views.PolicyDeleteView.as_view(), name="policy_delete"),
    path("auto-protection/<int:connector_pk>/", views.auto_protection, name="auto_protection"),
]
