"""Enumerations of reports."""

from django.db import models


class Tab(models.TextChoices):
    SUMMARY = "summary", "Summary"
    BACKUP_ITEMS = "backup_items", "Backup items"
    USAGE = "usage", "Usage"
    JOBS = "jobs", "Jobs"
    POLICIES = "policies", "Policies"
    OPTIMIZE = "optimize", "Optimize"
    ADHERENCE = "adherence", "Policy adherence"
    COMPLIANCE = "compliance", "Compliance"


class Format(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    PDF = "pdf", "PDF"


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
