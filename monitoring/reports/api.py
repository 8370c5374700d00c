"""/api/monitoring/reports/<tab>/ — the report as JSON, or the file with ?format=csv|xlsx|pdf (token or session)."""

from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.reports import exporters, queries
from monitoring.reports.choices import Tab

JSON_ROWS = 1000


class _FileRenderer(BaseRenderer):
    """Lets `?format=` pick a file type; the view returns the file itself."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class CsvRenderer(_FileRenderer):
    media_type, format = "text/csv", "csv"


class XlsxRenderer(_FileRenderer):
    media_type, format = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"


class PdfRenderer(_FileRenderer):
    media_type, format = "application/pdf", "pdf"


class ReportView(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer, XlsxRenderer, PdfRenderer]

    def get(self, request, tab: str):
        from django.http import Http404

        from monitoring.reports.views import export_response

        if tab not in Tab.values:
            raise Http404
        filters = queries.parse_filters(request.query_params)
        fmt = request.query_params.get("format")
        if fmt in ("csv", "xlsx", "pdf"):
            result = export_response(request.user, tab, fmt, filters, background_url=False)
            if hasattr(result, "status_code"):
                return result
            return Response(
                {"export": result.pk, "job": result.job_id, "status": "queued", "detail": "Large export: see the job."},
                status=202,
            )
        report = queries.build(tab, request.user, filters)
        tables = []
        for table in report.tables:
            rows = []
            for i, row in enumerate(table.iter_rows()):
                if i >= JSON_ROWS:
                    break
                rows.append(dict(zip([c.key for c in table.columns], [exporters._plain(v) for v in row], strict=False)))
            tables.append({"name": table.name, "columns": [c.__dict__ for c in table.columns], "rows": rows})
        return Response(
            {"tab": tab, "title": report.title, "filters": report.filters, "tiles": report.tiles, "tables": tables}
        )
