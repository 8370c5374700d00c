"""API views of jobs: read-only lists and details, and cancel, which calls the same service as the page."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from monitoring import services
from monitoring.api.serializers import JobSerializer
from monitoring.filtersets import JobFilterSet
from monitoring.models import Job


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Jobs the caller may see, newest first."""

    # The instance's display names its datasource and vault, so both are joined for the brief form.
    queryset = Job.objects.select_related(
        "vault", "instance__datasource", "instance__vault", "datasource", "recovery_point"
    )
    serializer_class = JobSerializer
    filterset_class = JobFilterSet

    def get_queryset(self):
        return self.queryset.for_user(self.request.user, "view")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["brief"] = self.request.query_params.get("brief") in {"1", "true", "True"}
        return context

    @extend_schema(
        request=None,
        responses={200: JobSerializer, 409: OpenApiResponse(description="The job has already ended (job_ended).")},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Ask the job to stop: a queued job is cancelled at once, a running one at its next progress check."""
        job = services.job_cancel(actor=request.user, job=self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data)
