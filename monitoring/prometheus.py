"""Prometheus exposition at /metrics: jobs by operation/status, age of the last successful backup per instance,
bytes protected per vault and tier, open alerts by severity, Celery queue depth. Protected by a bearer token
(METRICS_BEARER_TOKEN); with no token configured the endpoint does not exist."""

import hmac
import logging

from django.conf import settings
from django.db.models import Count, Max, Sum
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)


class BackupCenterCollector:
    """Reads the database at scrape time; every figure is one grouped query."""

    def collect(self):
        from monitoring.choices import OPEN_ALERT_STATES
        from monitoring.models import Alert, Job
        from vaults.choices import PointState
        from vaults.models import RecoveryPoint

        jobs = GaugeMetricFamily(
            "backupcenter_jobs", "Jobs kept in history by operation and status", labels=["operation", "status"]
        )
        for operation, status, n in Job.objects.values_list("operation", "status").annotate(n=Count("id")).order_by():
            jobs.add_metric([operation, status], n)
        yield jobs

        now = timezone.now()
        age = GaugeMetricFamily(
            "backupcenter_last_successful_backup_age_seconds",
            "Seconds since the newest recovery point of each backup instance",
            labels=["instance", "datasource", "vault"],
        )
        latest = (
            RecoveryPoint.objects.filter(state=PointState.AVAILABLE)
            .values_list("instance_id", "instance__datasource__name", "vault__name")
            .annotate(newest=Max("created"))
            .order_by()
        )
        for instance_id, datasource, vault, newest in latest:
            age.add_metric([str(instance_id), datasource, vault], (now - newest).total_seconds())
        yield age

        protected = GaugeMetricFamily(
            "backupcenter_protected_bytes", "Bytes read by available recovery points", labels=["vault", "tier"]
        )
        rows = (
            RecoveryPoint.objects.filter(state=PointState.AVAILABLE)
            .values_list("vault__name", "tier")
            .annotate(total=Sum("size"))
            .order_by()
        )
        for vault, tier, total in rows:
            protected.add_metric([vault, tier], total or 0)
        yield protected

        alerts = GaugeMetricFamily(
            "backupcenter_open_alerts", "Open alerts by severity", labels=["severity", "category"]
        )
        rows = (
            Alert.objects.filter(state__in=OPEN_ALERT_STATES)
            .values_list("severity", "category")
            .annotate(n=Count("id"))
        )
        for severity, category, n in rows.order_by():
            alerts.add_metric([severity, category], n)
        yield alerts

        yield from self._queues()

    def _queues(self):
        depth = GaugeMetricFamily(
            "backupcenter_celery_queue_depth", "Messages waiting per Celery queue", labels=["queue"]
        )
        up = GaugeMetricFamily("backupcenter_broker_up", "Whether the Celery broker answered")
        try:
            from backupcenter.celery import app

            with app.connection_for_read() as connection:
                client = connection.default_channel.client  # Redis: one list per queue
                names = {settings.CELERY_TASK_DEFAULT_QUEUE}
                names.update(k.decode() for k in client.scan_iter(match="host.*", count=500) if b"\x06" not in k)
                for name in sorted(names):
                    depth.add_metric([name], client.llen(name))
            up.add_metric([], 1)
        except Exception as error:  # a missing broker must not break the scrape of everything else
            logger.info("queue depth unavailable: %s", error.__class__.__name__)
            up.add_metric([], 0)
        yield depth
        yield up


@require_GET
def metrics_view(request):
    token = settings.METRICS_BEARER_TOKEN
    if not token:
        raise Http404("The /metrics endpoint is off (set METRICS_BEARER_TOKEN).")
    header = request.headers.get("Authorization", "")
    if not (header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode())):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackupCenterCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
