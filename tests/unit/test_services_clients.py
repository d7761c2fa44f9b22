"""services.Clients: each AWS client built on its first use, once, even when threads ask at the same time."""

from __future__ import annotations

import threading
import time

import pytest

from text311 import services


def test_a_client_is_built_on_first_use_only_and_then_kept():
    built: list[str] = []
    clients = services.Clients(lambda name: built.append(name) or f"client:{name}")
    assert built == []
    assert clients.sesv2 == "client:sesv2" and clients.sesv2 == "client:sesv2"
    assert built == ["sesv2"]


def test_given_clients_are_used_and_an_unknown_name_is_an_attribute_error():
    clients = services.Clients(lambda name: f"built:{name}", dynamodb="given")
    assert clients.dynamodb == "given"
    with pytest.raises(AttributeError):
        _ = clients.sqs


def test_threads_asking_at_once_share_one_client():
    built: list[str] = []

    def slow_make(name: str) -> object:
        built.append(name)
        time.sleep(0.05)  # widen the window two unguarded threads would both build in
        return object()

    clients = services.Clients(slow_make)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(clients.kms)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert built == ["kms"] and len({id(client) for client in seen}) == 1


def test_the_deployed_clients_name_their_aws_services(aws_env, monkeypatch):
    for name, value in aws_env.items():
        monkeypatch.setenv(name, value)
    services.reset()
    try:
        clients = services.clients()
        assert {name: getattr(clients, name).meta.service_model.service_name for name in services.Clients.SERVICES} == {
            "dynamodb": "dynamodb", "kms": "kms", "secrets": "secretsmanager", "sesv2": "sesv2",
            "sms": "pinpoint-sms-voice-v2", "s3": "s3",
        }
        assert clients.sesv2.meta.config.retries["total_max_attempts"] == 1  # the mailer's own retries only
    finally:
        services.reset()
