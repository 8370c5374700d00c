"""The demo estate: two tenants, three subscriptions, paired regions, and datasources over real data.

Idempotent: running it again finds what exists and adds only what is missing. The data it points at
is created under settings.BACKUPCENTER_DEMO_DATA (a file tree of a few thousand files, an SQLite
database with rows) and, when a PostgreSQL server answers, a demo database found through a connector.
"""

import os
import random
import secrets
import sqlite3
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from core.permissions import SystemActor
from core.roles import Role
from inventory import services
from inventory.models import Connector, Datasource, Location, ResourceGroup, RoleAssignment, Subscription, Tenant

ACTOR = SystemActor("demo-seed")

ESTATE = {
    "contoso": {
        "prod": [("rg-files", "west-europe"), ("rg-databases", "west-europe")],
        "dev": [("rg-dev", "north-europe")],
    },
    "fabrikam": {"main": [("rg-apps", "east-us"), ("rg-archive", "west-us")]},
}
PAIRS = [("west-europe", "North/West Europe", "north-europe"), ("east-us", "East/West US", "west-us")]


def _location(name: str, pair: str | None = None) -> Location:
    existing = Location.objects.filter(name=name).first()
    if existing:
        return existing
    partner = Location.objects.filter(name=pair).first() if pair else None
    return services.location_create(
        actor=ACTOR,
        name=name,
        display_name=name.replace("-", " ").title(),
        paired_region=partner,
        zones=["1", "2", "3"],
    )


def make_file_tree(root: Path, files: int = 3000) -> int:
    """A deterministic tree of mixed file sizes; returns how many files it wrote (0 when present)."""
    marker = root / ".complete"
    if marker.exists():
        return 0
    rng = random.Random(20261126)
    sections = ["projects", "documents", "photos"]
    written = 0
    for index in range(files):
        section = sections[index % 3]
        folder = root / section / f"folder-{index % 40:02d}" / f"sub-{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        roll = rng.random()
        size = (
            rng.randint(0, 2048)
            if roll < 0.7
            else rng.randint(2048, 65536)
            if roll < 0.97
            else rng.randint(500_000, 3_000_000)
        )
        (folder / f"file-{index:05d}.{'txt' if section == 'documents' else 'dat'}").write_bytes(rng.randbytes(size))
        written += 1
    (root / "documents" / "README.txt").write_text("Demo documents of the Contoso file share.\n")
    marker.write_text("ok\n")
    return written


def make_sqlite(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT, amount REAL)")
        if db.execute("SELECT count(*) FROM orders").fetchone()[0] == 0:
            rng = random.Random(7)
            db.executemany(
                "INSERT INTO orders (customer, amount) VALUES (?, ?)",
                [(f"customer-{rng.randint(1, 500)}", round(rng.uniform(5, 900), 2)) for _ in range(5000)],
            )


def _demo_postgres() -> dict | None:
    """Create the demo database on a local PostgreSQL server when one answers; None otherwise."""
    import psycopg

    server = {
        "host": os.environ.get("DEMO_PGHOST", "127.0.0.1"),
        "port": int(os.environ.get("DEMO_PGPORT", "5432")),
        "user": os.environ.get("DEMO_PGUSER", "postgres"),
        "password": os.environ.get("DEMO_PGPASSWORD", ""),
    }
    try:
        with psycopg.connect(
            dbname="postgres", connect_timeout=3, autocommit=True, **{k: v or None for k, v in server.items()}
        ) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'demo_shop'").fetchone():
                conn.execute("CREATE DATABASE demo_shop")
        with psycopg.connect(dbname="demo_shop", connect_timeout=3, **{k: v or None for k, v in server.items()}) as c:
            c.execute("CREATE TABLE IF NOT EXISTS products (id serial PRIMARY KEY, name text, price numeric)")
            if c.execute("SELECT count(*) FROM products").fetchone()[0] == 0:
                c.execute(
                    "INSERT INTO products (name, price) SELECT 'product ' || g, g * 1.5 FROM generate_series(1, 2000) g"
                )
    except psycopg.Error:
        return None
    return server


def _persona(username: str, password: str):
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    if user is None:
        user = users.objects.create_user(username=username, password=password, email=f"{username}@example.com")
    return user


def seed(stdout=None) -> dict:
    """Create or complete the demo estate; returns what it created."""
    say = stdout.write if stdout else (lambda *_: None)
    root = Path(settings.BACKUPCENTER_DEMO_DATA)
    written = make_file_tree(root / "files")
    make_sqlite(root / "sqlite" / "orders.sqlite3")
    if written:
        say(f"Wrote {written} demo files under {root / 'files'}")

    for name, _label, pair in PAIRS:
        _location(pair)
        _location(name, pair)

    groups: dict[str, ResourceGroup] = {}
    for tenant_name, subscriptions in ESTATE.items():
        tenant = Tenant.objects.filter(name=tenant_name).first() or services.tenant_create(
            actor=ACTOR, name=tenant_name, description=f"Demo tenant {tenant_name.title()}"
        )
        for sub_name, rgs in subscriptions.items():
            sub = Subscription.objects.filter(tenant=tenant, name=sub_name).first() or services.subscription_create(
                actor=ACTOR, tenant=tenant, name=sub_name
            )
            for rg_name, location in rgs:
                groups[rg_name] = ResourceGroup.objects.filter(subscription=sub, name=rg_name).first() or (
                    services.resource_group_create(actor=ACTOR, subscription=sub, name=rg_name)
                )
                groups[rg_name].demo_location = Location.objects.get(name=location)

    files_rg = groups["rg-files"]
    if not Connector.objects.filter(resource_group=files_rg, name="fileserver-01").exists():
        connector = services.connector_create(
            actor=ACTOR,
            resource_group=files_rg,
            location=files_rg.demo_location,
            name="fileserver-01",
            kind="host",
            host="local",
            settings={"root_paths": [str(root / "files")]},
        )
        services.connector_discover(actor=ACTOR, connector=connector)

    apps_rg = groups["rg-apps"]
    if not Datasource.objects.filter(resource_group=apps_rg, name="orders-sqlite").exists():
        services.datasource_create(
            actor=ACTOR,
            resource_group=apps_rg,
            location=apps_rg.demo_location,
            kind="sqlite",
            name="orders-sqlite",
            connection={"path": str(root / "sqlite" / "orders.sqlite3")},
            tags={"app": "orders"},
        )

    db_rg = groups["rg-databases"]
    server = _demo_postgres()
    if server and not Connector.objects.filter(resource_group=db_rg, name="pg-local").exists():
        try:
            connector = services.connector_create(
                actor=ACTOR,
                resource_group=db_rg,
                location=db_rg.demo_location,
                name="pg-local",
                kind="postgresql_server",
                host="local",
                settings={**server, "exclude": ["postgres"]},
            )
            services.connector_discover(actor=ACTOR, connector=connector)
        except ValidationError as error:
            say(f"PostgreSQL connector skipped: {'; '.join(error.messages)}")
    elif not server:
        say("No PostgreSQL server answered on 127.0.0.1:5432; the demo has no database connector.")

    password_file = Path(settings.VAR_DIR) / "demo-password"
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(10))
    password = password_file.read_text().strip()
    contoso = Tenant.objects.get(name="contoso")
    prod = Subscription.objects.get(tenant=contoso, name="prod")
    fabrikam = Tenant.objects.get(name="fabrikam")
    for username, role, scope in [
        ("alice", Role.CONTRIBUTOR, prod),
        ("bob", Role.READER, prod),
        ("charlie", None, None),
        ("sam", Role.SECURITY_ADMIN, contoso),
        ("mallory-msp", Role.OPERATOR, fabrikam),
        ("mallory-msp", Role.READER, contoso),
    ]:
        user = _persona(username, password)
        if role and not RoleAssignment.objects.filter(user=user, role=role).exists():
            services.role_assignment_create(actor=ACTOR, role=role, scope=scope, user=user)
    say(f"Demo users alice, bob, charlie, sam and mallory-msp share the password in {password_file}.")
    return {"files_written": written, "postgres": bool(server)}
