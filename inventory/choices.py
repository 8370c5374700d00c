"""Enumerations of the inventory, each with a badge colour."""

from django.db import models


class DatasourceKind(models.TextChoices):
    FILES = "files", "Files"
    POSTGRESQL = "postgresql", "PostgreSQL database"
    SQLITE = "sqlite", "SQLite database"
    MYSQL = "mysql", "MariaDB / MySQL database"
    S3_BUCKET = "s3_bucket", "S3 bucket"
    DISK = "disk", "Disk image"
    VM = "vm", "Virtual machine"
    COMMAND = "command", "Command output"


# Kinds whose backup and restore modules exist; the others are listed so connectors can name them.
SUPPORTED_KINDS = {DatasourceKind.FILES, DatasourceKind.POSTGRESQL, DatasourceKind.SQLITE}


class ConnectorKind(models.TextChoices):
    HOST = "host", "Host (file trees and SQLite files)"
    POSTGRESQL_SERVER = "postgresql_server", "PostgreSQL server"


class DiscoveryStatus(models.TextChoices):
    NEVER = "never", "Never run"
    OK = "ok", "Succeeded"
    FAILED = "failed", "Failed"

    @property
    def colour(self) -> str:
        return {"never": "secondary", "ok": "success", "failed": "danger"}[self.value]
