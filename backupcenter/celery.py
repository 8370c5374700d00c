"""The Celery application: configuration comes from Django settings with the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backupcenter.settings")

app = Celery("backupcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
