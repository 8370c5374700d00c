"""Where the current change comes from (a request or a task), for the change log."""

import contextvars
from contextlib import contextmanager

_origin: contextvars.ContextVar[dict | None] = contextvars.ContextVar("backupcenter_origin", default=None)


def current_origin() -> dict:
    return _origin.get() or {}


@contextmanager
def origin(**values: str):
    token = _origin.set({**(_origin.get() or {}), **values})
    try:
        yield
    finally:
        _origin.reset(token)
