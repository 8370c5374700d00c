"""API building blocks: brief serializers, scoped related fields, a viewset that writes through services,
and the exception handler that turns domain errors into 400/409 responses."""

from collections.abc import Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import NoReverseMatch, reverse
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.activity import ChangeRecordFilterSet
from core.exceptions import DomainError
from core.models import ChangeRecord


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = ValidationError(detail)
    if isinstance(exc, DomainError):
        return Response({"code": exc.code, "detail": exc.message}, status=exc.status_code)
    from core.secrets import KeyUnavailable

    if isinstance(exc, KeyUnavailable):
        return Response({"code": exc.code, "detail": exc.message}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


def api_url(obj, request=None) -> str | None:
    meta = obj._meta
    try:
        path = reverse(f"api:{meta.app_label}:{meta.model_name}-detail", args=[obj.pk])
    except NoReverseMatch:
        return None
    return request.build_absolute_uri(path) if request is not None else path


class BriefSerializer(serializers.Serializer):
    """A related object in brief form: id, url, display."""

    def to_representation(self, instance):
        return {"id": instance.pk, "url": api_url(instance, self.context.get("request")), "display": str(instance)}


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """Reads as a brief object; writes as an id that must be one the user holds `action` on."""

    def __init__(self, model, action: str = "change", **kwargs):
        self.model, self.scope_action = model, action
        kwargs.setdefault("queryset", model.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        manager = self.model.objects
        if hasattr(manager, "for_user") and request is not None:
            return manager.for_user(request.user, self.scope_action)
        return manager.all()

    def use_pk_only_optimization(self):
        return False

    def to_representation(self, value):
        return BriefSerializer(value, context=self.context).data


class BaseSerializer(serializers.ModelSerializer):
    """Every model serializer has id, url and display; `?brief=1` keeps only those."""

    url = serializers.SerializerMethodField()
    display = serializers.SerializerMethodField()

    def get_url(self, obj) -> str | None:
        return api_url(obj, self.context.get("request"))

    def get_display(self, obj) -> str:
        return str(obj)

    def to_representation(self, instance):
        if self.context.get("brief"):
            return {"id": instance.pk, "url": self.get_url(instance), "display": str(instance)}
        return super().to_representation(instance)

    def service_data(self) -> dict:
        return dict(self.validated_data)


class ScopedViewSet(viewsets.ModelViewSet):
    """Lists and details come from `for_user`; create/update/delete call services, never the ORM."""

    create_service: Callable | None = None
    update_service: Callable | None = None
    delete_service: Callable | None = None
    object_kwarg = ""

    def get_queryset(self):
        queryset = self.queryset.all()
        if hasattr(queryset, "for_user"):
            return queryset.for_user(self.request.user, "view")
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["brief"] = self.request.query_params.get("brief") in {"1", "true", "True"}
        return context

    def _kwarg(self) -> str:
        return self.object_kwarg or self.queryset.model._meta.model_name

    def perform_create(self, serializer):
        if type(self).create_service is None:
            raise serializers.ValidationError("Objects of this kind cannot be created here.")
        serializer.instance = type(self).create_service(actor=self.request.user, **serializer.service_data())

    def perform_update(self, serializer):
        data = serializer.service_data()
        serializer.instance = type(self).update_service(
            actor=self.request.user, **{self._kwarg(): serializer.instance}, **data
        )

    def perform_destroy(self, instance):
        type(self).delete_service(actor=self.request.user, **{self._kwarg(): instance})


class ChangeRecordSerializer(BaseSerializer):
    tenant = BriefSerializer(read_only=True)

    class Meta:
        model = ChangeRecord
        fields = [
            "id",
            "url",
            "display",
            "time",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "tenant",
            "before",
            "after",
            "message",
            "request_id",
            "task_id",
        ]


class ActivityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The activity log, read-only, scoped to what the caller may see."""

    queryset = ChangeRecord.objects.select_related("tenant")
    serializer_class = ChangeRecordSerializer

    filterset_class = ChangeRecordFilterSet

    def get_queryset(self):
        return self.queryset.for_user(self.request.user, "view")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["brief"] = self.request.query_params.get("brief") in {"1", "true", "True"}
        return context
