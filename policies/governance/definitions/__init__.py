"""The built-in policy definitions, category "Backup": code-defined and versioned, each with a parameter schema,
the effects an assignment may choose, how to evaluate it as a set (`applicable` + `state`) and, for Deny-capable
ones, how to judge one object a service is about to save (`violation`).

Sources: Azure Policy's built-ins for Backup (reference §6.1) and AWS Backup Audit Manager's controls.
A definition's `version` changes whenever its meaning changes; assignments record the version they were made with.
"""

from __future__ import annotations

from policies.governance.definitions.backup_policies import (
    POLICY_MINIMUMS,
    policy_interval_hours,
    policy_retention_days,
)
from policies.governance.definitions.base import Definition, Parameter, clean_parameters, parameter_choices
from policies.governance.definitions.datasources import (
    BACKUP_ENABLED,
    CONFIGURE_BACKUP,
    LAST_RECOVERY_POINT,
    RESTORE_DRILL,
    policy_of,
)
from policies.governance.definitions.vaults import CMK, IMMUTABILITY, MUA, REDUNDANCY, SOFT_DELETE

DEFINITIONS: dict[str, Definition] = {
    d.key: d
    for d in (
        BACKUP_ENABLED,
        CONFIGURE_BACKUP,
        SOFT_DELETE,
        IMMUTABILITY,
        MUA,
        CMK,
        REDUNDANCY,
        POLICY_MINIMUMS,
        LAST_RECOVERY_POINT,
        RESTORE_DRILL,
    )
}

# Definitions that say "this datasource should be protected": the Protectable datasources page shows their verdicts.
BACKUP_REQUIRED_KEYS = (BACKUP_ENABLED.key, CONFIGURE_BACKUP.key)


def get_definition(key: str) -> Definition | None:
    return DEFINITIONS.get(key)


__all__ = [
    "BACKUP_ENABLED",
    "BACKUP_REQUIRED_KEYS",
    "CMK",
    "CONFIGURE_BACKUP",
    "DEFINITIONS",
    "IMMUTABILITY",
    "LAST_RECOVERY_POINT",
    "MUA",
    "POLICY_MINIMUMS",
    "REDUNDANCY",
    "RESTORE_DRILL",
    "SOFT_DELETE",
    "Definition",
    "Parameter",
    "clean_parameters",
    "get_definition",
    "parameter_choices",
    "policy_interval_hours",
    "policy_of",
    "policy_retention_days",
]
