"""The activity log: every change record the user may see, filterable, as a page (API in core/api.py)."""

import django_filters
import django_tables2 as tables

from core.filtersets import ScopedFilterSet
from core.models import ChangeRecord
from core.tables import BaseTable
from core.views import ObjectListView


class ChangeRecordFilterSet(ScopedFilterSet):
    """Filters of the activity log: actor, object type, action, tenant and a time range."""

    search_fields = ("object_repr", "actor_name", "message", "action")
    scope_paths = {**ScopedFilterSet.scope_paths, "location": None, "datasource_kind": None}
    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact", label="Actor")
    object_type = django_filters.CharFilter(lookup_expr="iexact", label="Object type")
    action = django_filters.CharFilter(lookup_expr="iexact")
    since = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="gte", label="From")
    until = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="lte", label="To")

    class Meta:
        model = ChangeRecord
        fields = ["q", "actor", "object_type", "action", "since", "until"]


class ChangeRecordTable(BaseTable):
    time = tables.DateTimeColumn(format="Y-m-d H:i:s")
    actor_name = tables.Column(verbose_name="Actor")
    action = tables.Column()
    object_type = tables.Column(verbose_name="Type")
    object_repr = tables.Column(verbose_name="Object")
    tenant = tables.Column()
    message = tables.Column(orderable=False)

    class Meta(BaseTable.Meta):
        model = ChangeRecord
        fields = ("time", "actor_name", "action", "object_type", "object_repr", "tenant", "message")


class ActivityLogView(ObjectListView):
    queryset = ChangeRecord.objects.select_related("tenant")
    filterset_class = ChangeRecordFilterSet
    table_class = ChangeRecordTable
    title = "Activity log"
    empty_hint = "Every change made through the console, the API or a task appears here."
