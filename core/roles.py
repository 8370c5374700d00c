"""Roles, actions and scope levels: the one table every permission check reads."""

from django.db import models


class Role(models.TextChoices):
    READER = "reader", "Reader"
    OPERATOR = "operator", "Backup operator"
    CONTRIBUTOR = "contributor", "Backup contributor"
    OWNER = "owner", "Owner"
    SECURITY_ADMIN = "security_admin", "Security admin"


class Action(models.TextChoices):
    VIEW = "view", "View"
    OPERATE = "operate", "Operate (run backups and restores, cancel jobs, acknowledge alerts)"
    CHANGE = "change", "Create and change resources"
    DELETE = "delete", "Delete resources"
    MANAGE_ACCESS = "manage_access", "Assign roles"
    MANAGE_GUARD = "manage_guard", "Manage Resource Guards"
    APPROVE_ACCESS = "approve_access", "Approve or deny access requests"


ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.READER: frozenset({Action.VIEW}),
    Role.OPERATOR: frozenset({Action.VIEW, Action.OPERATE}),
    Role.CONTRIBUTOR: frozenset({Action.VIEW, Action.OPERATE, Action.CHANGE, Action.DELETE}),
    Role.OWNER: frozenset({Action.VIEW, Action.OPERATE, Action.CHANGE, Action.DELETE, Action.MANAGE_ACCESS}),
    Role.SECURITY_ADMIN: frozenset({Action.VIEW, Action.MANAGE_GUARD, Action.APPROVE_ACCESS}),
}


class ScopeLevel(models.TextChoices):
    TENANT = "tenant", "Tenant"
    SUBSCRIPTION = "subscription", "Subscription"
    RESOURCE_GROUP = "resource_group", "Resource group"
    VAULT = "vault", "Vault"


LEVEL_ORDER = [ScopeLevel.TENANT, ScopeLevel.SUBSCRIPTION, ScopeLevel.RESOURCE_GROUP, ScopeLevel.VAULT]


def role_grants(role: str, action: str) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())
