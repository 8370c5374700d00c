"""Forms of the inventory pages. They validate shape; services validate meaning and write."""

import json

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.forms import BootstrapMixin
from core.roles import Role, ScopeLevel
from inventory.choices import SUPPORTED_KINDS, ConnectorKind, DatasourceKind
from inventory.models import Connector, Datasource, Location, ResourceGroup, Subscription, Tenant


class ScopedForm(BootstrapMixin, forms.Form):
    def __init__(self, *args, user=None, instance=None, **kwargs):
        self.user, self.instance = user, instance
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict:
        return dict(self.cleaned_data)


class TenantForm(ScopedForm):
    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and not self.is_bound:
            self.initial.update(name=self.instance.name, description=self.instance.description)


class SubscriptionForm(ScopedForm):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none())
    name = forms.CharField(max_length=80)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = Tenant.objects.for_user(self.user, "change")
        if self.instance:
            del self.fields["tenant"]
            if not self.is_bound:
                self.initial["name"] = self.instance.name


class ResourceGroupForm(ScopedForm):
    subscription = forms.ModelChoiceField(queryset=Subscription.objects.none())
    name = forms.CharField(max_length=80)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subscription"].queryset = Subscription.objects.for_user(self.user, "change").select_related(
            "tenant"
        )
        self.fields["subscription"].label_from_instance = lambda s: f"{s.tenant} / {s}"
        if self.instance:
            del self.fields["subscription"]
            if not self.is_bound:
                self.initial["name"] = self.instance.name


class LocationForm(ScopedForm):
    name = forms.CharField(max_length=50)
    display_name = forms.CharField(max_length=100, required=False)
    paired_region = forms.ModelChoiceField(queryset=Location.objects.all(), required=False)
    zones = forms.CharField(required=False, help_text="Comma-separated zone names, e.g. 1,2,3.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance:
            self.fields["paired_region"].queryset = Location.objects.exclude(pk=self.instance.pk)
            if not self.is_bound:
                self.initial.update(
                    name=self.instance.name,
                    display_name=self.instance.display_name,
                    paired_region=self.instance.paired_region,
                    zones=",".join(self.instance.zones),
                )

    def clean_zones(self) -> list[str]:
        return [z.strip() for z in self.cleaned_data["zones"].split(",") if z.strip()]


def _resource_group_field(user) -> forms.ModelChoiceField:
    field = forms.ModelChoiceField(
        queryset=ResourceGroup.objects.for_user(user, "change").select_related("subscription", "tenant")
    )
    field.label_from_instance = lambda g: f"{g.tenant} / {g.subscription} / {g}"
    return field


class DatasourceForm(ScopedForm):
    """Connection fields are shown per kind; secret fields are write-only and left blank to keep them."""

    resource_group = forms.ModelChoiceField(queryset=ResourceGroup.objects.none())
    location = forms.ModelChoiceField(queryset=Location.objects.all())
    kind = forms.ChoiceField(
        choices=[(k, DatasourceKind(k).label) for k in DatasourceKind.values if k in SUPPORTED_KINDS]
    )
    name = forms.CharField(max_length=120)
    host = forms.CharField(max_length=80, initial="local", help_text="The worker queue host.<name> that reaches it.")
    paths = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Files: one absolute path per line."
    )
    excludes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Files: exclude patterns, one per line."
    )
    path = forms.CharField(required=False, help_text="SQLite: absolute path of the database file.")
    db_host = forms.CharField(required=False, label="Server host", help_text="PostgreSQL: host name or address.")
    db_port = forms.IntegerField(required=False, label="Server port", initial=5432)
    dbname = forms.CharField(required=False, label="Database name")
    db_user = forms.CharField(required=False, label="User name")
    password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Leave blank to keep the stored one."
    )
    tags = forms.CharField(required=False, help_text='JSON object, e.g. {"env": "prod"}.')

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resource_group"] = _resource_group_field(self.user)
        self.fields["resource_group"].widget.attrs["class"] = "form-select"
        if self.instance:
            for name in ("resource_group", "kind"):
                del self.fields[name]
            if not self.is_bound:
                c = self.instance.connection
                self.initial.update(
                    location=self.instance.location,
                    name=self.instance.name,
                    host=self.instance.host,
                    paths="\n".join(c.get("paths", [])),
                    excludes="\n".join(c.get("excludes", [])),
                    path=c.get("path", ""),
                    db_host=c.get("host", ""),
                    db_port=c.get("port", 5432),
                    dbname=c.get("dbname", ""),
                    db_user=c.get("user", ""),
                    tags=json.dumps(self.instance.tags) if self.instance.tags else "",
                )

    def clean_tags(self) -> dict:
        raw = self.cleaned_data["tags"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise forms.ValidationError("Tags must be a JSON object.") from None
        return value

    def service_data(self) -> dict:
        d = self.cleaned_data
        kind = d.get("kind") or self.instance.kind
        lines = lambda text: [line.strip() for line in (text or "").splitlines() if line.strip()]  # noqa: E731
        if kind == DatasourceKind.FILES:
            connection = {"paths": lines(d["paths"]), "excludes": lines(d["excludes"])}
        elif kind == DatasourceKind.SQLITE:
            connection = {"path": d["path"]}
        else:
            connection = {
                "host": d["db_host"],
                "port": d["db_port"],
                "dbname": d["dbname"],
                "user": d["db_user"],
                "password": d["password"],
            }
        data = {
            "location": d["location"],
            "name": d["name"],
            "host": d["host"],
            "connection": connection,
            "tags": d["tags"],
        }
        if not self.instance:
            data.update(resource_group=d["resource_group"], kind=kind)
        return data


class ConnectorForm(ScopedForm):
    resource_group = forms.ModelChoiceField(queryset=ResourceGroup.objects.none())
    location = forms.ModelChoiceField(queryset=Location.objects.all())
    name = forms.CharField(max_length=80)
    kind = forms.ChoiceField(choices=ConnectorKind.choices)
    host = forms.CharField(max_length=80, initial="local", help_text="The worker queue host.<name> that reaches it.")
    root_paths = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Host: folders whose sub-folders are datasources.",
    )
    db_host = forms.CharField(required=False, label="Server host")
    db_port = forms.IntegerField(required=False, label="Server port", initial=5432)
    db_user = forms.CharField(required=False, label="User name")
    password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Leave blank to keep the stored one."
    )
    exclude = forms.CharField(required=False, help_text="PostgreSQL: databases to skip, comma-separated.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resource_group"] = _resource_group_field(self.user)
        self.fields["resource_group"].widget.attrs["class"] = "form-select"
        if self.instance:
            for name in ("resource_group", "kind"):
                del self.fields[name]
            if not self.is_bound:
                s = self.instance.settings
                self.initial.update(
                    location=self.instance.location,
                    name=self.instance.name,
                    host=self.instance.host,
                    root_paths="\n".join(s.get("root_paths", [])),
                    db_host=s.get("host", ""),
                    db_port=s.get("port", 5432),
                    db_user=s.get("user", ""),
                    exclude=",".join(s.get("exclude", [])),
                )

    def service_data(self) -> dict:
        d = self.cleaned_data
        kind = d.get("kind") or self.instance.kind
        if kind == ConnectorKind.HOST:
            settings = {"root_paths": [p.strip() for p in d["root_paths"].splitlines() if p.strip()]}
        else:
            settings = {
                "host": d["db_host"],
                "port": d["db_port"],
                "user": d["db_user"],
                "password": d["password"],
                "exclude": [x.strip() for x in d["exclude"].split(",") if x.strip()],
            }
        data = {"location": d["location"], "name": d["name"], "host": d["host"], "settings": settings}
        if not self.instance:
            data.update(resource_group=d["resource_group"], kind=kind)
        return data


class RoleAssignmentForm(ScopedForm):
    user = forms.ModelChoiceField(queryset=get_user_model().objects.filter(is_active=True), required=False)
    group = forms.ModelChoiceField(queryset=Group.objects.all(), required=False)
    role = forms.ChoiceField(choices=Role.choices)
    scope_level = forms.ChoiceField(choices=ScopeLevel.choices)
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none(), required=False)
    subscription = forms.ModelChoiceField(queryset=Subscription.objects.none(), required=False)
    resource_group = forms.ModelChoiceField(queryset=ResourceGroup.objects.none(), required=False)
    vault = forms.ModelChoiceField(queryset=Tenant.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        from vaults.models import Vault

        super().__init__(*args, **kwargs)
        # Only scopes the actor may assign roles at are offered.
        self.fields["tenant"].queryset = Tenant.objects.for_user(self.user, "manage_access")
        self.fields["subscription"].queryset = Subscription.objects.for_user(self.user, "manage_access")
        self.fields["resource_group"].queryset = ResourceGroup.objects.for_user(self.user, "manage_access")
        self.fields["vault"].queryset = Vault.objects.for_user(self.user, "manage_access")

    def clean(self):
        data = super().clean()
        level = data.get("scope_level")
        if level and not data.get(level):
            self.add_error(level, f"Choose the {ScopeLevel(level).label.lower()} for this assignment.")
        return data

    def service_data(self) -> dict:
        d = self.cleaned_data
        return {"user": d["user"], "group": d["group"], "role": d["role"], "scope": d[d["scope_level"]]}


__all__ = ["Datasource", "Connector"]
