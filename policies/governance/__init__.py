"""Governance: code-defined backup policy definitions, assignments at a scope, compliance evaluation, Deny
enforcement and DeployIfNotExists remediation (Azure Policy's model, category "Backup")."""
