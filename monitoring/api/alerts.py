"""API of alerts, health events (with aggregations), metric alert rules and action groups. Writes call the same
services as the pages; the webhook secret is write-only."""

from django.db.models import Count
from django.db.models.functions import TruncDay, TruncHour
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.api import BaseSerializer, BriefSerializer, ScopedRelatedField, ScopedViewSet
from inventory.models import Subscription
from monitoring import alerts as alert_services
from monitoring import notifications, rules
from monitoring.choices import AlertState
from monitoring.filtersets import AlertFilterSet, HealthEventFilterSet
from monitoring.models import ActionGroup, Alert, Delivery, HealthEvent, MetricAlertRule
from vaults.models import Vault


class AlertSerializer(BaseSerializer):
    vault = BriefSerializer(read_only=True)
    instance = BriefSerializer(read_only=True)
    alert_type = serializers.SerializerMethodField()
    scope_kind = serializers.CharField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "url",
            "display",
            "name",
            "rule_key",
            "category",
            "alert_type",
            "scope_kind",
            "severity",
            "state",
            "monitor_condition",
            "resource",
            "vault",
            "instance",
            "error_code",
            "description",
            "recommended_action",
            "occurrences",
            "first_fired",
            "last_fired",
            "resolved_at",
            "state_changed_at",
            "state_changed_by",
        ]
        read_only_fields = fields

    def get_alert_type(self, obj) -> str:
        return "security" if obj.category == "security" else "configured"


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts the caller may see, newest first; acknowledge and close need the operate role."""

    queryset = Alert.objects.select_related("vault", "instance__datasource", "instance__vault")
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet

    def get_queryset(self):
        return self.queryset.for_user(self.request.user, "view")

    def _set(self, request, state):
        alert = alert_services.alert_set_state(actor=request.user, alert=self.get_object(), state=state)
        return Response(self.get_serializer(alert).data)

    @extend_schema(request=None, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._set(request, AlertState.ACKNOWLEDGED)

    @extend_schema(request=None, responses={200: AlertSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._set(request, AlertState.CLOSED)


class HealthEventSerializer(BaseSerializer):
    vault = BriefSerializer(read_only=True)
    instance = BriefSerializer(read_only=True)

    class Meta:
        model = HealthEvent
        fields = [
            "id",
            "url",
            "display",
            "metric",
            "health_status",
            "timestamp",
            "vault",
            "instance",
            "instance_name",
            "datasource_kind",
            "error_code",
            "job",
        ]
        read_only_fields = fields


DIMENSIONS = {
    "health_status": "health_status",
    "vault": "vault_id",
    "datasource_kind": "datasource_kind",
    "instance": "instance_id",
    "datasource": "datasource_id",
    "metric": "metric",
}


class HealthEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Backup and Restore Health Events; `aggregate` counts them per time bucket and dimension."""

    queryset = HealthEvent.objects.select_related("vault", "instance__datasource", "instance__vault")
    serializer_class = HealthEventSerializer
    filterset_class = HealthEventFilterSet

    def get_queryset(self):
        return self.queryset.for_user(self.request.user, "view")

    @extend_schema(
        parameters=[
            OpenApiParameter("bucket", str, enum=["hour", "day"], description="Time bucket (default day)."),
            OpenApiParameter("dimension", str, enum=list(DIMENSIONS), description="Split by (optional)."),
        ],
        responses={200: {"type": "array", "items": {"type": "object"}}},
    )
    @action(detail=False, methods=["get"])
    def aggregate(self, request):
        """Counts per time bucket (and dimension) of the filtered events, e.g. `?range=30d&dimension=vault`."""
        bucket = request.query_params.get("bucket", "day")
        dimension = request.query_params.get("dimension", "")
        if bucket not in ("hour", "day") or dimension and dimension not in DIMENSIONS:
            raise ValidationError({"bucket": "hour or day", "dimension": sorted(DIMENSIONS)})
        events = self.filter_queryset(self.get_queryset())
        trunc = TruncHour("timestamp") if bucket == "hour" else TruncDay("timestamp")
        fields = ["b"] + ([DIMENSIONS[dimension]] if dimension else [])
        rows = events.annotate(b=trunc).values(*fields).annotate(count=Count("id")).order_by("b")
        data = [
            {
                "bucket": row["b"],
                **({dimension: row[DIMENSIONS[dimension]]} if dimension else {}),
                "count": row["count"],
            }
            for row in rows[:10000]
        ]
        return Response(data)


class MetricAlertRuleSerializer(BaseSerializer):
    subscription = ScopedRelatedField(Subscription)
    vault = ScopedRelatedField(Vault, action="view", required=False, allow_null=True)
    action_groups = ScopedRelatedField(ActionGroup, action="view", many=True, required=False)
    condition = serializers.CharField(read_only=True)

    class Meta:
        model = MetricAlertRule
        fields = [
            "id",
            "url",
            "display",
            "subscription",
            "vault",
            "name",
            "description",
            "metric",
            "health_statuses",
            "datasource_kinds",
            "split",
            "aggregation",
            "operator",
            "threshold",
            "window_minutes",
            "frequency_minutes",
            "severity",
            "stateful",
            "enabled",
            "action_groups",
            "condition",
            "last_evaluated_at",
            "next_evaluation_at",
        ]
        read_only_fields = ["last_evaluated_at", "next_evaluation_at"]

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            data.pop("subscription", None)
        return data


class MetricAlertRuleViewSet(ScopedViewSet):
    """Metric alert rules; `POST from-template` with `subscription` and `template` creates a sample rule."""

    queryset = MetricAlertRule.objects.select_related("subscription", "vault").prefetch_related("action_groups")
    serializer_class = MetricAlertRuleSerializer
    create_service = rules.metric_rule_create
    update_service = rules.metric_rule_update
    delete_service = rules.metric_rule_delete
    object_kwarg = "metric_alert_rule"

    @extend_schema(request=None, responses={201: MetricAlertRuleSerializer})
    @action(detail=False, methods=["post"], url_path="from-template")
    def from_template(self, request):
        subscriptions = Subscription.objects.for_user(request.user, "view")
        subscription = subscriptions.filter(pk=request.data.get("subscription") or 0).first()
        if subscription is None:
            raise ValidationError({"subscription": "Choose a subscription you can see."})
        rule = rules.metric_rule_from_template(
            actor=request.user, subscription=subscription, template=str(request.data.get("template", ""))
        )
        return Response(self.get_serializer(rule).data, status=201)


class DeliverySerializer(BaseSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "display",
            "channel",
            "target",
            "status",
            "is_test",
            "attempts",
            "response_code",
            "last_error",
            "attempt_log",
            "created",
            "finished",
            "alert",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> None:
        return None


class ActionGroupSerializer(BaseSerializer):
    subscription = ScopedRelatedField(Subscription)
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True)

    class Meta:
        model = ActionGroup
        fields = [
            "id",
            "url",
            "display",
            "subscription",
            "name",
            "emails",
            "webhook_url",
            "webhook_secret",
            "timeout_seconds",
            "max_attempts",
            "enabled",
        ]

    def service_data(self) -> dict:
        data = dict(self.validated_data)
        if self.instance is not None:
            data.pop("subscription", None)
        return data


class ActionGroupViewSet(ScopedViewSet):
    """Action groups; `test` sends a test notification through every channel and returns the deliveries."""

    queryset = ActionGroup.objects.select_related("subscription")
    serializer_class = ActionGroupSerializer
    create_service = notifications.action_group_create
    update_service = notifications.action_group_update
    delete_service = notifications.action_group_delete
    object_kwarg = "action_group"

    @extend_schema(request=None, responses={202: DeliverySerializer(many=True)})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        deliveries = notifications.action_group_test(actor=request.user, action_group=self.get_object())
        return Response(
            DeliverySerializer(deliveries, many=True, context=self.get_serializer_context()).data, status=202
        )

    @extend_schema(responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        rows = self.get_object().deliveries.all()[:100]
        return Response(DeliverySerializer(rows, many=True, context=self.get_serializer_context()).data)
