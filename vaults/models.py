"""Vaults and what they hold: keys, storage locations (restic repositories), backup instances, recovery points."""

import uuid

from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.querysets import ScopedManager
from inventory.models import Datasource, Location, ResourceGroup, Subscription, Tenant, name_validator
from vaults.choices import (
    OFF_BY_DEFAULT,
    AccessRequestStatus,
    Encryption,
    Health,
    Immutability,
    PointState,
    ProtectedOperation,
    ProtectionState,
    Redundancy,
    SoftDeleteState,
    StorageRole,
    Tier,
)


def _new_prefix() -> str:
    """A keyring name that no other key, past or future, can share (database ids can be reused)."""
    return uuid.uuid4().hex


RG_SCOPE = {"tenant": "tenant_id", "subscription": "subscription_id", "resource_group": "resource_group_id"}
VAULT_SCOPE = {**RG_SCOPE, "vault": "vault_id"}


class EncryptionKey(models.Model):
    """A customer-managed key: its versions live in the keyring file, named `cmk-<id>-v<version>`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="encryption_keys")
    name = models.CharField(max_length=80, validators=[name_validator])
    keyring_prefix = models.CharField(max_length=32, default=_new_prefix, unique=True, editable=False)
    current_version = models.PositiveIntegerField(default=1)
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    rotated = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()
    scope_fields = RG_SCOPE

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["resource_group", "name"], name="key_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.tenant_id = self.resource_group.tenant_id
        self.subscription_id = self.resource_group.subscription_id
        super().save(*args, **kwargs)

    def keyring_id(self, version: int | None = None) -> str:
        return f"cmk-{self.keyring_prefix}-v{version or self.current_version}"

    def get_absolute_url(self) -> str:
        return reverse("vaults:key_detail", args=[self.pk])


class ResourceGuard(models.Model):
    """Puts chosen operations on linked vaults behind a second person's approval (multi-user authorization).

    It lives in a scope its security admins own, ideally another subscription or tenant than the vaults.
    `protected_operations` lists the optional operations it guards; the mandatory ones are always guarded.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="resource_guards")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="resource_guards")
    name = models.CharField(max_length=80, validators=[name_validator])
    description = models.TextField(blank=True, help_text="How backup admins ask for access.")
    protected_operations = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = RG_SCOPE

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["resource_group", "name"], name="guard_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.tenant_id = self.resource_group.tenant_id
        self.subscription_id = self.resource_group.subscription_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("vaults:guard_detail", args=[self.pk])

    @staticmethod
    def default_operations() -> list[str]:
        from vaults.choices import MANDATORY_OPERATIONS

        return [op for op in ProtectedOperation.values if op not in MANDATORY_OPERATIONS and op not in OFF_BY_DEFAULT]

    def guards(self, operation: str) -> bool:
        from vaults.choices import MANDATORY_OPERATIONS

        return operation in MANDATORY_OPERATIONS or operation in self.protected_operations


class Vault(models.Model):
    """A backup vault: one restic repository per copy, with redundancy, soft delete and immutability settings."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="vaults")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="vaults")
    name = models.CharField(max_length=50, validators=[name_validator])
    redundancy = models.CharField(max_length=3, choices=Redundancy.choices, default=Redundancy.LRS)
    redundancy_locked = models.BooleanField(default=False, editable=False)
    cross_region_restore = models.BooleanField(default=False)
    soft_delete_state = models.CharField(
        max_length=10, choices=SoftDeleteState.choices, default=SoftDeleteState.ENABLED
    )
    soft_delete_days = models.PositiveSmallIntegerField(default=14)
    immutability = models.CharField(max_length=10, choices=Immutability.choices, default=Immutability.DISABLED)
    encryption = models.CharField(max_length=20, choices=Encryption.choices, default=Encryption.PLATFORM)
    encryption_key = models.ForeignKey(
        EncryptionKey, null=True, blank=True, on_delete=models.PROTECT, related_name="vaults"
    )
    resource_guard = models.ForeignKey(
        ResourceGuard, null=True, blank=True, on_delete=models.PROTECT, related_name="vaults", editable=False
    )
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = {**RG_SCOPE, "vault": "id"}

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["resource_group", "name"], name="vault_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.subscription_id = self.resource_group.subscription_id
        self.tenant_id = self.resource_group.tenant_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("vaults:vault_detail", args=[self.pk])

    @property
    def primary(self) -> "StorageLocation":
        return self.storage_locations.get(role=StorageRole.PRIMARY)


class StorageLocation(models.Model):
    """One restic repository holding one copy of a vault's data. Its password is stored only sealed."""

    vault = models.ForeignKey(Vault, on_delete=models.CASCADE, related_name="storage_locations")
    role = models.CharField(max_length=20, choices=StorageRole.choices, default=StorageRole.PRIMARY)
    url = models.CharField(max_length=500, help_text="restic repository: a local path or a backend URL.")
    sealed_password = models.TextField(editable=False)
    sealed_env = models.TextField(blank=True, editable=False, help_text="Backend credentials, sealed.")
    region = models.CharField(max_length=50, blank=True)
    zone = models.CharField(max_length=20, blank=True)
    bytes_stored = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    secret_fields = ("sealed_password", "sealed_env")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vault", "role"], name="storage_one_per_role")]

    def __str__(self) -> str:
        return f"{self.vault} ({self.get_role_display()})"


class BackupInstance(models.Model):
    """A datasource protected in a vault under a policy."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="+", editable=False)
    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="instances")
    datasource = models.ForeignKey(Datasource, on_delete=models.PROTECT, related_name="backup_instances")
    policy = models.ForeignKey("policies.BackupPolicy", on_delete=models.PROTECT, related_name="instances")
    selection = models.JSONField(default=dict, blank=True, help_text="Kind-specific: e.g. excludes for files.")
    protection_state = models.CharField(
        max_length=24, choices=ProtectionState.choices, default=ProtectionState.PROTECTED, db_index=True
    )
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    last_backup_status = models.CharField(max_length=30, blank=True)
    last_backup_time = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()
    scope_fields = VAULT_SCOPE

    class Meta:
        ordering = ["datasource__name"]
        constraints = [models.UniqueConstraint(fields=["datasource"], name="one_instance_per_datasource")]
        indexes = [models.Index(fields=["tenant", "protection_state"])]

    def __str__(self) -> str:
        return f"{self.datasource.name} in {self.vault.name}"

    def save(self, *args, **kwargs):
        self.tenant_id = self.vault.tenant_id
        self.subscription_id = self.vault.subscription_id
        self.resource_group_id = self.vault.resource_group_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("vaults:instance_detail", args=[self.pk])


class RecoveryPoint(models.Model):
    """One restic snapshot of an instance. It exists exactly when its snapshot exists."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+", editable=False)
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.PROTECT, related_name="+", editable=False)
    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="recovery_points", editable=False)
    instance = models.ForeignKey(BackupInstance, on_delete=models.PROTECT, related_name="recovery_points")
    snapshot_id = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(db_index=True)
    size = models.BigIntegerField(default=0, help_text="Bytes the backup read.")
    data_added = models.BigIntegerField(default=0, help_text="New bytes the backup stored.")
    file_count = models.BigIntegerField(default=0)
    tier = models.CharField(max_length=12, choices=Tier.choices, default=Tier.STANDARD)
    state = models.CharField(max_length=14, choices=PointState.choices, default=PointState.AVAILABLE, db_index=True)
    on_demand = models.BooleanField(default=False)
    retain_until = models.DateTimeField(null=True, blank=True, help_text="On-demand points: kept until then.")
    expires_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True)
    purge_warned = models.BooleanField(default=False, editable=False)
    job = models.ForeignKey("monitoring.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = ScopedManager()
    scope_fields = VAULT_SCOPE

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["instance", "-created"])]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} UTC ({self.snapshot_id[:8]})"

    def save(self, *args, **kwargs):
        instance = self.instance
        self.tenant_id, self.subscription_id = instance.tenant_id, instance.subscription_id
        self.resource_group_id, self.vault_id = instance.resource_group_id, instance.vault_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("vaults:instance_detail", args=[self.instance_id]) + f"#rp-{self.pk}"


class AccessRequestQuerySet(models.QuerySet):
    def for_user(self, user, action: str = "view"):
        """Requesters see their own requests; security admins of the guard see (and decide) all of its requests."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.is_superuser:
            return self
        guards = ResourceGuard.objects.for_user(user, "approve_access").values("pk")
        if action == "view":
            return self.filter(Q(requester=user) | Q(guard__in=guards))
        return self.filter(guard__in=guards)


class AccessRequest(models.Model):
    """A backup admin's request to run one protected operation on one vault (or several within a time window)."""

    guard = models.ForeignKey(ResourceGuard, on_delete=models.CASCADE, related_name="access_requests")
    vault = models.ForeignKey(Vault, on_delete=models.CASCADE, related_name="access_requests")
    operation = models.CharField(
        max_length=40,
        choices=ProtectedOperation.choices,
        blank=True,
        help_text="Blank: every operation the guard protects, for the duration (a time window).",
    )
    requester = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="access_requests")
    justification = models.TextField()
    duration_hours = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=10, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING, db_index=True
    )
    approver = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decision_note = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    decided = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    used = models.DateTimeField(null=True, blank=True)

    objects = AccessRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        what = self.get_operation_display() if self.operation else "protected operations"
        return f"{what} on {self.vault} by {self.requester}"

    def get_absolute_url(self) -> str:
        return reverse("vaults:accessrequest_detail", args=[self.pk])

    @property
    def status_colour(self) -> str:
        return AccessRequestStatus(self.status).colour


def active_instances():
    return Q(protection_state__in=[ProtectionState.PROTECTED, ProtectionState.PROTECTION_ERROR])
