"""Tags every request with an id that the change log records next to each change."""

import uuid

from core.context import origin


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        request.request_id = request_id[:64]
        with origin(request_id=request.request_id):
            response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response
