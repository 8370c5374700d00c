"""API serializers of jobs. Jobs carry no secrets: params hold only operation options (never passwords)."""

from rest_framework import serializers

from core.api import BaseSerializer, BriefSerializer
from monitoring.models import Job


class JobSerializer(BaseSerializer):
    vault = BriefSerializer(read_only=True)
    instance = BriefSerializer(read_only=True)
    datasource = BriefSerializer(read_only=True)
    recovery_point = BriefSerializer(read_only=True)
    throughput = serializers.FloatField(read_only=True, allow_null=True, help_text="Bytes per second so far.")

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "display",
            "operation",
            "status",
            "subject",
            "datasource_kind",
            "vault",
            "instance",
            "datasource",
            "recovery_point",
            "actor_name",
            "created",
            "started",
            "ended",
            "percent",
            "files_done",
            "total_files",
            "bytes_done",
            "total_bytes",
            "seconds_remaining",
            "throughput",
            "bytes_added",
            "error_code",
            "message",
            "warnings",
            "log",
            "params",
        ]
        read_only_fields = fields
