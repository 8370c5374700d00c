"""Discovery tasks: one per connector, and a beat task that runs them all."""

from celery import shared_task
from django.contrib.auth import get_user_model

from core.context import origin
from core.permissions import SystemActor
from inventory.models import Connector


@shared_task(queue="default", soft_time_limit=600, time_limit=660, ignore_result=True)
def discover_connector(connector_id: int, actor_id: int | None = None) -> dict | None:
    """Discover what one connector reaches; quiet when the connector is gone."""
    from inventory.services import connector_discover

    connector = Connector.objects.filter(pk=connector_id).first()
    if connector is None:
        return None
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    with origin(task_id=discover_connector.request.id or ""):
        return connector_discover(actor=actor or SystemActor("discovery"), connector=connector)


@shared_task(queue="default", ignore_result=True)
def discover_all() -> int:
    """Beat: queue discovery of every connector."""
    connectors = list(Connector.objects.only("pk", "host"))
    for connector in connectors:
        discover_connector.apply_async((connector.pk,), queue=connector.queue)
    return len(connectors)
