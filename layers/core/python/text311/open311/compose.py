"""The Open311 API as the Lambda and the local run build it, once per container."""

from __future__ import annotations

from functools import cache

from text311.open311.api import Open311Api


@cache
def open311_api() -> Open311Api:
    from text311 import services
    from text311.open311.keys import Open311SettingsStore
    from text311.service_requests import reference_prefix

    # Cities (their services) from the shared short-lived cache; the key and the publish flag are read
    # fresh on each call, so a rotated key or a withdrawn consent takes effect at once.
    return Open311Api(
        subscribers=services.subscribers().get,
        settings=Open311SettingsStore(),
        requests=services.service_requests(),
        reference_prefix=reference_prefix,
    )
