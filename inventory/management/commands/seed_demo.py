"""Create the demo estate (idempotent)."""

from django.core.management.base import BaseCommand

from inventory.demo import seed


class Command(BaseCommand):
    help = "Create or complete the demo estate: tenants, subscriptions, regions, real data and datasources."

    def handle(self, *args, **options):
        seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo estate ready."))
