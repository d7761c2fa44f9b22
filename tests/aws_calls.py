"""Count the AWS API calls a piece of code makes, per service and operation.

Every botocore client built while counting gets a ``before-call`` hook: boto3's clients and
pynamodb's (which builds its own botocore client) alike. Build the clients inside ``counting()``:
call ``services.reset()`` and ``bind_tables`` (which drops pynamodb's connection) after entering.
End User Messaging has no moto backend; the handler tests' fake sender is counted with ``count()``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import botocore.session


@dataclass
class CallCounter:
    calls: Counter[str] = field(default_factory=Counter)
    # CPU seconds spent inside the HTTP round trip (moto's side, in process): subtracted for "our" CPU.
    inside_calls: float = 0.0

    def count(self, operation: str) -> None:
        self.calls[operation] += 1

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.inside_calls = 0.0

    def _before_call(self, model: Any, **_: Any) -> None:
        self.count(f"{model.service_model.service_name}.{model.name}")


@contextmanager
def counting() -> Iterator[CallCounter]:
    counter = CallCounter()
    create_client = botocore.session.Session.create_client
    respond = botocore.endpoint.Endpoint._do_get_response

    def hooked_create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-call", counter._before_call)
        return client

    def timed_respond(self: botocore.endpoint.Endpoint, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return respond(self, *args, **kwargs)
        finally:
            counter.inside_calls += time.process_time() - started

    botocore.session.Session.create_client = hooked_create_client  # type: ignore[method-assign]
    botocore.endpoint.Endpoint._do_get_response = timed_respond  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        botocore.endpoint.Endpoint._do_get_response = respond  # type: ignore[method-assign]
