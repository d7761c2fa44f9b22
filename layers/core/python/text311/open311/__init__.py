"""The Open311 GeoReport v2 API of each city (docs/service-requests.md, "Open311 GeoReport v2 API").

Plain Python, no Lambda: :mod:`text311.open311.api` answers one request (method, path, arguments) with
a status, a body and a content type; ``functions/open311_api`` and the local run's web server feed it.
"""
