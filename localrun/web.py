"""The web page and the simulation API (docs/local-run.md), on the standard library's HTTP server.

Paths and fields are a contract: the e2e tests and other tools drive the local run through them.
Every bad request gets a 400 with {"error": "...", "field": "<the field>"}.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import re
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from localrun.events import http_api_request
from localrun.mail import BadMail, validate_verdicts

if TYPE_CHECKING:
    from localrun.app import LocalRun

log = logging.getLogger("localrun.web")
# A console API call slower than this is logged (console.log), with its path: the local run serializes
# function invocations, so one stuck call holds up every other for as long.
SLOW_CONSOLE_CALL = 5.0

STATIC = Path(__file__).parent / "static"
CONSOLE = Path(__file__).resolve().parent.parent / "console"  # the same files CloudFront serves in AWS
# The console's policy in AWS, with the API on this origin.
CONSOLE_CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
E164 = re.compile(r"^\+[1-9]\d{7,14}$")  # what text311.phone.normalize_e164 accepts with a "+"
MAX_SMS_BODY = 1600  # End User Messaging's longest two-way message (concatenated parts)
MAX_MESSAGE_ID = 256  # TwoWaySmsPayload.inboundMessageId
OPEN311_FUNCTION_TIMEOUT = 15  # stacks/functions.py API_FUNCTION_TIMEOUT
MAX_REQUEST = 12_000_000  # a raw mail may be large; inbound_email refuses more than 1 MB itself


class BadRequest(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("body", f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("body", "expected a JSON object")
    return value


def _string(data: dict[str, Any], field: str, *, required: bool = True, limit: int | None = None,
            pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
    value = data.get(field)
    if value is None:
        if required:
            raise BadRequest(field, "required")
        return None
    if not isinstance(value, str):
        raise BadRequest(field, "must be a string")
    if limit is not None and len(value) > limit:
        raise BadRequest(field, f"at most {limit} characters")
    if pattern is not None and not pattern.match(value):
        raise BadRequest(field, f"not valid{': ' + hint if hint else ''}")
    return value


def parse_sms(data: dict[str, Any]) -> tuple[str, str, str, str | None]:
    number = _string(data, "from", pattern=E164, hint="an E.164 number like +18195550123")
    body = _string(data, "body", limit=MAX_SMS_BODY)
    message_id = _string(data, "id", required=False, limit=MAX_MESSAGE_ID)
    if message_id is not None and not message_id.strip():
        raise BadRequest("id", "must not be empty")
    to = _string(data, "to", required=False, pattern=E164, hint="an E.164 number")
    assert number is not None and body is not None
    return number, body, message_id or str(uuid.uuid4()), to


def parse_email(data: dict[str, Any]) -> tuple[bytes, dict[str, str], list[str] | None, str | None]:
    raw = _string(data, "raw")
    assert raw is not None
    if not raw.strip():
        raise BadRequest("raw", "must not be empty")
    try:
        verdicts = validate_verdicts(data.get("verdicts"))
    except BadMail as exc:
        raise BadRequest(exc.field, str(exc).partition(": ")[2]) from None
    recipients = data.get("recipients")  # the SMTP envelope's RCPT TO, when it differs from To/Cc
    if recipients is not None and not (isinstance(recipients, list) and all(isinstance(r, str) for r in recipients)):
        raise BadRequest("recipients", "expected a list of addresses")
    mail_from = _string(data, "mail_from", required=False, limit=320)
    return raw.encode("utf-8"), verdicts, recipients, mail_from


def status(run: LocalRun) -> dict[str, Any]:
    """Pending work includes SMS still in the outbound queue: the run is idle once they are sent."""
    outbound = run.outbound()
    return {"pending": run.bus.pending() + outbound["waiting"] + outbound["held"],
            "dlq": len(run.bus.dead_letters), "outbound": outbound}


class Open311Keys:
    """Each city's demo Open311 api_key: created at start for the seeded cities, on first read for a
    city added while running. Kept here only: the table holds its hash, as in AWS."""

    def __init__(self) -> None:
        self._keys: dict[int, str] = {}
        self._lock = threading.Lock()

    def key(self, geonameid: int) -> str:
        from localrun.seed import demo_open311_key

        with self._lock:
            if geonameid not in self._keys:
                self._keys[geonameid] = demo_open311_key(geonameid)
            return self._keys[geonameid]

    def config(self, config: dict[str, Any]) -> dict[str, Any]:
        """``GET /sim/config`` with each municipality's ``open311``: its jurisdiction_id and demo api_key."""
        for city in config["municipalities"]:
            city["open311"] = {"jurisdiction_id": str(city["geonameid"]), "api_key": self.key(city["geonameid"])}
        return config


def open311_request(method: str, path: str, query: str, headers: dict[str, str], body: bytes | None) -> dict:
    """The request as API Gateway passes it on the Open311 route: no authorizer, and a form body
    base64-encoded (API Gateway encodes every body that is not text, form-encoded ones included)."""
    event = http_api_request(method=method, path=path, query=query, headers=headers, body=None)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} /open311/v2/{{proxy+}}"
    event["pathParameters"] = {"proxy": path.removeprefix("/open311/v2/")}
    if body is not None:
        event.update(body=base64.b64encode(body).decode("ascii"), isBase64Encoded=True)
    return event


def make_handler(run: LocalRun, open311: Any, keys: Open311Keys) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "Text311Local/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            log.debug("%s " + format, self.address_string(), *args)

        # -- plumbing -------------------------------------------------------------------------

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST:
                raise BadRequest("body", f"larger than {MAX_REQUEST} bytes")
            return self.rfile.read(length) if length else b""

        def _dispatch(self, routes: dict[str, Any]) -> None:
            url = urlsplit(self.path)
            try:
                for pattern, action in routes.items():
                    match = re.fullmatch(pattern, url.path)
                    if match:
                        action(url, *match.groups())
                        return
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such path: {url.path}"})
            except BadRequest as exc:
                self._json(HTTPStatus.BAD_REQUEST, {"error": f"{exc.field}: {exc.message}", "field": exc.field})
            except Exception as exc:  # noqa: BLE001 - a sim bug answers 500, the server keeps running
                log.exception("%s %s", self.command, self.path)
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(exc).__name__}: {exc}"})

        # -- routes ---------------------------------------------------------------------------

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self._dispatch({
                r"/": lambda url: self._static("index.html"),
                r"/static/([A-Za-z0-9_.-]+)": lambda url, name: self._static(name),
                r"/console": lambda url: self._redirect("/console/"),
                r"/console/(.*)": lambda url, name: self._console_file(name or "index.html"),
                r"/console-api/local-sign-in": lambda url: self._json(200, {"agents": run.demo_agents()}),
                r"/console-api(/.*)": self._console_api,
                r"/sim/config": lambda url: self._json(200, keys.config(run.config())),
                r"/open311/v2/.*": self._open311,
                r"/sim/phones": lambda url: self._json(200, run.phones.numbers()),
                r"/sim/phones/([^/]+)/messages": self._phone_messages,
                r"/sim/mailbox": self._mailbox,
                r"/sim/received": lambda url: self._json(200, run.receiver.all()),
                r"/sim/dlq": lambda url: self._json(200, [d.as_json() for d in run.bus.dead_letters]),
                r"/sim/status": lambda url: self._json(200, status(run)),
            })

        do_HEAD = do_GET

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            self._dispatch({r"/sim/sms": self._post_sms, r"/sim/email": self._post_email,
                            r"/console-api/local-sign-in": self._local_sign_in,
                            r"/console-api(/.*)": self._console_api, r"/open311/v2/.*": self._open311})

        def _static(self, name: str) -> None:
            path = STATIC / name
            if not path.is_file():
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such file: {name}"})
                return
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith("javascript"):
                content_type += "; charset=utf-8"
            self._send(200, path.read_bytes(), content_type)

        def _redirect(self, location: str) -> None:
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _console_file(self, name: str) -> None:
            path = (CONSOLE / name).resolve()
            if CONSOLE not in path.parents or not path.is_file():  # no escaping the folder with ../
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such file: {name}"})
                return
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith(("javascript", "json")):
                content_type += "; charset=utf-8"
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", CONSOLE_CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _console_api(self, url: Any, path: str) -> None:
            """The console function, invoked as API Gateway would (minus the JWT authorizer: the
            handler verifies the signed local session with the same checks)."""
            body = self._body().decode("utf-8") if self.command == "POST" else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            began = time.monotonic()
            result = run.console_api.invoke(
                http_api_request(method=self.command, path=path, query=url.query, headers=headers, body=body)
            )
            took = time.monotonic() - began
            if took > SLOW_CONSOLE_CALL:  # (API Gateway gives up after 30 s; a flaky e2e test once waited 60)
                log.warning("console API %s %s took %.1f s (status %s), waiting included for the function lock",
                            self.command, path, took, result.get("statusCode"))
            self._send(int(result.get("statusCode", 500)), (result.get("body") or "").encode("utf-8"),
                       (result.get("headers") or {}).get("Content-Type", "application/json"))

        def _open311(self, url: Any) -> None:
            """The Open311 function, invoked as API Gateway would on its public route."""
            body = self._body() if self.command == "POST" else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            result = open311.invoke(open311_request(self.command, url.path, url.query, headers, body))
            self._send(int(result.get("statusCode", 500)), (result.get("body") or "").encode("utf-8"),
                       (result.get("headers") or {}).get("Content-Type", "text/xml; charset=utf-8"))

        def _local_sign_in(self, url: Any) -> None:
            data = _json_object(self._body())
            email = _string(data, "email", limit=254).strip().lower()
            municipality = _string(data, "municipality_id", limit=12).strip()
            role = _string(data, "role", limit=20).strip().lower()
            try:
                token = run.sign_in(email, municipality, role)
            except ValueError as exc:
                self._json(HTTPStatus.FORBIDDEN, {"message": str(exc)})
                return
            self._json(200, {"token": token, "expires_in": 8 * 3600})

        def _phone_messages(self, url: Any, number: str) -> None:
            number = unquote(number).strip()  # "+" may come as is or as %2B
            if not E164.match(number):
                raise BadRequest("e164", "not an E.164 number like +18195550123")
            self._json(200, [m.as_json() for m in run.phones.messages(number)])

        def _mailbox(self, url: Any) -> None:
            to = parse_qs(url.query).get("to", [None])[0]
            if to is not None and "@" not in to:
                raise BadRequest("to", "not an email address")
            self._json(200, run.mailbox.messages(to))

        def _post_sms(self, url: Any) -> None:
            number, body, message_id, to = parse_sms(_json_object(self._body()))
            run.text(number, body, message_id, to)
            self._json(HTTPStatus.ACCEPTED, {"id": message_id})

        def _post_email(self, url: Any) -> None:
            raw, verdicts, recipients, mail_from = parse_email(_json_object(self._body()))
            try:
                ses_id = run.receiver.receive(raw, envelope_to=recipients, mail_from=mail_from, verdicts=verdicts)
            except BadMail as exc:
                raise BadRequest(exc.field, str(exc).partition(": ")[2]) from None
            self._json(HTTPStatus.ACCEPTED, {"id": ses_id})

    return Handler


def serve(run: LocalRun, host: str, port: int) -> ThreadingHTTPServer:
    from localrun.lambdas import load_function

    assert run.aws is not None
    # The Open311 API: the same handler as behind API Gateway's /open311/v2/{proxy+} route.
    open311 = load_function("open311_api", run.aws.region, OPEN311_FUNCTION_TIMEOUT, run._lambda_log)
    keys = Open311Keys()
    for subscriber in run.seed.subscribers:  # the seeded cities' demo keys, created at start
        keys.key(subscriber.geonameid)
    server = ThreadingHTTPServer((host, port), make_handler(run, open311, keys))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="localrun-web", daemon=True).start()
    return server
