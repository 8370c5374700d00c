"""Writing the change log. Every service calls `change_record_write` for each change it makes."""

from typing import Any

from django.db import models

from core.context import current_origin
from core.models import ChangeRecord

MASK = "********"


def snapshot(obj: models.Model | None) -> dict[str, Any] | None:
    """A JSON-able copy of a model's concrete fields with its secret fields masked."""
    if obj is None:
        return None
    secret = set(getattr(obj, "secret_fields", ()))
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        name = field.attname
        value = getattr(obj, name)
        if field.name in secret or name in secret:
            data[field.name] = MASK if value else ""
            continue
        if isinstance(value, dict) and secret:
            value = {k: (MASK if k in secret else v) for k, v in value.items()}
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif not isinstance(value, str | int | float | bool | list | dict | type(None)):
            value = str(value)
        data[field.name] = value
    return data


def _scope_keys(obj: models.Model | None) -> dict[str, Any]:
    if obj is None:
        return {}
    keys = {}
    for level, field in getattr(obj, "scope_fields", {}).items():
        if "__" in field:
            continue
        column = "vault_id" if level == "vault" else f"{level}_id"
        keys[column] = getattr(obj, field, None)
    return keys


def change_record_write(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    message: str = "",
    object_type: str | None = None,
) -> ChangeRecord:
    """Record one change. `before`/`after` are snapshots (see `snapshot`) taken by the calling service."""
    origin = current_origin()
    user = actor if getattr(actor, "pk", None) and not getattr(actor, "is_system", False) else None
    return ChangeRecord.objects.create(
        actor=user,
        actor_name=getattr(actor, "username", None) or str(actor or "system"),
        action=action,
        object_type=object_type or (obj._meta.label_lower if obj is not None else ""),
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        before=before,
        after=after,
        message=message,
        request_id=origin.get("request_id", ""),
        task_id=origin.get("task_id", ""),
        **_scope_keys(obj),
    )
