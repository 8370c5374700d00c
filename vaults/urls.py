from django.urls import path

from vaults import security_views, views

app_name = "vaults"
urlpatterns = [
    path("", views.VaultListView.as_view(), name="vault_list"),
    path("add/", views.VaultEditView.as_view(), name="vault_add"),
    path("<int:pk>/", views.VaultDetailView.as_view(), name="vault_detail"),
    path("<int:pk>/edit/", views.VaultEditView.as_view(), name="vault_edit"),
    path("<int:pk>/delete/", views.VaultDeleteView.as_view(), name="vault_delete"),
    path("keys/", views.KeyListView.as_view(), name="encryptionkey_list"),
    path("keys/add/", views.KeyEditView.as_view(), name="key_add"),
    path("keys/<int:pk>/", views.KeyDetailView.as_view(), name="key_detail"),
    path("keys/<int:pk>/<str:action>/", views.key_action, name="key_action"),
    path("instances/", views.InstanceListView.as_view(), name="instance_list"),
    path("instances/add/", views.instance_add, name="instance_add"),
    path("instances/<int:pk>/", views.InstanceDetailView.as_view(), name="instance_detail"),
    path("instances/<int:pk>/backup/", views.instance_backup, name="instance_backup"),
    path("instances/<int:pk>/protection/<str:action>/", views.instance_protection, name="instance_protection"),
    path("instances/<int:pk>/restore/", views.instance_restore, name="instance_restore"),
    path("instances/<int:pk>/change-policy/", views.instance_change_policy, name="instance_change_policy"),
    path("restore/", views.restore_start, name="restore"),
    path("instances/<int:pk>/delete-data/", security_views.instance_delete_data, name="instance_delete_data"),
    path("instances/<int:pk>/undelete/", security_views.instance_undelete, name="instance_undelete"),
    path("recovery-points/<int:pk>/delete/", security_views.recovery_point_delete, name="recoverypoint_delete"),
    path("<int:pk>/guard/", security_views.vault_guard, name="vault_guard"),
    path("<int:vault_pk>/request-access/", security_views.access_request_create, name="accessrequest_add"),
    path("guards/", security_views.GuardListView.as_view(), name="resourceguard_list"),
    path("guards/add/", security_views.GuardEditView.as_view(), name="guard_add"),
    path("guards/<int:pk>/", security_views.GuardDetailView.as_view(), name="guard_detail"),
    path("guards/<int:pk>/edit/", security_views.GuardEditView.as_view(), name="resourceguard_edit"),
    path("access-requests/", security_views.access_request_list, name="accessrequest_list"),
    path("access-requests/<int:pk>/", security_views.access_request_detail, name="accessrequest_detail"),
    path("access-requests/<int:pk>/<str:decision>/", security_views.access_request_decide, name="accessrequest_decide"),
]
