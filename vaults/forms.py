"""Forms of the vault pages; services validate meaning and write."""

from django import forms

from core.forms import BootstrapMixin
from inventory.choices import SUPPORTED_KINDS, DatasourceKind
from inventory.forms import ScopedForm, _resource_group_field
from inventory.models import Datasource, Location, ResourceGroup
from policies.models import BackupPolicy
from vaults.choices import Encryption, Immutability, Redundancy, SoftDeleteState
from vaults.models import EncryptionKey, RecoveryPoint, Vault


class VaultForm(ScopedForm):
    resource_group = forms.ModelChoiceField(queryset=Location.objects.none())
    location = forms.ModelChoiceField(queryset=Location.objects.all())
    name = forms.CharField(max_length=50)
    redundancy = forms.ChoiceField(
        choices=Redundancy.choices, initial=Redundancy.LRS, help_text="Locked once the first item is protected."
    )
    cross_region_restore = forms.BooleanField(required=False, help_text="Needs GRS.")
    soft_delete_state = forms.ChoiceField(
        choices=SoftDeleteState.choices, initial=SoftDeleteState.ENABLED, label="Soft delete"
    )
    soft_delete_days = forms.IntegerField(
        initial=14, min_value=14, max_value=180, help_text="How long deleted backup data is kept (14–180 days)."
    )
    immutability = forms.ChoiceField(choices=Immutability.choices[:2], initial=Immutability.DISABLED)
    encryption = forms.ChoiceField(
        choices=Encryption.choices,
        initial=Encryption.PLATFORM,
        help_text="A customer-managed key cannot be changed back to platform-managed.",
    )
    encryption_key = forms.ModelChoiceField(
        queryset=EncryptionKey.objects.none(), required=False, label="Customer-managed key"
    )
    storage_url = forms.CharField(
        required=False,
        label="Repository location",
        help_text="Leave blank for a folder under the product's vault root, or give any restic repository URL.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resource_group"] = _resource_group_field(self.user)
        self.fields["resource_group"].widget.attrs["class"] = "form-select"
        self.fields["encryption_key"].queryset = EncryptionKey.objects.for_user(self.user).filter(enabled=True)
        if self.instance:
            for name in ("resource_group", "location", "name", "storage_url"):
                del self.fields[name]
            self.fields["immutability"].choices = Immutability.choices
            if not self.is_bound:
                for name in self.fields:
                    self.initial[name] = getattr(self.instance, name)


class EncryptionKeyForm(ScopedForm):
    resource_group = forms.ModelChoiceField(queryset=Location.objects.none())
    name = forms.CharField(max_length=80)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resource_group"] = _resource_group_field(self.user)
        self.fields["resource_group"].widget.attrs["class"] = "form-select"


class ConfigureBackupForm(BootstrapMixin, forms.Form):
    """+ Backup: datasource type → datasource → vault (same location) → policy (the vault's, for that type)."""

    kind = forms.ChoiceField(label="Datasource type")
    datasource = forms.ModelChoiceField(queryset=Datasource.objects.none(), required=False)
    vault = forms.ModelChoiceField(queryset=Vault.objects.none(), required=False)
    policy = forms.ModelChoiceField(
        queryset=BackupPolicy.objects.none(),
        required=False,
        empty_label="Daily at 02:00 UTC, keep 30 days (the vault's default)",
    )
    excludes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Files: exclude patterns, one per line."
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from inventory.selectors import protectable_datasources

        self.fields["kind"].choices = [("", "Choose…")] + [
            (k, DatasourceKind(k).label) for k in DatasourceKind.values if k in SUPPORTED_KINDS
        ]
        data = self.data if self.is_bound else self.initial
        kind = data.get("kind")
        datasources = protectable_datasources(user).filter(kind=kind) if kind else Datasource.objects.none()
        self.fields["datasource"].queryset = datasources
        self.fields["datasource"].label_from_instance = lambda d: f"{d.name} · {d.resource_group} · {d.location}"
        datasource = datasources.filter(pk=data.get("datasource") or 0).first()
        vaults = Vault.objects.for_user(user, "change")
        if datasource is not None:
            vaults = vaults.filter(location=datasource.location, tenant=datasource.tenant)
        else:
            vaults = vaults.none()
        self.fields["vault"].queryset = vaults
        vault = vaults.filter(pk=data.get("vault") or 0).first()
        self.fields["policy"].queryset = (
            BackupPolicy.objects.filter(vault=vault, datasource_kind=kind) if vault else BackupPolicy.objects.none()
        )
        self.datasource_obj, self.vault_obj = datasource, vault

    def clean(self):
        data = super().clean()
        for name in ("datasource", "vault"):
            if not data.get(name):
                self.add_error(name, "This field is required.")
        return data


class BackupNowForm(BootstrapMixin, forms.Form):
    retain_until = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional: keep this recovery point until then (UTC).",
    )


class ChangePolicyForm(BootstrapMixin, forms.Form):
    """Change policy: another policy of the instance's vault for its datasource type."""

    policy = forms.ModelChoiceField(queryset=BackupPolicy.objects.none(), empty_label=None)

    def __init__(self, *args, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policy"].queryset = BackupPolicy.objects.filter(
            vault_id=instance.vault_id, datasource_kind=instance.datasource.kind
        ).exclude(pk=instance.policy_id)


class RestoreForm(BootstrapMixin, forms.Form):
    """One form for every kind; the fields that apply to the instance's kind are shown."""

    recovery_point = forms.ModelChoiceField(queryset=RecoveryPoint.objects.none())
    location = forms.ChoiceField(
        choices=[("alternate", "Alternate location"), ("original", "Original location")],
        required=False,
        label="Restore to",
    )
    path = forms.CharField(
        required=False, label="Target folder or file", help_text="An absolute path inside a restore folder."
    )
    include = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Items to restore",
        help_text="Item-level restore: one path from the recovery point per line; blank for all.",
    )
    conflict = forms.ChoiceField(
        choices=[
            ("fail", "Fail if a file exists"),
            ("skip", "Skip existing files"),
            ("overwrite", "Overwrite existing files"),
        ],
        required=False,
    )
    mode = forms.ChoiceField(
        choices=[
            ("new_database", "Restore as a new database"),
            ("original", "Overwrite the original database"),
            ("files", "Restore as files (the dump file)"),
        ],
        required=False,
    )
    dbname = forms.CharField(required=False, label="New database name", help_text="Blank: <name>_restored_<time>.")
    confirm_overwrite = forms.BooleanField(required=False, label="I understand the original database is overwritten")
    overwrite = forms.BooleanField(required=False, label="Overwrite an existing file")

    KIND_FIELDS = {
        "files": ("recovery_point", "location", "path", "include", "conflict"),
        "postgresql": ("recovery_point", "mode", "dbname", "path", "confirm_overwrite", "overwrite"),
        "sqlite": ("recovery_point", "path", "overwrite"),
    }

    def __init__(self, *args, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["recovery_point"].queryset = instance.recovery_points.filter(state="available")
        for name in list(self.fields):
            if name not in self.KIND_FIELDS[instance.datasource.kind]:
                del self.fields[name]

    def target(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "recovery_point"}
        if "include" in data:
            data["include"] = [line.strip() for line in data["include"].splitlines() if line.strip()]
        return {k: v for k, v in data.items() if v not in ("", None, [], False)}


class ResourceGuardForm(ScopedForm):
    resource_group = forms.ModelChoiceField(queryset=Location.objects.none())
    location = forms.ModelChoiceField(queryset=Location.objects.all())
    name = forms.CharField(max_length=80)
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Tell backup admins how to ask for access (who, where, what to include).",
    )
    protected_operations = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Disabling soft delete and removing MUA protection are always protected.",
    )

    def __init__(self, *args, **kwargs):
        from vaults.choices import MANDATORY_OPERATIONS, ProtectedOperation
        from vaults.models import ResourceGuard

        super().__init__(*args, **kwargs)
        field = forms.ModelChoiceField(queryset=ResourceGroup.objects.for_user(self.user, "manage_guard"))
        field.widget.attrs["class"] = "form-select"
        self.fields["resource_group"] = field
        self.fields["protected_operations"].choices = [
            (op.value, op.label) for op in ProtectedOperation if op not in MANDATORY_OPERATIONS
        ]
        self.fields["protected_operations"].widget.attrs["class"] = "form-check-input"
        if self.instance:
            for name in ("resource_group", "location", "name"):
                del self.fields[name]
            if not self.is_bound:
                self.initial.update(
                    description=self.instance.description, protected_operations=self.instance.protected_operations
                )
        elif not self.is_bound:
            self.initial["protected_operations"] = ResourceGuard.default_operations()


class LinkGuardForm(BootstrapMixin, forms.Form):
    guard = forms.ModelChoiceField(queryset=Location.objects.none(), label="Resource Guard")

    def __init__(self, *args, user=None, vault=None, **kwargs):
        from vaults.models import ResourceGuard

        super().__init__(*args, **kwargs)
        self.fields["guard"].queryset = ResourceGuard.objects.for_user(user).filter(location=vault.location)


class AccessRequestForm(BootstrapMixin, forms.Form):
    operation = forms.ChoiceField(required=False, help_text="Blank: every protected operation for the duration.")
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    duration_hours = forms.IntegerField(min_value=1, max_value=8, initial=1, label="Duration (hours)")

    def __init__(self, *args, vault=None, **kwargs):
        from vaults.choices import ProtectedOperation

        super().__init__(*args, **kwargs)
        guard = vault.resource_guard
        ops = [op for op in ProtectedOperation if guard is not None and guard.guards(op)]
        self.fields["operation"].choices = [("", "All protected operations (time window)")] + [
            (op.value, op.label) for op in ops
        ]


class DecisionForm(BootstrapMixin, forms.Form):
    note = forms.CharField(required=False, max_length=500)
