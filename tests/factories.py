"""factory_boy factories for the inventory. Rows are built through the models directly (fast); tests that are
about the services call the services instead."""

import itertools
import tempfile
from pathlib import Path

import factory
from django.contrib.auth import get_user_model

from core.roles import Role, ScopeLevel
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant

PASSWORD = "correct-horse-battery"
_folders = itertools.count()


def real_folder() -> str:
    """A new, real folder holding one file, under the test session's var dir."""
    from django.conf import settings

    root = Path(settings.VAR_DIR) / "data"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"ds-{next(_folders)}-", dir=root))
    (folder / "hello.txt").write_text("hello\n")
    return str(folder)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy hook
        if create:
            obj.save()


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"tenant-{n}")


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"sub-{n}")


class ResourceGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResourceGroup

    subscription = factory.SubFactory(SubscriptionFactory)
    name = factory.Sequence(lambda n: f"rg-{n}")


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"region-{n}")
    zones = factory.LazyFunction(lambda: ["1", "2", "3"])


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    resource_group = factory.SubFactory(ResourceGroupFactory)
    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"connector-{n}")
    kind = "host"
    settings = factory.LazyFunction(lambda: {"root_paths": [real_folder()], "kinds": ["files"]})


class DatasourceFactory(factory.django.DjangoModelFactory):
    """A files datasource over a real folder."""

    class Meta:
        model = Datasource

    resource_group = factory.SubFactory(ResourceGroupFactory)
    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"datasource-{n:03d}")
    kind = "files"
    connection = factory.LazyFunction(lambda: {"paths": [real_folder()], "excludes": []})


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    """A role for a user at a subscription (pass tenant=/resource_group= with scope_level for other levels)."""

    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    role = Role.READER
    subscription = factory.SubFactory(SubscriptionFactory)
    tenant = factory.LazyAttribute(lambda a: a.subscription.tenant if a.subscription else None)
    scope_level = ScopeLevel.SUBSCRIPTION
