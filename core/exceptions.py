"""Domain errors raised by services and turned into messages by pages and into responses by the API."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied


class PermissionDenied(DjangoPermissionDenied):
    """The actor can see the object but holds no role that allows this action on it."""


class DomainError(Exception):
    """A rule of the product refuses the operation; `code` is stable, `message` tells the user what to do."""

    status_code = 409

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
