"""The errors the console's services raise, each of which the console API answers with an HTTP status.

They live here, apart from the services, so that the console API's handler can register its answers
at import without importing the services (their tables, pynamodb, the request and settings logic):
that import alone made the handler's cold start miss its target (bench/coldstart.py). Each service's
module re-exports its own, so ``from text311.agents import AgentError`` names the same class.
This module imports nothing. The errors of modules that are light already (text311.addresses,
text311.cursors, text311.departments) stay where they are.
"""

# -- text311.console --------------------------------------------------------------------------------


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


class Conflict(RuntimeError):
    pass


# -- text311.agents ---------------------------------------------------------------------------------


class AgentError(ValueError):
    """A change refused; the message says why, for the console."""


class AgentConflict(AgentError):
    """The roster changed meanwhile (another supervisor's edit): read it again and retry."""


# -- text311.city_settings --------------------------------------------------------------------------


class SettingsRefused(ValueError):
    """A setting that makes no sense; the message starts with the field it names (``mon: ...``)."""


# -- text311.service_requests and text311.console_requests -------------------------------------------


class UnknownRequest(LookupError):
    """No request of that city has that reference."""


class RequestRefused(ValueError):
    """A filing or change the console refuses; the message starts with the field it names."""
