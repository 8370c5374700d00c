"""Datasource kinds: one module per kind, one interface (:class:`vaults.datasources.base.Datasource`)."""

from vaults.datasources.base import (
    BackupResult,
    Datasource,
    DatasourceError,
    RestoreResult,
    VerifyResult,
    discover_host_paths,
    discover_postgresql_databases,
    get_module,
)

__all__ = [
    "BackupResult",
    "Datasource",
    "DatasourceError",
    "RestoreResult",
    "VerifyResult",
    "discover_host_paths",
    "discover_postgresql_databases",
    "get_module",
]
