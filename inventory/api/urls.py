from rest_framework.routers import DefaultRouter

from inventory.api import views

app_name = "inventory"
router = DefaultRouter()
router.register("tenants", views.TenantViewSet)
router.register("subscriptions", views.SubscriptionViewSet)
router.register("resource-groups", views.ResourceGroupViewSet)
router.register("locations", views.LocationViewSet)
router.register("connectors", views.ConnectorViewSet)
router.register("datasources", views.DatasourceViewSet)
router.register("role-assignments", views.RoleAssignmentViewSet)
urlpatterns = router.urls
