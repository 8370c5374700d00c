"""API views of backup policies; writes and previews call the same services and calculators as the pages."""

from django.db.models import Count
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import ScopedViewSet
from policies import services
from policies.api import serializers
from policies.filtersets import BackupPolicyFilterSet
from policies.models import BackupPolicy
from policies.schedule import get_zone
from policies.selectors import retention_preview, schedule_preview


class BackupPolicyViewSet(ScopedViewSet):
    queryset = BackupPolicy.objects.select_related("vault").annotate(n=Count("instances"))
    serializer_class = serializers.BackupPolicySerializer
    filterset_class = BackupPolicyFilterSet
    create_service = services.policy_create
    update_service = services.policy_update
    delete_service = services.policy_delete
    object_kwarg = "policy"

    @extend_schema(request=serializers.SchedulePreviewSerializer, responses={200: None})
    @action(detail=False, methods=["post"], url_path="preview-schedule")
    def preview_schedule(self, request):
        """The next runs of a schedule (in its zone and UTC); 400 with field errors when it is invalid."""
        body = serializers.SchedulePreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule, _, _ = services.clean_policy_rules(
            datasource_kind=body.validated_data["datasource_kind"],
            schedule=body.validated_data["schedule"],
            retention={"daily_count": 7},
        )
        runs = schedule_preview(
            BackupPolicy(schedule=schedule).schedule_obj(), timezone.now(), body.validated_data["count"]
        )
        return Response(
            {"schedule": schedule, "runs": [{"local": r.local.isoformat(), "utc": r.utc.isoformat()} for r in runs]}
        )

    @extend_schema(request=serializers.RetentionPreviewSerializer, responses={200: None})
    @action(detail=False, methods=["post"], url_path="preview-retention")
    def preview_retention(self, request):
        """What the rules keep of a simulated year of scheduled backups; 400 with field errors when invalid."""
        body = serializers.RetentionPreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule, retention, _ = services.clean_policy_rules(
            datasource_kind=body.validated_data["datasource_kind"],
            schedule=body.validated_data["schedule"],
            retention=body.validated_data["retention"],
        )
        policy = BackupPolicy(schedule=schedule, retention=retention)
        preview = retention_preview(policy.schedule_obj(), policy.retention_rules(), timezone.now())
        zone = get_zone(schedule["timezone"])
        by_id = {p.id: p for p in preview.points}
        kept = sorted(preview.decision.keep.items(), key=lambda item: by_id[item[0]].created)
        return Response(
            {
                "simulated_backups": len(preview.points),
                "kept": preview.kept,
                "by_reason": preview.count_by_reason(),
                "points": [
                    {"created": by_id[pk].created.astimezone(zone).isoformat(), "reasons": reasons}
                    for pk, reasons in kept
                ],
            }
        )
