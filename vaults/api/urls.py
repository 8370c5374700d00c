from rest_framework.routers import DefaultRouter

from vaults.api import views

app_name = "vaults"
router = DefaultRouter()
router.register("vaults", views.VaultViewSet)
router.register("keys", views.EncryptionKeyViewSet)
router.register("backup-instances", views.BackupInstanceViewSet)
router.register("recovery-points", views.RecoveryPointViewSet)
urlpatterns = router.urls
