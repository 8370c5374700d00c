"""Inventory: the tenant → subscription → resource group tree, locations, connectors, datasources, roles."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from core.querysets import ScopedManager
from core.roles import Role, ScopeLevel
from inventory.choices import ConnectorKind, DatasourceKind, DiscoveryStatus

name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$",
    "Use 1–80 letters, digits, dots, dashes or underscores, starting with a letter or digit.",
)


class Tenant(models.Model):
    """A customer or organisation; the outermost scope."""

    name = models.CharField(max_length=80, unique=True, validators=[name_validator])
    description = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = {"tenant": "id"}
    scope_container = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("inventory:tenant_detail", args=[self.pk])


class Subscription(models.Model):
    """A billing and access boundary inside a tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="subscriptions")
    name = models.CharField(max_length=80, validators=[name_validator])
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = {"tenant": "tenant_id", "subscription": "id"}
    scope_container = True

    class Meta:
        ordering = ["tenant__name", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="subscription_unique_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("inventory:subscription_detail", args=[self.pk])


class ResourceGroup(models.Model):
    """A folder of resources inside a subscription."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="resource_groups")
    name = models.CharField(max_length=80, validators=[name_validator])
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = {"tenant": "tenant_id", "subscription": "subscription_id", "resource_group": "id"}
    scope_container = True

    class Meta:
        ordering = ["subscription__name", "name"]
        constraints = [models.UniqueConstraint(fields=["subscription", "name"], name="resource_group_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.tenant_id = self.subscription.tenant_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("inventory:resourcegroup_detail", args=[self.pk])


class Location(models.Model):
    """A region where data lives, with its paired region for geo-redundant copies."""

    name = models.CharField(max_length=50, unique=True, validators=[name_validator])
    display_name = models.CharField(max_length=100, blank=True)
    paired_region = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    zones = models.JSONField(default=list, blank=True, help_text='Availability zone names, e.g. ["1", "2", "3"].')

    objects = models.Manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def get_absolute_url(self) -> str:
        return reverse("inventory:location_detail", args=[self.pk])


class Connector(models.Model):
    """A discovery source: a host with root paths served by a worker queue, or a PostgreSQL server."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="connectors")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="connectors")
    name = models.CharField(max_length=80, validators=[name_validator])
    kind = models.CharField(max_length=30, choices=ConnectorKind.choices)
    host = models.CharField(
        max_length=80,
        default="local",
        validators=[name_validator],
        help_text="Worker queue host.<name> that reaches it.",
    )
    settings = models.JSONField(default=dict, blank=True)
    secret = models.TextField(blank=True, editable=False)
    discovery_status = models.CharField(max_length=10, choices=DiscoveryStatus.choices, default=DiscoveryStatus.NEVER)
    discovery_message = models.TextField(blank=True)
    last_discovery = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = {"tenant": "tenant_id", "subscription": "subscription_id", "resource_group": "resource_group_id"}
    secret_fields = ("secret", "password")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["resource_group", "name"], name="connector_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.subscription_id = self.resource_group.subscription_id
        self.tenant_id = self.resource_group.tenant_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("inventory:connector_detail", args=[self.pk])

    @property
    def queue(self) -> str:
        return f"host.{self.host}"


class Datasource(models.Model):
    """Something that can be protected: a file tree, a database, an SQLite file."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="datasources")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="datasources")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=DatasourceKind.choices, db_index=True)
    host = models.CharField(max_length=80, default="local", validators=[name_validator])
    connection = models.JSONField(default=dict, blank=True)
    secret = models.TextField(blank=True, editable=False)
    tags = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    connector = models.ForeignKey(
        Connector, null=True, blank=True, on_delete=models.SET_NULL, related_name="datasources"
    )
    exists = models.BooleanField(default=True, help_text="False when discovery no longer finds it.")
    last_seen = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = {"tenant": "tenant_id", "subscription": "subscription_id", "resource_group": "resource_group_id"}
    secret_fields = ("secret", "password")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["resource_group", "kind", "name"], name="datasource_unique_name")
        ]
        indexes = [models.Index(fields=["tenant", "kind"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.subscription_id = self.resource_group.subscription_id
        self.tenant_id = self.resource_group.tenant_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("inventory:datasource_detail", args=[self.pk])

    @property
    def queue(self) -> str:
        return f"host.{self.host}"


class RoleAssignment(models.Model):
    """A role held by a user or a group at one scope: tenant, subscription, resource group or vault."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="role_assignments"
    )
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    scope_level = models.CharField(max_length=20, choices=ScopeLevel.choices, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="role_assignments")
    subscription = models.ForeignKey(Subscription, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    resource_group = models.ForeignKey(ResourceGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    vault = models.ForeignKey("vaults.Vault", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    # Who may see or change an assignment is decided at the assignment's own scope.
    scope_fields = {
        "tenant": "tenant_id",
        "subscription": "subscription_id",
        "resource_group": "resource_group_id",
        "vault": "vault_id",
    }

    class Meta:
        ordering = ["tenant__name", "role"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="role_assignment_user_xor_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal_name} · {self.get_role_display()} · {self.scope_name}"

    @property
    def principal_name(self) -> str:
        return self.user.username if self.user_id else f"group:{self.group.name}"

    @property
    def scope_object(self):
        return self.vault or self.resource_group or self.subscription or self.tenant

    @property
    def scope_name(self) -> str:
        return f"{self.get_scope_level_display()} {self.scope_object}"

    def get_absolute_url(self) -> str:
        return reverse("inventory:roleassignment_detail", args=[self.pk])
