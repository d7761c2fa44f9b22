"""The local run put together: moto, the handlers behind the bus, the SMS sink, mail, SMTP, web."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from localrun.aws import RAW_MAIL_BUCKET, RAW_MAIL_PREFIX, LocalAws, PortBusy, provision
from localrun.bus import AsyncFunction, EventBus, SqsQueue
from localrun.drainer import DrainerLoop
from localrun.events import two_way_sms
from localrun.lambdas import load_function
from localrun.mail import Mailbox, MailReceiver
from localrun.number import LocalNumber
from localrun.schedule import ScheduleLoop
from localrun.seed import Seed
from localrun.ses_simulator import SesSimulator
from localrun.sms_sink import PhoneLog, SmsSink
from localrun.smtp import SmtpServer

log = logging.getLogger("localrun")

# Timeouts of the deployed functions (stacks/functions.py): what get_remaining_time_in_millis counts down.
SQS_FUNCTION_TIMEOUT, EMAIL_FUNCTION_TIMEOUT = 30, 60
# How long a stop waits for an invocation in flight before abandoning it.
STOP_GRACE_SECONDS = 1.0
# The sink's pace in message parts per second; unset, the deployment's (config/local.yaml, sms_mps).
LOCAL_MPS = "TEXT311_LOCAL_MPS"


def local_mps(default: float) -> float:
    raw = os.environ.get(LOCAL_MPS, "").strip()
    if not raw:
        return default
    try:
        mps = float(raw)
    except ValueError:
        mps = 0.0
    if not mps > 0 or mps == float("inf"):
        raise StartError(f"{LOCAL_MPS}={raw!r}: expected a positive number of message parts per second")
    return mps


class StartError(RuntimeError):
    """The local run cannot start; the message says what to do."""


@dataclass(frozen=True)
class Ports:
    host: str
    web: int
    smtp: int
    aws: int


class LocalRun:
    def __init__(self, seed: Seed, ports: Ports, data_dir: Path) -> None:
        self.seed, self.ports, self.data_dir = seed, ports, data_dir
        self.phones = PhoneLog(on_record=self._export_sms)
        self.bus = EventBus()
        self.aws: LocalAws | None = None
        self.smtp: SmtpServer | None = None
        self.web: Any = None
        self._lambda_log: IO[str] | None = None
        self.drainer: DrainerLoop | None = None
        self.response_targets: ScheduleLoop | None = None

    # -- start ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._prepare_data_dir()
        try:
            self.aws = aws = provision(self.seed.deployment, self.ports.host, self.ports.aws)
        except PortBusy as exc:
            raise StartError(exc.strerror) from None
        if not aws.environment["CONSOLE_URL"] and self.ports.web:
            # The console this run serves, as the stack sets CONSOLE_URL to its CloudFront address:
            # the link in every mail to the city opens the thread here.
            aws.environment["CONSOLE_URL"] = f"http://{self.ports.host}:{self.ports.web}/console/"
        os.environ.update(aws.environment)  # the handlers' settings, as the stack sets them
        (self.data_dir / "env").write_text(
            "".join(f"export {k}={_quote(v)}\n" for k, v in self._cli_environment().items()), encoding="utf-8")

        # Imported only now: Powertools reads its settings from the environment at import.
        from text311 import services
        from text311.adapters.dynamodb import create_tables
        from text311.outbound.pacing import SystemClock
        from text311.subscribers import SubscriberRepository

        self.sink = SmsSink(self.phones, self.seed.sms_number,
                            lambda message: self.bus.publish(aws.events.topic_arn, message),
                            mps=local_mps(self.seed.deployment.mps))
        # The number answers its keywords itself and keeps the opt-out list the sink refuses.
        self.number = LocalNumber(self.seed.deployment.support_contact, self.phones, self.sink.recorder.opted_out)
        services.reset()
        # Producers queue on the moto queue with the real queued sender (services.sms_sender); only
        # the drainer's line, End User Messaging itself, is the local phones.
        services.sms_line = lambda: self.sink
        services.sms_drainer = functools.cache(lambda: _short_polls(services.drainer_with(SystemClock())))
        services.tables_bound()
        create_tables()
        repository = SubscriberRepository()
        for subscriber in self.seed.subscribers:
            repository.put(subscriber)

        logs = self._send_logs_to_file()
        inbound_sms = load_function("inbound_sms", aws.region, SQS_FUNCTION_TIMEOUT, logs)
        inbound_email = load_function("inbound_email", aws.region, EMAIL_FUNCTION_TIMEOUT, logs)
        delivery_status = load_function("delivery_status", aws.region, SQS_FUNCTION_TIMEOUT, logs)
        # The agents' console: same handler as behind API Gateway, invoked per request (local sign-in).
        self.console_api = load_function("console_api", aws.region, SQS_FUNCTION_TIMEOUT, logs)
        self.drainer = DrainerLoop(load_function("sms_drainer", aws.region, SQS_FUNCTION_TIMEOUT, logs))
        # The first-response check the stack's schedule runs every 5 minutes (RESPONSE_TARGETS_SECONDS).
        self.response_targets = ScheduleLoop(
            load_function("response_targets", aws.region, SQS_FUNCTION_TIMEOUT, logs), "ResponseTargetsSchedule",
            float(os.environ.get("RESPONSE_TARGETS_SECONDS", "60")))
        self._check_services(services)

        self.bus.subscribe(
            aws.inbound.topic_arn, SqsQueue("inbound-sms", aws.inbound.queue_arn, inbound_sms, self.bus.dead_letters))
        self.bus.subscribe(
            aws.events.topic_arn, SqsQueue("sms-events", aws.events.queue_arn, delivery_status, self.bus.dead_letters))
        self.email_function = self.bus.add(AsyncFunction("inbound-email", inbound_email, self.bus.dead_letters))
        # SES's events of every mail (Send, Delivery; bounces and complaints for its simulator addresses).
        self.ses = SesSimulator.start(self.bus, load_function("mail_events", aws.region, SQS_FUNCTION_TIMEOUT, logs),
                                      services.clients().sesv2)
        self.mailbox = Mailbox(aws.region, self.data_dir / "mailbox")
        self.receiver = MailReceiver(
            reply_domain=self.seed.deployment.reply_domain, bucket=RAW_MAIL_BUCKET, prefix=RAW_MAIL_PREFIX,
            s3=aws.client("s3"), function_arn=inbound_email.arn,
            invoke=lambda event_id, event: self.bus.invoke_async(self.email_function, event_id, event),
            outcome=lambda event_id: self.email_function.results.get(event_id),
            export_dir=self.data_dir / "received",
        )
        self.bus.start()
        self.drainer.start()
        self.response_targets.start()
        self.smtp = SmtpServer(self.receiver, self.ports.host, self.ports.smtp)
        try:
            self.smtp.start()
        except Exception as exc:  # aiosmtpd raises a bare RuntimeError or OSError: say which port
            self.smtp = None
            raise StartError(f"cannot listen for SMTP on {self.ports.host}:{self.ports.smtp} ({exc}); "
                             f"set SMTP_PORT to a free port") from exc
        from localrun.web import serve

        try:
            self.web = serve(self, self.ports.host, self.ports.web)
        except OSError as exc:
            raise StartError(f"cannot listen on {self.ports.host}:{self.ports.web} ({exc.strerror}); "
                             f"set PORT to a free port") from exc

    def _prepare_data_dir(self) -> None:
        """DATA_DIR holds this run's logs and exports; the previous run's are replaced (its state is gone)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "sms.jsonl").unlink(missing_ok=True)
        for name in ("mailbox", "received"):
            shutil.rmtree(self.data_dir / name, ignore_errors=True)
            (self.data_dir / name).mkdir()

    def _send_logs_to_file(self) -> IO[str]:
        """The handlers' structured logs (Powertools, JSON lines) go to DATA_DIR/lambda.log: the
        console keeps the URLs readable, the file keeps what CloudWatch would hold."""
        self._lambda_log = (self.data_dir / "lambda.log").open("w", encoding="utf-8", buffering=1)
        for handler in logging.getLogger("text311").handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(self._lambda_log)
        return self._lambda_log

    def _check_services(self, services: Any) -> None:
        """Build every service once now: a missing module or setting fails the start, not the first text."""
        try:
            services.inbound_sms_service()
            services.answer_service()
            services.delivery_status_service()
            services.sms_drainer()
        except ImportError as exc:
            raise StartError(f"the core is incomplete: {exc}") from exc

    def demo_agents(self) -> list[dict[str, str]]:
        """Suggestions for the console's demo sign-in: each city's agent addresses."""
        agents = []
        for sub in self.seed.subscribers:
            for entry in sub.agent_allow_list:
                bare = entry.lstrip("@")
                email = bare if "@" in bare else f"agent@{bare}"  # a domain entry: any address there
                for role in ("agent", "supervisor"):
                    agents.append({"email": email if role == "agent" else f"supervisor@{email.partition('@')[2]}",
                                   "municipality_id": str(sub.geonameid), "role": role, "label": sub.display_name})
        return agents

    def sign_in(self, email: str, municipality_id: str, role: str) -> str:
        """A signed local session, for an address the city allows (what Cognito's admin would set)."""
        from text311.auth import LocalSessionVerifier, Role
        from text311.subscribers import SubscriberRepository

        if role not in {r.value for r in Role}:
            raise ValueError("role: agent or supervisor")
        subscriber = SubscriberRepository().get(int(municipality_id)) if municipality_id.isdigit() else None
        if subscriber is None:
            raise ValueError("municipality_id: not a Text311 city")
        if not subscriber.allows_agent(email):
            raise ValueError(f"{email} is not an agent of {subscriber.display_name}")
        assert self.aws is not None, "sign-in before the run started"
        key = self.aws.environment["LOCAL_SESSION_KEY"].encode()
        claims = {"email": email, "custom:municipality_id": municipality_id, "custom:role": role}
        return LocalSessionVerifier(key).issue(claims)

    def _cli_environment(self) -> dict[str, str]:
        """What `text311 …` needs to talk to this run (written to DATA_DIR/env)."""
        assert self.aws is not None
        return {**self.aws.environment, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}

    # -- what the simulation API reads ------------------------------------------------------------

    def municipalities(self) -> list[dict[str, Any]]:
        from localrun.seed import demo_agent
        from text311.subscribers import SubscriberRepository

        result = []
        for sub in sorted(SubscriberRepository().all(), key=lambda s: (s.country, s.display_name)):
            result.append({"geonameid": sub.geonameid, "name": sub.display_name, "email": sub.contact_emails[0],
                           "region_code": sub.region_code, "country": sub.country, "status": sub.status,
                           "agent": self.seed.demo_agents.get(sub.geonameid) or demo_agent(sub)})
        return result

    def config(self) -> dict[str, Any]:
        assert self.aws is not None
        return {
            "sms_number": self.seed.sms_number,
            "reply_domain": self.seed.deployment.reply_domain,
            "municipalities": self.municipalities(),
            "demo_phones": [{"number": p.number, "label": p.label} for p in self.seed.demo_phones],
            "smtp": {"host": self.ports.host, "port": self.ports.smtp},
            "aws_endpoint_url": self.aws.endpoint_url,
            "region": self.aws.region,
        }

    def text(self, origination: str, body: str, message_id: str, destination: str | None = None) -> None:
        """A phone texts Text311: the number answers a keyword itself, then End User Messaging publishes
        the two-way payload to the inbound topic. The same ``message_id`` again is End User Messaging
        delivering the same text again (the number does not answer it twice)."""
        assert self.aws is not None
        destination = destination or self.seed.sms_number
        keyword = None
        if not self.phones.has_sent(origination, message_id):
            self.phones.record(origination, "in", body, message_id)
            if destination == self.seed.sms_number:
                keyword = self.number.receive(origination, body)
        elif destination == self.seed.sms_number:
            matched = self.number.keyword_of(body)
            keyword = matched.keyword if matched else None
        payload = two_way_sms(body=body, origination=origination, destination=destination,
                              message_id=message_id, keyword=keyword)
        self.bus.publish(self.aws.inbound.topic_arn, json.dumps(payload))

    def outbound(self) -> dict[str, Any]:
        """The outbound queue as the demo shows it: messages waiting or held by the drainer, the
        drainer's last status (rate, expected wait per class), and the sink's refusals."""
        assert self.aws is not None
        from text311 import services
        from text311.outbound.lease import StatusBoard
        from text311.outbound.queued import STATUS_FRESH

        attributes = self.aws.client("sqs").get_queue_attributes(
            QueueUrl=self.aws.outbound_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        s = services.settings()
        status = StatusBoard(services.clients().dynamodb, s.idempotency_table, s.sms_origination_identity).read(
            STATUS_FRESH) or {}
        return {
            "waiting": int(attributes["ApproximateNumberOfMessages"]),
            "held": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
            "mps": self.sink.mps,
            "throttled": self.sink.throttled,
            "rate": status.get("rate"),
            "wait_seconds": status.get("wait_by_priority", {}),
        }

    def _export_sms(self, number: str, message: Any) -> None:
        with (self.data_dir / "sms.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps({"phone": number, **message.as_json()}, ensure_ascii=False) + "\n")

    # -- stop -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop taking work (the drainer and the bus first, then SMTP and HTTP), give the work in flight
        a short grace, then stop moto. What still runs after the grace is abandoned, not waited on."""
        workers = [w for w in (self.drainer, self.response_targets, self.bus) if w is not None]
        for step in (*(w.stop_taking_work for w in workers), self._stop_smtp, self._stop_web,
                     lambda: self._wait_for(workers), self._stop_aws):
            try:
                step()
            except Exception:  # noqa: BLE001 - one stuck part must not keep the others running
                log.exception("while stopping")
        if self._lambda_log is not None:
            self._lambda_log.close()

    def _wait_for(self, workers: list[DrainerLoop | ScheduleLoop | EventBus]) -> None:
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        abandoned = [w for w in workers if not w.wait_stopped(max(0.0, deadline - time.monotonic()))]
        if abandoned:
            log.info("stop: work in flight abandoned (in AWS its messages would be received again)")
            # Its calls fail once moto has stopped: expected, not errors worth a trace on the console.
            logging.getLogger("localrun.bus").disabled = True

    def _stop_smtp(self) -> None:
        if self.smtp is not None:
            self.smtp.stop()

    def _stop_web(self) -> None:
        if self.web is not None:
            self.web.shutdown()
            self.web.server_close()

    def _stop_aws(self) -> None:
        if self.aws is not None:
            self.aws.stop()


class _ShortLongPolls:
    """The drainer's SQS client with long polls of at most a second. Against moto's server a 20-s
    long poll did not end when a message was sent (measured: answers 17-18 s late, 0.15 s with
    this), where SQS returns at once; a second keeps the demo's answers prompt."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def receive_message(self, **request: Any) -> Any:
        request["WaitTimeSeconds"] = min(int(request.get("WaitTimeSeconds", 0)), 1)
        return self._client.receive_message(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _short_polls(drainer: Any) -> Any:
    drainer.sqs = _ShortLongPolls(drainer.sqs)
    return drainer


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"
