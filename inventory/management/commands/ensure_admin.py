"""Create the administrator account once; print its password the one time it is generated."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the 'admin' superuser if missing (password from BACKUPCENTER_ADMIN_PASSWORD or generated)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            self.stdout.write(f"Administrator '{username}' exists.")
            return
        password = os.environ.get("BACKUPCENTER_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email="", password=password)
        if os.environ.get("BACKUPCENTER_ADMIN_PASSWORD"):
            self.stdout.write(self.style.SUCCESS(f"Created administrator '{username}' with the given password."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Created administrator '{username}' with password: {password}"))
            self.stdout.write("This password is shown only now; change it under /admin/ once signed in.")
