"""The scoped queryset every tenant-owned model uses: `Model.objects.for_user(user, action)`."""

from django.db import models

from core.permissions import scope_q


class ScopedQuerySet(models.QuerySet):
    def for_user(self, user, action: str = "view") -> "ScopedQuerySet":
        if not getattr(user, "is_authenticated", False):
            return self.none()
        q = scope_q(user, self.model, action)
        return self if q is None else self.filter(q)


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)
