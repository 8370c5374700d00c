from rest_framework.routers import DefaultRouter

from vaults.api import security, views

app_name = "vaults"
router = DefaultRouter()
# Vaults, instances and recovery points with their security actions (guard links, soft delete, undelete).
router.register("vaults", security.VaultViewSet)
router.register("keys", views.EncryptionKeyViewSet)
router.register("backup-instances", security.BackupInstanceViewSet)
router.register("recovery-points", security.RecoveryPointViewSet)
router.register("resource-guards", security.ResourceGuardViewSet)
router.register("access-requests", security.AccessRequestViewSet)
urlpatterns = router.urls
