"""Mounted at /api/policies/ next to the backup policy API (different inner routes)."""

from rest_framework.routers import DefaultRouter

from policies.governance import api

app_name = "governance"
router = DefaultRouter()
router.include_root_view = False
router.register("definitions", api.DefinitionViewSet, basename="definition")
router.register("assignments", api.AssignmentViewSet, basename="policyassignment")
router.register("compliance", api.ComplianceViewSet, basename="complianceresult")
router.register("remediations", api.RemediationViewSet, basename="remediationtask")
urlpatterns = router.urls
