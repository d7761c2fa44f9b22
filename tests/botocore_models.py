"""Parse botocore's service models once per test process, not once per botocore session (and let
pynamodb's connections share a session: share_pynamodb_sessions, below).

Every new botocore session loads and parses the JSON models again (dynamodb, endpoints, partitions…),
and the tests make many sessions: pynamodb opens one per table connection, and each test binds the
tables afresh. Measured on tests/unit/test_inbound_email_handler.py: 5,670 JSON parses, 29 s of its
69 s. A session already shares one parsed model among all its clients (botocore's ``instance_cache``),
so sharing it among the sessions of one process changes nothing they see.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore import loaders
from pynamodb.connection import base as pynamodb_connection

_SHARED_METHODS = ("load_service_model", "load_data_with_path")


def share_parsed_models() -> None:
    """Make ``Loader.load_service_model`` and ``Loader.load_data_with_path`` process-wide caches."""
    if getattr(loaders.Loader, "_text311_shared", False):
        return
    parsed: dict[tuple, Any] = {}
    for name in _SHARED_METHODS:
        original = getattr(loaders.Loader, name)

        def shared(self: loaders.Loader, *args: Any, _original: Any = original, _name: str = name,
                   **kwargs: Any) -> Any:
            key = (_name, tuple(self.search_paths), args, tuple(sorted(kwargs.items())))
            if key not in parsed:  # a model that is not found raises, and is not cached
                parsed[key] = _original(self, *args, **kwargs)
            return parsed[key]

        setattr(loaders.Loader, name, shared)
    loaders.Loader._text311_shared = True  # type: ignore[attr-defined]


def share_pynamodb_sessions() -> None:
    """Give every pynamodb connection of a thread the same botocore session, instead of a new one each.

    ``services.tables_bound()`` drops every model's connection, and each new connection builds a
    session: registering botocore's built-in handlers is most of that cost, ~0.2 s of CPU a test
    (setup_region plus a user pool measured at 1.02 s of CPU before, 0.83 s after). A session only
    makes clients: each client copies the session's handlers, has its own retry quota and credentials
    read from the same fake environment, so what a test sees is unchanged. One session per thread, as
    pynamodb keeps one per thread (botocore builds clients unsafely across threads).
    """
    if getattr(pynamodb_connection, "_text311_shared", False):
        return
    per_thread = threading.local()

    def thread_session() -> botocore.session.Session:
        session = getattr(per_thread, "session", None)
        if session is None:
            session = per_thread.session = botocore.session.get_session()
        return session

    pynamodb_connection.get_session = thread_session  # the name pynamodb's Connection.session calls
    pynamodb_connection._text311_shared = True  # type: ignore[attr-defined]
