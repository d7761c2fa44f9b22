"""The drainer over moto's SQS and DynamoDB, with End User Messaging stubbed (botocore Stubber)."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from text311.adapters.sms_sender import EndUserMessagingSender, client_config
from text311.observability import metrics
from text311.outbound import FailureReason, FakeClock, Kind, LedgerState, OutboundMessage
from text311.outbound.drainer import EXPECTED_WAIT, QUEUE_PARTS, Drainer, DrainReport, Successor, publish_status
from text311.outbound.lease import Lease, StatusBoard
from text311.outbound.scheduler import QueueStatus
from text311.outbound.sqs_source import LONG_POLL_MAX
from text311.outbound.table_ledger import TableLedger

REGION = "ca-central-1"
TABLE = "test-idempotency"
IDENTITY = "+15145550100"
RESIDENT = "+18195550123"
ROOT = Path(__file__).resolve().parents[2]


class World:
    def __init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.url = self.sqs.create_queue(QueueName="outbound")["QueueUrl"]
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                   BillingMode="PAY_PER_REQUEST")
        self.sms = boto3.client("pinpoint-sms-voice-v2", region_name=REGION, config=client_config())
        self.stub = Stubber(self.sms)
        self.stub.activate()
        self.sent: list[str] = []
        self.failed: list[tuple[str, FailureReason]] = []
        self.clock = FakeClock(1_000.0)

    def put(self, message: OutboundMessage) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=message.to_json())

    def accepts(self, message_id: str = "sms-1") -> None:
        self.stub.add_response("send_text_message", {"MessageId": message_id},
                               {"DestinationPhoneNumber": RESIDENT, "OriginationIdentity": IDENTITY,
                                "MessageBody": ANY, "MessageType": "TRANSACTIONAL", "Context": ANY})

    def refuses(self, code: str, reason: str | None = None) -> None:
        extra = {"Reason": reason} if reason else None
        self.stub.add_client_error("send_text_message", service_error_code=code, http_status_code=400,
                                   modeled_fields=extra)

    def drainer(self, lease: Lease | None = None, **options) -> Drainer:
        line = EndUserMessagingSender(self.sms, IDENTITY, max_attempts=1)  # what services.sms_line builds
        return Drainer(
            sqs=self.sqs, queue_url=self.url, identity=IDENTITY, mps=1.0, line=line,
            lease=lease or Lease(self.dynamodb, TABLE, IDENTITY),
            board=StatusBoard(self.dynamodb, TABLE, IDENTITY), clock=self.clock,
            on_sent=lambda message, at: self.sent.append(message.id),
            on_failed=lambda message, reason: self.failed.append((message.id, reason)),
            long_poll=False, **{"max_idle": 0.0, "ledger": TableLedger(self.dynamodb, TABLE), **options},
        )

    def drain(self, lease: Lease | None = None) -> DrainReport:
        return self.drainer(lease).drain(lambda: 600.0)

    def waiting(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        return sum(int(v) for v in attributes["Attributes"].values())


@pytest.fixture
def world():
    with mock_aws():
        yield World()


def answer(id: str = "ses-1", body: str = "Une équipe passe demain.", kind: Kind = Kind.AGENT) -> OutboundMessage:
    return OutboundMessage.create(id=id, identity=IDENTITY, city=5959974, kind=kind, destination=RESIDENT,
                                  body=body, enqueued_at=1.0)


def test_a_queued_message_delivered_again_after_it_was_sent_is_not_sent_again(world):
    world.put(answer())
    world.accepts()
    first = world.drain()
    world.put(answer())  # SQS delivers the same message again (at least once), or the producer re-sent it

    second = world.drain()  # the stub holds no second response: a second call would be in doubt, not sent

    assert first == DrainReport(sent=1, failed=0, in_doubt=0, released=0, lease_held=True)
    assert second == DrainReport(sent=0, failed=0, in_doubt=0, released=0, lease_held=True)
    world.stub.assert_no_pending_responses()
    assert world.sent == ["ses-1"] and world.waiting() == 0


def test_the_same_message_twice_in_one_drain_is_sent_once(world):
    world.put(answer())
    world.put(answer())
    world.accepts()

    report = world.drain()

    assert report.sent == 1 and world.sent == ["ses-1"] and world.waiting() == 0


def test_a_throttled_api_slows_the_pace_and_loses_nothing(world):
    for n in range(3):
        world.put(answer(f"ses-{n}", body=f"Answer {n}"))
    world.refuses("ThrottlingException")
    for n in range(3):
        world.accepts(f"sms-{n}")
    start = world.clock.now()

    report = world.drain()

    assert report.sent == 3 and report.failed == report.in_doubt == 0
    assert sorted(world.sent) == ["ses-0", "ses-1", "ses-2"] and world.waiting() == 0
    world.stub.assert_no_pending_responses()
    status = StatusBoard(world.dynamodb, TABLE, IDENTITY).read(fresh_within=3600)
    assert status["throttles"] == 1 and status["rate"] < 1.0  # AIMD cut: the drainer slowed down
    assert world.clock.now() - start >= 3.0  # three parts at no more than 1 part a second


def test_a_second_drainer_while_the_first_holds_the_lease_sends_nothing(world):
    world.put(answer())
    holder = Lease(world.dynamodb, TABLE, IDENTITY)
    assert holder.acquire()

    report = world.drain()

    assert report == DrainReport(0, 0, 0, 0, lease_held=False)
    assert world.sent == [] and world.waiting() == 1  # left on the queue for the holder
    holder.release()
    world.accepts()
    assert world.drain().sent == 1


def test_an_opted_out_number_ends_the_message_failed_once_never_retried(world):
    world.put(answer())
    world.refuses("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT")

    report = world.drain()
    world.put(answer())  # delivered again
    world.drain()

    assert report.failed == 1 and world.failed == [("ses-1", FailureReason.OPTED_OUT)]
    world.stub.assert_no_pending_responses()
    assert world.waiting() == 0


def test_a_send_cut_by_a_crash_is_in_doubt_and_not_resent(world):
    # A drainer died between SendTextMessage and its record: the part's claim is still "sending".
    TableLedger(world.dynamodb, TABLE).claim("ses-1#1", IDENTITY)
    world.put(answer())

    report = world.drain()

    assert report.in_doubt == 1 and world.failed == [("ses-1", FailureReason.IN_DOUBT)]
    world.stub.assert_no_pending_responses()  # no call was made


def test_a_drainer_near_its_end_gives_back_what_it_holds_and_frees_the_lease(world):
    for n in range(3):
        world.put(answer(f"ses-{n}", body=f"Answer {n}"))
    world.accepts("sms-0")

    # The Lambda's time runs out once the first answer is sent: under the stop margin (45 s).
    report = world.drainer().drain(lambda: 10.0 if world.sent else 600.0)

    assert report.sent == 1 and report.released == 2
    assert world.waiting() == 2  # visible again for the successor, not lost
    assert Lease(world.dynamodb, TABLE, IDENTITY).acquire()  # the lease was dropped


# -- metrics the alarms watch (stacks/observability.py) ------------------------------------------


def emf_lines(text: str) -> list[dict]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [line for line in lines if EXPECTED_WAIT in line]


def observability_constants() -> dict[str, str]:
    """The names stacks/observability.py alarms on, read without importing the CDK."""
    tree = ast.parse((ROOT / "stacks" / "observability.py").read_text())
    return {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def test_the_status_is_published_as_one_emf_line_per_class_with_the_alarms_names_and_dimensions(capsys):
    status = QueueStatus(identity=IDENTITY, mps=1.0, rate=0.75, messages=7, parts=12,
                         parts_by_priority={"URGENT": 1, "ANSWER": 9, "NOTICE": 2},
                         wait_by_priority={"URGENT": 0.5, "ANSWER": 930.0, "NOTICE": 1200.0}, throttles=3)

    publish_status(status)

    lines = emf_lines(capsys.readouterr().out)
    watched = observability_constants()
    assert {watched["EXPECTED_WAIT"], watched["QUEUE_PARTS"]} == {EXPECTED_WAIT, QUEUE_PARTS}
    by_class = {line["class"]: line for line in lines}
    assert set(by_class) == {"URGENT", "ANSWER", "NOTICE"} and len(lines) == 3
    for name, line in by_class.items():
        [directive] = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == watched["NAMESPACE"] == "Text311"
        assert [sorted(d) for d in directive["Dimensions"]] == [["class", "identity", "service"]]
        assert line["identity"] == IDENTITY and line["service"] == "text311"
        assert line[QUEUE_PARTS] == [status.parts_by_priority[name]]
        assert line[EXPECTED_WAIT] == [status.wait_by_priority[name]]
        assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {QUEUE_PARTS: "Count", EXPECTED_WAIT: "Seconds"}


def test_a_backlog_shows_in_the_metrics_while_it_drains_not_only_at_the_end(world, capsys):
    for n in range(6):
        world.put(answer(f"ses-{n}", body=f"Answer {n}"))
        world.accepts(f"sms-{n}")

    world.drainer(metrics_every=1.0).drain(lambda: 600.0)

    answer_lines = [line for line in emf_lines(capsys.readouterr().out) if line["class"] == "ANSWER"]
    parts = [line[QUEUE_PARTS][0] for line in answer_lines]
    waits = [line[EXPECTED_WAIT][0] for line in answer_lines]
    # One line a simulated second while six parts drain at 1 MPS: the backlog falls as it goes.
    assert len(answer_lines) >= 6 and max(parts) >= 4 and max(waits) >= 4.0
    assert parts[-1] == 0 and waits[-1] <= 1.0  # the last status: nothing left
    assert parts.index(max(parts)) < len(parts) - 1


# -- a drainer for the whole life, and its successor at the end ----------------------------------


class FakeLambda:
    """Records each invoke, and what the queue and the lease looked like at that moment."""

    def __init__(self, world: World, fail: bool = False) -> None:
        self.world = world
        self.fail = fail
        self.calls: list[dict] = []
        self.lease_free_at_invoke: list[bool] = []
        self.handing_off_at_invoke: list[bool] = []
        self.waiting_at_invoke: list[int] = []

    def invoke(self, **request) -> dict:
        self.calls.append(request)
        other = Lease(self.world.dynamodb, TABLE, IDENTITY)
        self.handing_off_at_invoke.append(other.holder()[1])
        self.lease_free_at_invoke.append(other.acquire())
        other.release()
        self.waiting_at_invoke.append(self.world.waiting())
        if self.fail:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Invoke")
        return {"StatusCode": 202}


class Deadline:
    """A Lambda's remaining time on the world's simulated clock."""

    def __init__(self, world: World, seconds: float) -> None:
        self.clock = world.clock
        self.end = world.clock.now() + seconds

    def __call__(self) -> float:
        return self.end - self.clock.now()


def test_at_its_deadline_the_drainer_starts_its_successor_first_then_gives_everything_back(world):
    for n in range(3):
        world.put(answer(f"ses-{n}", body=f"Answer {n}"))
    world.accepts("sms-0")
    invoker = FakeLambda(world)
    drainer = world.drainer(successor=Successor(invoker, "text311-sms-drainer"), max_idle=math.inf)

    report = drainer.drain(lambda: 10.0 if world.sent else 600.0)

    assert report.handed_off is True and report.released == 2
    [call] = invoker.calls
    assert call["FunctionName"] == "text311-sms-drainer" and call["InvocationType"] == "Event"
    assert json.loads(call["Payload"]) == {"handoff": True}
    # started during its Lambda start (issue 19): the lease still held, marked so that the successor waits
    assert invoker.lease_free_at_invoke == [False] and invoker.handing_off_at_invoke == [True]
    assert world.waiting() == 2 and Lease(world.dynamodb, TABLE, IDENTITY).acquire()  # then given back, dropped


def test_an_idle_drainer_stays_for_its_whole_life_and_sends_a_late_reply_at_once(world):
    reply_at = world.clock.now() + 300.0  # five quiet minutes, then a resident's dialog answer arrives
    clock, put = world.clock, world.put

    class ArrivingClock(FakeClock):
        def sleep(self, seconds: float) -> None:
            before = clock.now()
            clock.sleep(seconds)
            if before < reply_at <= clock.now():
                put(answer("dialog-1", body="Which municipality?", kind=Kind.DIALOG))

    world.clock = ArrivingClock()
    world.clock.now = clock.now  # type: ignore[method-assign] - one time for both
    sent_at: list[float] = []
    world.accepts("sms-1")
    invoker = FakeLambda(world)
    drainer = world.drainer(successor=Successor(invoker, "text311-sms-drainer"), max_idle=math.inf)
    drainer.on_sent = lambda message, at: sent_at.append(at)

    report = drainer.drain(Deadline(world, 900.0))

    assert report.sent == 1 and sent_at and sent_at[0] - reply_at <= LONG_POLL_MAX  # a long poll returns at once in SQS
    assert clock.now() >= reply_at + 500.0  # still there long after: it left only near its deadline
    assert report.handed_off is True and len(invoker.calls) == 1


def test_a_drainer_that_finds_the_lease_held_starts_no_one(world):
    holder = Lease(world.dynamodb, TABLE, IDENTITY)
    assert holder.acquire()  # the successor won; this is the minute's tick arriving at the same time
    invoker = FakeLambda(world)

    report = world.drainer(successor=Successor(invoker, "text311-sms-drainer")).drain(lambda: 10.0)

    assert report == DrainReport(0, 0, 0, 0, lease_held=False, handed_off=False)
    assert invoker.calls == []  # no second chain of drainers


def test_an_idle_exit_or_a_lost_lease_does_not_start_a_successor(world):
    invoker = FakeLambda(world)

    idle = world.drainer(successor=Successor(invoker, "text311-sms-drainer"), max_idle=0.0).drain(lambda: 600.0)

    lease = Lease(world.dynamodb, TABLE, IDENTITY)
    lease.renew = lambda: False  # type: ignore[method-assign] - another drainer took over
    ousted = world.drainer(lease, successor=Successor(invoker, "text311-sms-drainer"), renew_every=0.0,
                           max_idle=math.inf).drain(lambda: 600.0)

    assert idle.handed_off is False and ousted.handed_off is False and ousted.lease_held is True
    assert invoker.calls == []


def test_a_successor_that_cannot_be_started_is_logged_and_left_to_the_tick(world):
    invoker = FakeLambda(world, fail=True)

    report = world.drainer(successor=Successor(invoker, "text311-sms-drainer")).drain(lambda: 10.0)

    assert report.lease_held is True and report.handed_off is False and len(invoker.calls) == 1
    assert Lease(world.dynamodb, TABLE, IDENTITY).acquire()  # the tick's drainer can start


def test_a_drainer_whose_lease_was_taken_over_starts_no_second_chain_at_its_deadline(world):
    # It stalled past its lease's expiry; another drainer took the lease (and has its own successor to
    # start); then this one's deadline came before its next renewal could tell it.
    world.put(answer("ses-0", body="Answer 0"))
    world.accepts("sms-0")
    invoker = FakeLambda(world)
    drainer = world.drainer(successor=Successor(invoker, "text311-sms-drainer"), renew_every=math.inf,
                            max_idle=math.inf)
    taker = Lease(world.dynamodb, TABLE, IDENTITY, now=lambda: 10**10)  # sees the lease expired

    def remaining() -> float:
        if world.sent and taker.acquire():
            return 10.0  # under the stop margin: the deadline stop
        return 600.0

    report = drainer.drain(remaining)

    assert report.sent == 1 and report.handed_off is False
    assert invoker.calls == []  # the taker's chain is the only one
    assert not Lease(world.dynamodb, TABLE, IDENTITY).acquire()  # and its lease was left alone


def test_a_hand_off_starts_exactly_one_successor_and_the_successor_starts_none_while_it_runs(world):
    invoker = FakeLambda(world)
    first = world.drainer(successor=Successor(invoker, "text311-sms-drainer"), max_idle=math.inf)

    first.drain(lambda: 10.0)  # at its deadline at once: gives back, drops the lease, hands off
    successor_lease = Lease(world.dynamodb, TABLE, IDENTITY)
    assert successor_lease.acquire()  # the successor runs
    again = world.drainer(successor=Successor(invoker, "text311-sms-drainer")).drain(lambda: 10.0)

    assert len(invoker.calls) == 1  # one link, one successor
    assert again.lease_held is False and again.handed_off is False  # a duplicate start is not a chain


def test_a_spend_limit_refusal_is_counted_for_its_alarm(world, capsys):
    world.put(answer())
    world.refuses("ServiceQuotaExceededException", "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT")

    report = world.drain()
    metrics.flush_metrics()

    assert report.failed == 1 and world.failed == [("ses-1", FailureReason.SPEND_LIMIT)]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(line.get("OutboundSpendLimit") == [1.0] for line in emitted)


# -- a failed ledger write never ends the drainer ------------------------------------------------


class FlakyTable:
    """The table's client, failing the ledger's calls (items ``outbound#…``) as DynamoDB sometimes
    does: ``fail`` of them raise an InternalServerError; with ``lost_answer`` the first put is written
    and its answer lost."""

    def __init__(self, client, operation: str, fail: int, lost_answer: bool = False) -> None:
        self.client, self.operation, self.fail, self.lost_answer = client, operation, fail, lost_answer
        self.failed = 0

    def __getattr__(self, name):
        method = getattr(self.client, name)
        if name != self.operation:
            return method

        def call(**request):
            key = (request.get("Item") or request.get("Key"))["id"]["S"]
            if key.startswith("outbound#") and self.failed < self.fail:
                self.failed += 1
                if self.lost_answer:
                    method(**request)
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "try again"}}, name)
            return method(**request)

        return call


def test_a_ledger_record_that_fails_is_retried_and_the_drainer_goes_on_sending(world):
    for n in range(2):
        world.put(answer(f"ses-{n}", body=f"Answer {n}"))
        world.accepts(f"sms-{n}")
    table = FlakyTable(world.dynamodb, "update_item", fail=2)

    report = world.drainer(ledger=TableLedger(table, TABLE)).drain(lambda: 600.0)

    assert table.failed == 2 and report.sent == 2 and report.in_doubt == 0
    assert sorted(world.sent) == ["ses-0", "ses-1"] and world.waiting() == 0
    assert TableLedger(world.dynamodb, TABLE).get("ses-0#1").state is LedgerState.SENT  # recorded on a retry


def test_a_claim_whose_answer_was_lost_is_known_as_its_own_and_sent_not_put_in_doubt(world):
    world.put(answer())
    world.accepts()
    table = FlakyTable(world.dynamodb, "put_item", fail=1, lost_answer=True)

    report = world.drainer(ledger=TableLedger(table, TABLE)).drain(lambda: 600.0)

    assert report.sent == 1 and report.in_doubt == 0 and world.failed == []
    world.stub.assert_no_pending_responses()


def test_a_ledger_that_stays_down_sends_nothing_unclaimed_and_the_chain_goes_on(world):
    world.put(answer())
    invoker = FakeLambda(world)
    table = FlakyTable(world.dynamodb, "put_item", fail=10**6)
    deadline = Deadline(world, 120.0)  # the life's end comes while the table is still down

    report = world.drainer(ledger=TableLedger(table, TABLE), successor=Successor(invoker, "text311-sms-drainer"),
                           max_idle=math.inf).drain(deadline)

    assert report.sent == 0 and report.in_doubt == 0 and report.released == 1  # given back, not lost
    assert report.handed_off is True and len(invoker.calls) == 1  # the next life takes over
    world.stub.assert_no_pending_responses()  # nothing was sent without its claim


def test_a_part_whose_record_was_given_up_is_in_doubt_for_the_same_ledgers_next_claim(world):
    # given one ledger (a warm container builds it once) whose claim was answered, and whose
    # mark_sent then failed on every retry: the record stays "sending"
    ledger = TableLedger(world.dynamodb, TABLE)
    assert ledger.claim("ses-1#1", IDENTITY).state is LedgerState.NEW

    # when the same ledger claims that part again (a new claim, not a retry of the first)
    again = ledger.claim("ses-1#1", IDENTITY)

    # then it is someone's call that may have gone out, not this claim's own
    assert again.state is LedgerState.SENDING


def test_a_redelivered_part_whose_mark_sent_was_given_up_is_not_resent_by_the_next_drainer_of_the_container(world):
    world.put(answer())
    world.accepts()
    ledger = TableLedger(FlakyTable(world.dynamodb, "update_item", fail=4), TABLE)  # every mark_sent attempt
    first = world.drainer(ledger=ledger).drain(lambda: 600.0)
    assert first.sent == 1 and world.sent == ["ses-1"]
    world.put(answer())  # SQS delivers the message again
    world.accepts("sms-2")  # the API would take a second send

    second = world.drainer(ledger=ledger).drain(lambda: 600.0)  # the container's next life, same ledger

    assert second.sent == 0 and second.in_doubt == 1 and world.failed == [("ses-1", FailureReason.IN_DOUBT)]
    assert world.sent == ["ses-1"]  # sent once
