from rest_framework.routers import DefaultRouter

from monitoring.api import views

app_name = "monitoring"
router = DefaultRouter()
router.register("jobs", views.JobViewSet)
urlpatterns = router.urls

# Alerts, health events, metric alert rules and action groups (monitoring/api/alerts.py).
from monitoring.api import alerts  # noqa: E402

router.register("alerts", alerts.AlertViewSet)
router.register("health-events", alerts.HealthEventViewSet)
router.register("alert-rules", alerts.MetricAlertRuleViewSet)
router.register("action-groups", alerts.ActionGroupViewSet)
urlpatterns = router.urls
