from django.urls import path

from inventory import views

app_name = "inventory"


def crud(prefix: str, name: str, list_view, detail_view, edit_view, delete_view) -> list:
    return [
        path(f"{prefix}/", list_view.as_view(), name=f"{name}_list"),
        path(f"{prefix}/add/", edit_view.as_view(), name=f"{name}_add"),
        path(f"{prefix}/<int:pk>/", detail_view.as_view(), name=f"{name}_detail"),
        path(f"{prefix}/<int:pk>/edit/", edit_view.as_view(), name=f"{name}_edit"),
        path(f"{prefix}/<int:pk>/delete/", delete_view.as_view(), name=f"{name}_delete"),
    ]


urlpatterns = [
    path("", views.inventory_home, name="home"),
    path("protectable/", views.protectable_list, name="protectable"),
    path("connectors/<int:pk>/discover/", views.connector_discover, name="connector_discover"),
    *crud(
        "tenants", "tenant", views.TenantListView, views.TenantDetailView, views.TenantEditView, views.TenantDeleteView
    ),
    *crud(
        "subscriptions",
        "subscription",
        views.SubscriptionListView,
        views.SubscriptionDetailView,
        views.SubscriptionEditView,
        views.SubscriptionDeleteView,
    ),
    *crud(
        "resource-groups",
        "resourcegroup",
        views.ResourceGroupListView,
        views.ResourceGroupDetailView,
        views.ResourceGroupEditView,
        views.ResourceGroupDeleteView,
    ),
    *crud(
        "locations",
        "location",
        views.LocationListView,
        views.LocationDetailView,
        views.LocationEditView,
        views.LocationDeleteView,
    ),
    *crud(
        "connectors",
        "connector",
        views.ConnectorListView,
        views.ConnectorDetailView,
        views.ConnectorEditView,
        views.ConnectorDeleteView,
    ),
    *crud(
        "datasources",
        "datasource",
        views.DatasourceListView,
        views.DatasourceDetailView,
        views.DatasourceEditView,
        views.DatasourceDeleteView,
    ),
    path("role-assignments/", views.RoleAssignmentListView.as_view(), name="roleassignment_list"),
    path("role-assignments/add/", views.RoleAssignmentEditView.as_view(), name="roleassignment_add"),
    path("role-assignments/<int:pk>/", views.RoleAssignmentDetailView.as_view(), name="roleassignment_detail"),
    path("role-assignments/<int:pk>/delete/", views.RoleAssignmentDeleteView.as_view(), name="roleassignment_delete"),
]
