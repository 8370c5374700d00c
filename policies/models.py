"""Models of this app arrive with its work item."""
