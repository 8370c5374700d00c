from rest_framework.routers import DefaultRouter

from core.api import ActivityViewSet

app_name = "core"
router = DefaultRouter()
router.register("activity", ActivityViewSet, basename="changerecord")
urlpatterns = router.urls
