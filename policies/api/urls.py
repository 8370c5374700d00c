from rest_framework.routers import DefaultRouter

from policies.api import views

app_name = "policies"
router = DefaultRouter()
router.register("backup-policies", views.BackupPolicyViewSet)
urlpatterns = router.urls
