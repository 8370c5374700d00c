"""The permission matrix helper: expected outcomes, a runner that checks one (persona, URL, method) cell, and a
walk of the URLconf that lists every named route of the apps the matrix covers.

Personas: anon (not signed in), charlie (no role), bob (reader on prod), alice (contributor on prod), alice_out
(alice acting on the fabrikam object of the same kind), admin (superuser).
"""

from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

PERSONAS = ("anon", "charlie", "bob", "alice", "alice_out", "admin")

LOGIN = "login"  # a page redirects to the sign-in page
DONE = "done"  # the gate let the request through: a redirect (page) or the given 2xx/409 (API)
REFUSED = "refused"  # a write that changed nothing: form re-shown with errors (200), 400, 403 or 404
BOUNCED = "bounced"  # a page write refused with a message: a redirect (not to sign-in) that changed nothing


@dataclass
class Row:
    """One route: how to build its URL and what each persona gets for each method.

    `target` names the object kind for routes with <pk> (estate.inside[target], or estate.outside[target] for
    alice_out). `expect` maps method → persona → outcome (an HTTP status or one of LOGIN/DONE/REFUSED).
    `payload(estate, where)` returns the body of writes; `marker(estate, where)` a string a list must show to
    personas who can see the inside object and hide from others.
    """

    target: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, dict[str, Any]] = field(default_factory=dict)
    payload: Any = None
    marker: Any = None


def named_routes(namespaces: set[str], root_names: bool = True) -> set[str]:
    """Every route name under `namespaces` (e.g. {"inventory", "api:inventory"}), plus un-namespaced root names."""
    names: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
                walk(pattern.url_patterns, ns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                if prefix == "" and root_names:
                    names.add(pattern.name)
                elif prefix.rstrip(":") in namespaces:
                    names.add(prefix + pattern.name)

    walk(get_resolver().url_patterns, "")
    return names


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/login/")


def check_page(response, expected, changes_before: int, changes_after: int) -> None:
    status = response.status_code
    where = f"got {status} {response.get('Location', '')}"
    if expected == LOGIN:
        assert is_login_redirect(response), where
    elif expected == DONE:
        assert status == 302 and not is_login_redirect(response), where
    elif expected == REFUSED:
        assert status in (200, 403, 404), where
        assert changes_after == changes_before, "a refused write must not write to the change log"
    elif expected == BOUNCED:
        assert status == 302 and not is_login_redirect(response), where
        assert changes_after == changes_before, "a refused write must not write to the change log"
    else:
        assert status == expected, where
        if status in (403, 404):
            assert changes_after == changes_before, "a refused request must not write to the change log"


def check_api(response, expected, changes_before: int, changes_after: int) -> None:
    status = response.status_code
    where = f"got {status}: {getattr(response, 'content', b'')[:300]!r}"
    if expected == REFUSED:
        assert status in (400, 403, 404), where
    else:
        assert status == expected, where
    if status >= 400:
        assert changes_after == changes_before, "a refused request must not write to the change log"
