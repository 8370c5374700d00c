from django.urls import path

from vaults import views

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
    path("restore/", views.restore_start, name="restore"),
]
