"""API views of vaults, keys, backup instances and recovery points; writes and operations call the same
services as the pages, so the permission checks and rules are the same."""

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api import ScopedViewSet
from monitoring.api.serializers import JobSerializer
from vaults import services
from vaults.api import serializers
from vaults.choices import PointState, Tier
from vaults.filtersets import BackupInstanceFilterSet, EncryptionKeyFilterSet, RecoveryPointFilterSet, VaultFilterSet
from vaults.models import BackupInstance, EncryptionKey, RecoveryPoint, StorageLocation, Vault

CONFLICT = OpenApiResponse(description="Refused by a rule of the product: {code, detail}.")
MUA_REQUIRED = OpenApiResponse(
    description="`mua_required`: the vault's Resource Guard protects this operation and the caller holds no "
    "approved, unexpired access request for it; or the caller lacks the role."
)


def _count(model, field: str, **filters):
    rows = model.objects.filter(**{field: OuterRef("pk")}, **filters).order_by().values(field)
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1]), Value(0), output_field=IntegerField())


def vaults_with_usage(queryset):
    """Vaults with their usage as annotations: bytes added by tier, instances and recovery points.

    Subqueries rather than joins, so one vault's instances do not multiply its points' sums.
    """
    live = {"state__in": [PointState.AVAILABLE, PointState.SOFT_DELETED]}
    annotations = {}
    for tier in Tier.values:
        rows = RecoveryPoint.objects.filter(vault=OuterRef("pk"), tier=tier, **live).order_by().values("vault")
        annotations[f"usage_{tier}"] = Subquery(rows.annotate(total=Sum("data_added")).values("total")[:1])
    return queryset.annotate(
        **annotations,
        usage_instances=_count(BackupInstance, "vault"),
        usage_points=_count(RecoveryPoint, "vault", **live),
    ).prefetch_related(
        Prefetch("storage_locations", queryset=StorageLocation.objects.only("id", "vault", "role", "url"))
    )


def instances_with_latest_point(queryset):
    """Instances annotated with their newest available recovery point (id, time, snapshot) for the brief form."""
    newest = RecoveryPoint.objects.filter(instance=OuterRef("pk"), state=PointState.AVAILABLE).order_by("-created")
    return queryset.annotate(
        latest_point_id=Subquery(newest.values("pk")[:1]),
        latest_point_created=Subquery(newest.values("created")[:1]),
        latest_point_snapshot=Subquery(newest.values("snapshot_id")[:1]),
    )


class VaultViewSet(ScopedViewSet):
    queryset = Vault.objects.select_related("tenant", "subscription", "resource_group", "location", "encryption_key")
    serializer_class = serializers.VaultSerializer
    filterset_class = VaultFilterSet
    create_service = services.vault_create
    update_service = services.vault_update
    delete_service = services.vault_delete

    def get_queryset(self):
        return vaults_with_usage(super().get_queryset())

    def _reload(self, serializer) -> None:
        serializer.instance = vaults_with_usage(self.queryset.all()).get(pk=serializer.instance.pk)

    def perform_create(self, serializer):
        super().perform_create(serializer)
        self._reload(serializer)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        self._reload(serializer)


class EncryptionKeyViewSet(ScopedViewSet):
    """Customer-managed keys: created, rotated, enabled and disabled; never edited or deleted here."""

    http_method_names = ["get", "post", "head", "options"]
    queryset = EncryptionKey.objects.select_related("tenant", "subscription", "resource_group")
    serializer_class = serializers.EncryptionKeySerializer
    filterset_class = EncryptionKeyFilterSet
    create_service = services.key_create

    def _key_response(self, key: EncryptionKey) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=key.pk)).data)

    @extend_schema(request=None, responses={201: JobSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        """Create the key's next version and re-wrap every repository password sealed with it."""
        job = services.key_rotate(actor=request.user, key=self.get_object())
        return Response(JobSerializer(job, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: serializers.EncryptionKeySerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        """Enable the key: vaults using it can back up and restore again."""
        return self._key_response(services.key_set_enabled(actor=request.user, key=self.get_object(), enabled=True))

    @extend_schema(request=None, responses={200: serializers.EncryptionKeySerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        """Disable the key: backups and restores of vaults using it fail with a clear message until re-enabled."""
        return self._key_response(services.key_set_enabled(actor=request.user, key=self.get_object(), enabled=False))


class BackupInstanceViewSet(ScopedViewSet):
    """Protected datasources. Configure backup with POST; backups, restores and protection are actions."""

    http_method_names = ["get", "post", "head", "options"]
    queryset = BackupInstance.objects.select_related(
        "tenant", "subscription", "resource_group", "datasource", "vault", "policy"
    )
    serializer_class = serializers.BackupInstanceSerializer
    filterset_class = BackupInstanceFilterSet
    create_service = services.instance_create

    def get_queryset(self):
        return instances_with_latest_point(super().get_queryset())

    def perform_create(self, serializer):
        super().perform_create(serializer)
        serializer.instance = instances_with_latest_point(self.queryset.all()).get(pk=serializer.instance.pk)

    def _job_response(self, job) -> Response:
        return Response(JobSerializer(job, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)

    def _instance_response(self, instance: BackupInstance) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=instance.pk)).data)

    @extend_schema(request=serializers.BackupRequestSerializer, responses={201: JobSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def backup(self, request, pk=None):
        """Queue an on-demand backup; 409 `backup_in_progress` while another backup is queued or running."""
        instance = self.get_object()
        body = serializers.BackupRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.instance_backup_now(
            actor=request.user, instance=instance, retain_until=body.validated_data.get("retain_until")
        )
        return self._job_response(job)

    @extend_schema(request=serializers.RestoreRequestSerializer, responses={201: JobSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Queue a restore of one of this instance's recovery points to a target."""
        instance = self.get_object()
        body = serializers.RestoreRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        job = services.instance_restore(
            actor=request.user,
            instance=instance,
            recovery_point=body.validated_data["recovery_point"],
            target=body.validated_data["target"],
        )
        return self._job_response(job)

    @extend_schema(
        request=serializers.ChangePolicyRequestSerializer,
        responses={200: serializers.BackupInstanceSerializer, 403: MUA_REQUIRED, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="change-policy")
    def change_policy(self, request, pk=None):
        """Move the instance to another policy of its vault. A weaker policy (keeps less, or backs up less often)
        needs an approved access request for `move_to_weaker_policy` on a guarded vault (403 `mua_required`);
        an immutable vault refuses one that keeps less (409 `vault_immutable`)."""
        instance = self.get_object()
        body = serializers.ChangePolicyRequestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return self._instance_response(
            services.instance_change_policy(actor=request.user, instance=instance, policy=body.validated_data["policy"])
        )

    @extend_schema(request=None, responses={200: serializers.BackupInstanceSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="stop-protection")
    def stop_protection(self, request, pk=None):
        """Stop scheduled backups and keep every recovery point."""
        return self._instance_response(
            services.instance_stop_protection(actor=request.user, instance=self.get_object())
        )

    @extend_schema(request=None, responses={200: serializers.BackupInstanceSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="resume-protection")
    def resume_protection(self, request, pk=None):
        """Resume scheduled backups of an instance whose protection is stopped."""
        return self._instance_response(
            services.instance_resume_protection(actor=request.user, instance=self.get_object())
        )


class RecoveryPointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Recovery points the caller may see, newest first."""

    # The instance's display names its datasource and vault.
    queryset = RecoveryPoint.objects.select_related("vault", "instance__datasource", "instance__vault")
    serializer_class = serializers.RecoveryPointSerializer
    filterset_class = RecoveryPointFilterSet

    def get_queryset(self):
        return self.queryset.for_user(self.request.user, "view")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["brief"] = self.request.query_params.get("brief") in {"1", "true", "True"}
        return context
