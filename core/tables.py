"""Shared table pieces: a base table with the project's look and a badge column for status enums."""

import django_tables2 as tables
from django.utils.html import format_html


class BaseTable(tables.Table):
    class Meta:
        # The table container boosts its sort and page links (HTMX swaps the table); links in rows open whole
        # pages, so the body opts out of the boost.
        attrs = {"class": "table table-sm table-hover align-middle mb-0", "tbody": {"hx-boost": "false"}}
        empty_text = "Nothing matches these filters."


class BadgeColumn(tables.Column):
    """Renders a TextChoices value as a coloured badge; the enum says the colour via `colour`."""

    def __init__(self, choices, *args, **kwargs):
        self.choices = choices
        super().__init__(*args, **kwargs)

    def render(self, value, record, bound_column):
        # django-tables2 passes the display label for choice fields; the badge needs the stored value.
        raw = bound_column.accessor.resolve(record)
        try:
            member = self.choices(raw)
            colour, label = getattr(member, "colour", "secondary"), member.label
        except ValueError:
            colour, label = "secondary", value
        return format_html('<span class="badge text-bg-{}">{}</span>', colour, label)


class BoolBadgeColumn(tables.Column):
    def __init__(self, yes: str = "Yes", no: str = "No", *args, **kwargs):
        self.yes, self.no = yes, no
        super().__init__(*args, **kwargs)

    def render(self, value):
        if value:
            return format_html('<span class="badge text-bg-success">{}</span>', self.yes)
        return format_html('<span class="badge text-bg-warning">{}</span>', self.no)
