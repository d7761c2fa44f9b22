"""Cold start of the HTTP APIs (bench/coldstart.py): the console API's import registers its answers to
the services' errors without importing the services, and those errors are the classes the services raise;
the Open311 API's import leaves its stores to the first request."""

from __future__ import annotations

import pytest
from test_lazy_imports import ROOT, modules_after_import


@pytest.mark.parametrize(
    ("handler", "not_loaded"),
    [
        ("functions.console_api.handler", {"text311.agents", "text311.city_settings", "text311.console",
                                           "text311.console_requests", "text311.service_requests",
                                           "text311.subscribers", "pynamodb",
                                           "aws_lambda_powertools.utilities.idempotency"}),
        ("functions.open311_api.handler", {"text311.open311.api", "text311.service_requests",
                                           "text311.subscribers", "pynamodb"}),
    ],
)
def test_an_api_import_loads_none_of_the_services_it_calls(handler, not_loaded):
    loaded = modules_after_import(handler, LAMBDA_TASK_ROOT=str(ROOT), AWS_LAMBDA_FUNCTION_NAME="api")
    assert not_loaded & loaded == set()


def test_each_service_raises_the_error_class_the_console_api_answers():
    from text311 import agents, city_settings, console, console_errors, console_requests, service_requests

    assert (agents.AgentError, agents.AgentConflict) == (console_errors.AgentError, console_errors.AgentConflict)
    assert city_settings.SettingsRefused is console_errors.SettingsRefused
    assert (console.NotFound, console.Forbidden, console.Conflict) == (
        console_errors.NotFound, console_errors.Forbidden, console_errors.Conflict)
    assert console_requests.RequestRefused is console_errors.RequestRefused
    assert service_requests.UnknownRequest is console_errors.UnknownRequest
