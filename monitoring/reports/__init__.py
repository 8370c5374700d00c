"""Backup reports: the tabs of Azure's Backup Reports (Summary, Backup items, Usage, Jobs, Policies, Optimize,
Policy adherence) plus compliance, as queries + plotly figures + tables, exported to CSV, XLSX and PDF, and sent
by email on a schedule."""
