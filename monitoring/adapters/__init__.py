"""Adapters to the systems notifications go through: SMTP (Django's email backend) and HTTP webhooks."""


class DeliveryFailed(Exception):
    """A notification could not be delivered; `response_code` is the HTTP status when there was one."""

    def __init__(self, message: str, *, response_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.response_code = response_code
