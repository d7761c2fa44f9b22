"""Parse botocore's service models once per test process, not once per botocore session.

Every new botocore session loads and parses the JSON models again (dynamodb, endpoints, partitions…),
and the tests make many sessions: pynamodb opens one per table connection, and each test binds the
tables afresh. Measured on tests/unit/test_inbound_email_handler.py: 5,670 JSON parses, 29 s of its
69 s. A session already shares one parsed model among all its clients (botocore's ``instance_cache``),
so sharing it among the sessions of one process changes nothing they see.
"""

from __future__ import annotations

from typing import Any

from botocore import loaders

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
