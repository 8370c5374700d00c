from rest_framework.routers import DefaultRouter

from monitoring.api import views

app_name = "monitoring"
router = DefaultRouter()
router.register("jobs", views.JobViewSet)
urlpatterns = router.urls
