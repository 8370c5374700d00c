"""Every write to the inventory: tenants, subscriptions, resource groups, locations, connectors,
datasources and role assignments. Each function checks permission, validates, writes the change log."""

import json
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError
from core.permissions import clear_grant_cache, ensure_permission, ensure_superuser
from core.roles import Action, Role, ScopeLevel
from core.secrets import seal, unseal
from core.services import change_record_write, snapshot
from inventory.choices import SUPPORTED_KINDS, ConnectorKind, DatasourceKind, DiscoveryStatus
from inventory.models import (
    Connector,
    Datasource,
    Location,
    ResourceGroup,
    RoleAssignment,
    Subscription,
    Tenant,
)


def _save(obj, *, actor, action: str, before: dict | None = None, exclude: list[str] | None = None) -> None:
    obj.full_clean(exclude=exclude)
    obj.save()
    change_record_write(actor=actor, action=action, obj=obj, before=before, after=snapshot(obj))


def _delete(obj, *, actor) -> None:
    before = snapshot(obj)
    change_record_write(actor=actor, action="delete", obj=obj, before=before)
    obj.delete()


# Tenants, subscriptions, resource groups -------------------------------------------------------


@transaction.atomic
def tenant_create(*, actor, name: str, description: str = "") -> Tenant:
    """Create a tenant (administrators only)."""
    ensure_superuser(actor)
    tenant = Tenant(name=name, description=description)
    _save(tenant, actor=actor, action="create")
    return tenant


@transaction.atomic
def tenant_update(*, actor, tenant: Tenant, **fields: Any) -> Tenant:
    """Rename or describe a tenant (administrators only)."""
    ensure_superuser(actor)
    before = snapshot(tenant)
    for key, value in fields.items():
        setattr(tenant, key, value)
    _save(tenant, actor=actor, action="update", before=before)
    return tenant


@transaction.atomic
def tenant_delete(*, actor, tenant: Tenant) -> None:
    """Delete an empty tenant (administrators only)."""
    ensure_superuser(actor)
    if tenant.subscriptions.exists():
        raise DomainError("Delete the tenant's subscriptions first.", code="not_empty")
    RoleAssignment.objects.filter(tenant=tenant).delete()
    _delete(tenant, actor=actor)


@transaction.atomic
def subscription_create(*, actor, tenant: Tenant, name: str) -> Subscription:
    """Create a subscription in a tenant; needs change rights on the tenant."""
    ensure_permission(actor, Action.CHANGE, scope=tenant)
    subscription = Subscription(tenant=tenant, name=name)
    _save(subscription, actor=actor, action="create")
    return subscription


@transaction.atomic
def subscription_update(*, actor, subscription: Subscription, name: str) -> Subscription:
    ensure_permission(actor, Action.CHANGE, scope=subscription)
    before = snapshot(subscription)
    subscription.name = name
    _save(subscription, actor=actor, action="update", before=before)
    return subscription


@transaction.atomic
def subscription_delete(*, actor, subscription: Subscription) -> None:
    ensure_permission(actor, Action.DELETE, scope=subscription)
    if subscription.resource_groups.exists():
        raise DomainError("Delete the subscription's resource groups first.", code="not_empty")
    _delete(subscription, actor=actor)


@transaction.atomic
def resource_group_create(*, actor, subscription: Subscription, name: str) -> ResourceGroup:
    """Create a resource group; needs change rights on the subscription."""
    ensure_permission(actor, Action.CHANGE, scope=subscription)
    group = ResourceGroup(subscription=subscription, tenant_id=subscription.tenant_id, name=name)
    _save(group, actor=actor, action="create", exclude=["tenant"])
    return group


@transaction.atomic
def resource_group_update(*, actor, resource_group: ResourceGroup, name: str) -> ResourceGroup:
    ensure_permission(actor, Action.CHANGE, scope=resource_group)
    before = snapshot(resource_group)
    resource_group.name = name
    _save(resource_group, actor=actor, action="update", before=before, exclude=["tenant"])
    return resource_group


@transaction.atomic
def resource_group_delete(*, actor, resource_group: ResourceGroup) -> None:
    ensure_permission(actor, Action.DELETE, scope=resource_group)
    if resource_group.datasources.exists() or resource_group.connectors.exists() or resource_group.vaults.exists():
        raise DomainError(
            "Delete the datasources, connectors and vaults in this resource group first.", code="not_empty"
        )
    _delete(resource_group, actor=actor)


# Locations ---------------------------------------------------------------------------------------


@transaction.atomic
def location_create(
    *, actor, name: str, display_name: str = "", paired_region: Location | None = None, zones: list | None = None
) -> Location:
    """Add a region (administrators only). Pairing is made symmetric."""
    ensure_superuser(actor)
    location = Location(name=name, display_name=display_name, paired_region=paired_region, zones=zones or [])
    _save(location, actor=actor, action="create")
    if paired_region is not None and paired_region.paired_region_id is None:
        paired_region.paired_region = location
        paired_region.save(update_fields=["paired_region"])
    return location


@transaction.atomic
def location_update(*, actor, location: Location, **fields: Any) -> Location:
    ensure_superuser(actor)
    before = snapshot(location)
    for key, value in fields.items():
        setattr(location, key, value)
    if location.paired_region_id == location.pk:
        raise ValidationError({"paired_region": ["A region cannot be paired with itself."]})
    _save(location, actor=actor, action="update", before=before)
    return location


@transaction.atomic
def location_delete(*, actor, location: Location) -> None:
    ensure_superuser(actor)
    if location.datasources.exists() or location.vaults.exists() or location.connectors.exists():
        raise DomainError("This location is in use by datasources, connectors or vaults.", code="in_use")
    _delete(location, actor=actor)


# Connections and secrets -------------------------------------------------------------------------


def _module(kind: str):
    from vaults.datasources.base import get_module

    return get_module(kind)


def split_connection(kind: str, connection: dict) -> tuple[dict, str]:
    """Validate a connection for `kind` and split it into its plain part and its sealed secret part."""
    if kind not in DatasourceKind.values:
        raise ValidationError({"kind": [f"Unknown datasource kind {kind!r}."]})
    if kind not in SUPPORTED_KINDS:
        raise ValidationError({"kind": [f"{DatasourceKind(kind).label} datasources are not supported yet."]})
    if not isinstance(connection, dict):
        raise ValidationError({"connection": ["Connection settings must be an object."]})
    module = _module(kind)
    cleaned = module.validate_connection(connection)
    secret_names = set(module.secret_fields)
    plain = {k: v for k, v in cleaned.items() if k not in secret_names}
    secret = {k: v for k, v in cleaned.items() if k in secret_names and v not in (None, "")}
    return plain, seal(json.dumps(secret)) if secret else ""


def datasource_connection(datasource: Datasource) -> dict:
    """The full connection, secrets included: for workers that run backups, never for pages or the API."""
    secret = json.loads(unseal(datasource.secret)) if datasource.secret else {}
    return {**datasource.connection, **secret}


def connector_settings(connector: Connector) -> dict:
    secret = json.loads(unseal(connector.secret)) if connector.secret else {}
    return {**connector.settings, **secret}


def _validate_tags(tags: Any) -> dict:
    if tags in (None, ""):
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValidationError({"tags": ["Tags must be an object of text names to text values."]})
    return tags


# Datasources -------------------------------------------------------------------------------------


@transaction.atomic
def datasource_create(
    *,
    actor,
    resource_group: ResourceGroup,
    location: Location,
    kind: str,
    name: str,
    connection: dict,
    tags: dict | None = None,
    host: str = "local",
    parent: Datasource | None = None,
    connector: Connector | None = None,
) -> Datasource:
    """Register a datasource; the connection is validated for its kind and its secrets are sealed."""
    ensure_permission(actor, Action.CHANGE, scope=resource_group)
    plain, secret = split_connection(kind, connection)
    datasource = Datasource(
        resource_group=resource_group,
        subscription_id=resource_group.subscription_id,
        tenant_id=resource_group.tenant_id,
        location=location,
        kind=kind,
        name=name,
        host=host,
        connection=plain,
        secret=secret,
        tags=_validate_tags(tags),
        parent=parent,
        connector=connector,
        last_seen=timezone.now(),
    )
    _save(datasource, actor=actor, action="create", exclude=["tenant", "subscription"])
    return datasource


@transaction.atomic
def datasource_update(*, actor, datasource: Datasource, connection: dict | None = None, **fields: Any) -> Datasource:
    """Change a datasource. A connection given without its secret fields keeps the stored secrets."""
    ensure_permission(actor, Action.CHANGE, scope=datasource)
    before = snapshot(datasource)
    if "tags" in fields:
        fields["tags"] = _validate_tags(fields["tags"])
    for key, value in fields.items():
        setattr(datasource, key, value)
    if connection is not None:
        merged = {**datasource_connection(datasource), **{k: v for k, v in connection.items() if v not in (None, "")}}
        datasource.connection, datasource.secret = split_connection(datasource.kind, merged)
    _save(datasource, actor=actor, action="update", before=before, exclude=["tenant", "subscription"])
    return datasource


@transaction.atomic
def datasource_delete(*, actor, datasource: Datasource) -> None:
    """Remove a datasource from the inventory; refused while a backup instance protects it."""
    ensure_permission(actor, Action.DELETE, scope=datasource)
    if hasattr(datasource, "backup_instances") and datasource.backup_instances.exists():
        raise DomainError("Stop protection of this datasource before removing it.", code="protected")
    _delete(datasource, actor=actor)


# Connectors and discovery ------------------------------------------------------------------------


def _split_connector_settings(kind: str, values: dict) -> tuple[dict, str]:
    from vaults.datasources import base as discovery

    if kind == ConnectorKind.HOST:
        roots = values.get("root_paths")
        if isinstance(roots, str):
            roots = [line.strip() for line in roots.splitlines() if line.strip()]
        if not roots or not isinstance(roots, list):
            raise ValidationError({"root_paths": ["Give at least one absolute folder path."]})
        discovery.discover_host_paths(roots)  # raises a field error for a root that does not exist
        kinds = values.get("kinds") or [DatasourceKind.FILES]
        return {"root_paths": roots, "kinds": kinds}, ""
    if kind == ConnectorKind.POSTGRESQL_SERVER:
        errors = {}
        if not values.get("host"):
            errors["host"] = ["Enter the server's host name or address."]
        try:
            port = int(values.get("port") or 5432)
            if not 0 < port < 65536:
                raise ValueError
        except (TypeError, ValueError):
            errors["port"] = ["Enter a port between 1 and 65535."]
            port = 5432
        if not values.get("user"):
            errors["user"] = ["Enter the user name discovery connects as."]
        if errors:
            raise ValidationError(errors)
        plain = {
            "host": values["host"],
            "port": port,
            "user": values["user"],
            "sslmode": values.get("sslmode") or "prefer",
        }
        discovery.discover_postgresql_databases({**plain, "password": values.get("password")})  # must connect
        plain["exclude"] = [d for d in values.get("exclude") or [] if d]
        secret = {"password": values["password"]} if values.get("password") else {}
        return plain, seal(json.dumps(secret)) if secret else ""
    raise ValidationError({"kind": [f"Unknown connector kind {kind!r}."]})


@transaction.atomic
def connector_create(
    *,
    actor,
    resource_group: ResourceGroup,
    location: Location,
    name: str,
    kind: str,
    host: str = "local",
    settings: dict,
) -> Connector:
    """Register a discovery source after checking that it can be reached."""
    ensure_permission(actor, Action.CHANGE, scope=resource_group)
    plain, secret = _split_connector_settings(kind, settings)
    connector = Connector(
        resource_group=resource_group,
        subscription_id=resource_group.subscription_id,
        tenant_id=resource_group.tenant_id,
        location=location,
        name=name,
        kind=kind,
        host=host,
        settings=plain,
        secret=secret,
    )
    _save(connector, actor=actor, action="create", exclude=["tenant", "subscription"])
    return connector


@transaction.atomic
def connector_update(*, actor, connector: Connector, settings: dict | None = None, **fields: Any) -> Connector:
    ensure_permission(actor, Action.CHANGE, scope=connector)
    before = snapshot(connector)
    for key, value in fields.items():
        setattr(connector, key, value)
    if settings is not None:
        merged = {**connector_settings(connector), **{k: v for k, v in settings.items() if v not in (None, "")}}
        connector.settings, connector.secret = _split_connector_settings(connector.kind, merged)
    _save(connector, actor=actor, action="update", before=before, exclude=["tenant", "subscription"])
    return connector


@transaction.atomic
def connector_delete(*, actor, connector: Connector) -> None:
    ensure_permission(actor, Action.DELETE, scope=connector)
    _delete(connector, actor=actor)


def connector_discover(*, actor, connector: Connector) -> dict[str, int]:
    """Run discovery now: create datasources for what the connector finds, mark vanished ones not found.

    Returns counts {"found", "created", "vanished"}. A connector that cannot be reached is marked failed
    with the reason; its datasources are left as they are.
    """
    from vaults.datasources import base as discovery

    ensure_permission(actor, Action.OPERATE, scope=connector)
    now = timezone.now()
    try:
        if connector.kind == ConnectorKind.HOST:
            found = [
                (DatasourceKind.FILES, item["name"], {"paths": [item["path"]]})
                for item in discovery.discover_host_paths(connector.settings["root_paths"])
            ]
        else:
            values = connector_settings(connector)
            excluded = set(connector.settings.get("exclude") or [])
            server = {k: values.get(k) for k in ("host", "port", "user", "password", "sslmode")}
            found = [
                (DatasourceKind.POSTGRESQL, name, {**server, "dbname": name})
                for name in discovery.discover_postgresql_databases(values)
                if name not in excluded
            ]
    except ValidationError as error:
        message = "; ".join(error.messages)
        Connector.objects.filter(pk=connector.pk).update(
            discovery_status=DiscoveryStatus.FAILED, discovery_message=message, last_discovery=now
        )
        change_record_write(actor=actor, action="discover_failed", obj=connector, message=message)
        return {"found": 0, "created": 0, "vanished": 0}

    created = 0
    with transaction.atomic():
        existing = {(d.kind, d.name): d for d in connector.datasources.all()}
        for kind, name, connection in found:
            datasource = existing.pop((kind, name), None)
            if datasource is None:
                clash = Datasource.objects.filter(resource_group=connector.resource_group, kind=kind, name=name).first()
                if clash is not None:
                    continue
                plain, secret = split_connection(kind, connection)
                datasource = Datasource(
                    resource_group=connector.resource_group,
                    location=connector.location,
                    kind=kind,
                    name=name,
                    host=connector.host,
                    connection=plain,
                    secret=secret,
                    connector=connector,
                    last_seen=now,
                )
                datasource.save()
                change_record_write(actor=actor, action="discovered", obj=datasource, after=snapshot(datasource))
                created += 1
            else:
                Datasource.objects.filter(pk=datasource.pk).update(exists=True, last_seen=now)
        vanished = [d.pk for d in existing.values() if d.exists]
        Datasource.objects.filter(pk__in=vanished).update(exists=False)
        for pk in vanished:
            change_record_write(actor=actor, action="not_found", obj=Datasource.objects.get(pk=pk))
        Connector.objects.filter(pk=connector.pk).update(
            discovery_status=DiscoveryStatus.OK,
            discovery_message=f"Found {len(found)}, added {created}, not found {len(vanished)}.",
            last_discovery=now,
        )
    if connector.kind == ConnectorKind.POSTGRESQL_SERVER:
        from policies.services import auto_protection_apply

        auto_protection_apply(connector=connector)  # "protect every database": new ones are protected now
    return {"found": len(found), "created": created, "vanished": len(vanished)}


# Role assignments --------------------------------------------------------------------------------


def _scope_keys(scope) -> dict[str, Any]:
    from vaults.models import Vault

    if isinstance(scope, Tenant):
        return {"scope_level": ScopeLevel.TENANT, "tenant": scope}
    if isinstance(scope, Subscription):
        return {"scope_level": ScopeLevel.SUBSCRIPTION, "tenant_id": scope.tenant_id, "subscription": scope}
    if isinstance(scope, ResourceGroup):
        return {
            "scope_level": ScopeLevel.RESOURCE_GROUP,
            "tenant_id": scope.tenant_id,
            "subscription_id": scope.subscription_id,
            "resource_group": scope,
        }
    if isinstance(scope, Vault):
        return {
            "scope_level": ScopeLevel.VAULT,
            "tenant_id": scope.tenant_id,
            "subscription_id": scope.subscription_id,
            "resource_group_id": scope.resource_group_id,
            "vault": scope,
        }
    raise ValidationError({"scope": ["Choose a tenant, subscription, resource group or vault."]})


@transaction.atomic
def role_assignment_create(*, actor, role: str, scope, user=None, group: Group | None = None) -> RoleAssignment:
    """Give a user or group a role at a scope; the actor must be allowed to assign roles there."""
    if (user is None) == (group is None):
        raise ValidationError({"user": ["Choose either a user or a group."]})
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role {role!r}."]})
    ensure_permission(actor, Action.MANAGE_ACCESS, scope=scope)
    keys = _scope_keys(scope)
    duplicate = RoleAssignment.objects.filter(
        user=user, group=group, role=role, **{k: v for k, v in keys.items() if k != "scope_level"}
    )
    if duplicate.filter(scope_level=keys["scope_level"]).exists():
        raise ValidationError({"role": ["This principal already holds this role at this scope."]})
    assignment = RoleAssignment(user=user, group=group, role=role, **keys)
    _save(assignment, actor=actor, action="create", exclude=["scope_level"])
    if user is not None:
        clear_grant_cache(user)
    return assignment


@transaction.atomic
def role_assignment_delete(*, actor, assignment: RoleAssignment) -> None:
    ensure_permission(actor, Action.MANAGE_ACCESS, scope=assignment.scope_object)
    _delete(assignment, actor=actor)
