"""The service request store (text311.service_requests) against moto's DynamoDB."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from text311.adapters.requests_table import RequestModel
from text311.service_requests import (
    CLOSED,
    IN_PROGRESS,
    OPEN,
    ServiceRequestError,
    ServiceRequestStore,
    StatusChange,
    UnknownRequest,
    reference_prefix,
)
from text311.subscribers import Subscriber

GATINEAU = "5959974"
KINGSTON = "5992500"
T0 = datetime(2025, 3, 4, 14, 0, tzinfo=UTC)


class SteppingClock:
    """Each reading is one minute after the previous one: filings are ordered in time."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start - timedelta(minutes=1)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(minutes=1)
            return self.now


@pytest.fixture
def requests_table() -> Iterator[None]:
    with mock_aws():
        RequestModel.Meta.table_name = "test-requests"
        RequestModel.Meta.region = "ca-central-1"
        RequestModel.Meta.host = None
        RequestModel._connection = None
        RequestModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        try:
            yield
        finally:
            RequestModel._connection = None


@pytest.fixture
def item_atomic_moto(monkeypatch) -> None:
    """DynamoDB applies each write request atomically; moto, called from several threads in one
    process, does not. One lock around each write call gives moto that guarantee and no more: the
    read before a write, and everything between calls, still interleave freely."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "get_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


def file_pothole(store: ServiceRequestStore, city: str = GATINEAU, **overrides):
    fields = dict(
        city_id=city,
        prefix="GAT",
        service_code="pothole",
        description="Nid-de-poule devant le 12 rue Laurier",
        address="12 rue Laurier",
        lat=45.4286,
        lon=-75.7134,
        conversation_id="conv-1",
        source="sms",
        by="agent@gatineau.example.ca",
    )
    fields.update(overrides)
    return store.file(**fields)


def test_first_request_of_a_city_is_numbered_1001_and_the_next_1002(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())

    first = file_pothole(store)
    second = file_pothole(store, service_code="graffiti")

    assert (first.reference, second.reference) == ("GAT-1001", "GAT-1002")
    assert store.get(GATINEAU, "GAT-1001") == first


def test_each_city_counts_its_own_references(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())

    file_pothole(store)
    kingston = file_pothole(store, city=KINGSTON, prefix="KIN")

    assert kingston.reference == "KIN-1001"
    assert store.get(KINGSTON, "GAT-1001") is None


def test_a_filed_request_keeps_its_fields_and_opens_its_history(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())

    filed = file_pothole(store)

    assert filed.status == OPEN
    assert (filed.service_code, filed.address, filed.lat, filed.lon) == ("pothole", "12 rue Laurier", 45.4286, -75.7134)
    assert filed.requested_at == filed.updated_at == T0
    assert filed.history == (StatusChange(at=T0, status=OPEN, note="", by="agent@gatineau.example.ca"),)
    assert store.get(GATINEAU, "GAT-1001") == filed


def test_concurrent_filings_never_share_a_number_and_skip_none(requests_table, item_atomic_moto):
    store = ServiceRequestStore(clock=SteppingClock())
    start = threading.Barrier(8)

    def file_one(n: int) -> str:
        start.wait()
        return file_pothole(store, description=f"text {n}", conversation_id=f"conv-{n}").reference

    with ThreadPoolExecutor(max_workers=8) as pool:
        references = list(pool.map(file_one, range(24)))

    assert sorted(references, key=lambda r: int(r.split("-")[1])) == [f"GAT-{n}" for n in range(1001, 1025)]


def test_the_same_idempotency_key_files_once(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())

    first = file_pothole(store, idempotency_key="<answer-1@mail.gatineau.example.ca>")
    again = file_pothole(store, idempotency_key="<answer-1@mail.gatineau.example.ca>")
    other = file_pothole(store, idempotency_key="<answer-2@mail.gatineau.example.ca>")

    assert again == first
    assert other.reference == "GAT-1002"
    assert store.for_conversation(GATINEAU, "conv-1") == [other, first]


def test_the_same_idempotency_key_filed_at_once_files_once(requests_table, item_atomic_moto):
    store = ServiceRequestStore(clock=SteppingClock())
    start = threading.Barrier(6)

    def redelivered(_: int) -> str:
        start.wait()
        return file_pothole(store, idempotency_key="<answer-1@mail.gatineau.example.ca>").reference

    with ThreadPoolExecutor(max_workers=6) as pool:
        references = set(pool.map(redelivered, range(6)))

    assert references == {"GAT-1001"}
    assert store.get(GATINEAU, "GAT-1002") is None


def test_a_status_change_is_appended_to_the_history(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())
    file_pothole(store)

    store.set_status(GATINEAU, "GAT-1001", IN_PROGRESS, "Crew booked for Tuesday", "agent@gatineau.example.ca")
    closed = store.set_status(GATINEAU, "GAT-1001", CLOSED, "", "lead@gatineau.example.ca")

    assert closed.status == CLOSED
    assert closed.updated_at == T0 + timedelta(minutes=2)
    assert [(c.status, c.note, c.by) for c in closed.history] == [
        (OPEN, "", "agent@gatineau.example.ca"),
        (IN_PROGRESS, "Crew booked for Tuesday", "agent@gatineau.example.ca"),
        (CLOSED, "", "lead@gatineau.example.ca"),
    ]
    assert store.get(GATINEAU, "GAT-1001") == closed


def test_a_status_of_an_unknown_request_is_refused(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())
    file_pothole(store)

    with pytest.raises(UnknownRequest):
        store.set_status(GATINEAU, "GAT-9999", CLOSED, "", "agent@gatineau.example.ca")
    with pytest.raises(UnknownRequest):
        store.set_status(KINGSTON, "GAT-1001", CLOSED, "", "agent@kingston.example.ca")
    assert store.get(KINGSTON, "GAT-9999") is None


def test_an_unknown_status_is_refused(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())
    file_pothole(store)

    with pytest.raises(ServiceRequestError):
        store.set_status(GATINEAU, "GAT-1001", "done", "", "agent@gatineau.example.ca")


def test_a_reference_never_reads_the_counter_or_a_claim(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())
    file_pothole(store, idempotency_key="k1")

    assert store.get(GATINEAU, "counter") is None
    assert store.get(GATINEAU, "") is None
    assert store.list(GATINEAU, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1)) == [
        store.get(GATINEAU, "GAT-1001")
    ]


def test_list_is_newest_first_within_the_dates_and_filters(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())
    pothole = file_pothole(store)  # T0
    graffiti = file_pothole(store, service_code="graffiti")  # T0 + 1 min
    later = file_pothole(store)  # T0 + 2 min
    store.set_status(GATINEAU, later.reference, CLOSED, "", "agent@gatineau.example.ca")
    file_pothole(store, city=KINGSTON, prefix="KIN")

    every = store.list(GATINEAU, start=T0, end=T0 + timedelta(hours=1))
    first_two = store.list(GATINEAU, start=T0, end=T0 + timedelta(minutes=1))
    potholes = store.list(GATINEAU, start=T0, end=T0 + timedelta(hours=1), service_code="pothole")
    open_potholes = store.list(GATINEAU, start=T0, end=T0 + timedelta(hours=1), service_code="pothole", status=OPEN)
    one = store.list(GATINEAU, start=T0, end=T0 + timedelta(hours=1), limit=1)

    assert [r.reference for r in every] == [later.reference, graffiti.reference, pothole.reference]
    assert [r.reference for r in first_two] == [graffiti.reference, pothole.reference]
    assert [r.reference for r in potholes] == [later.reference, pothole.reference]
    assert [r.reference for r in open_potholes] == [pothole.reference]
    assert [r.reference for r in one] == [later.reference]


def test_for_conversation_lists_that_conversations_requests_newest_first(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())
    first = file_pothole(store)
    file_pothole(store, conversation_id="conv-2")
    api = file_pothole(store, conversation_id=None, source="open311", by="open311")
    second = file_pothole(store, service_code="graffiti")

    assert store.for_conversation(GATINEAU, "conv-1") == [second, first]
    assert store.for_conversation(KINGSTON, "conv-1") == []
    assert api.conversation_id is None and api.history[0].by == "open311"


def test_for_conversation_reads_its_index_consistently(requests_table, monkeypatch):
    # A request filed a moment ago must be among them: an eventually consistent read may miss it.
    store = ServiceRequestStore(clock=SteppingClock())
    filed = file_pothole(store)
    query = RequestModel.by_conversation.query
    reads: list[bool] = []

    def recorded(*args, **kwargs):
        reads.append(kwargs.get("consistent_read", False))
        return query(*args, **kwargs)

    monkeypatch.setattr(RequestModel.by_conversation, "query", recorded)

    assert store.for_conversation(GATINEAU, "conv-1") == [filed]
    assert reads == [True]


def test_a_key_is_claimed_once_even_by_claims_at_once(requests_table, item_atomic_moto):
    store = ServiceRequestStore(clock=SteppingClock())
    start = threading.Barrier(6)

    def claim(_: int) -> bool:
        start.wait()
        return store.claim_once(GATINEAU, "<answer-1@mail.gatineau.example.ca>#request#notice", "GAT-1001")

    with ThreadPoolExecutor(max_workers=6) as pool:
        claimed = list(pool.map(claim, range(6)))

    assert claimed.count(True) == 1
    assert store.claim_once(GATINEAU, "<answer-1@mail.gatineau.example.ca>#request#notice", "GAT-1001") is False
    assert store.claimed(GATINEAU, "<answer-1@mail.gatineau.example.ca>#request#notice") == "GAT-1001"
    assert store.list(GATINEAU, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("Gatineau", "GAT"), ("Lévis", "LEV"), ("Île-Perrot", "ILE"), ("L'Épiphanie", "LEP"), ("Ai", "AIX")],
)
def test_reference_prefix_is_three_ascii_letters_of_the_name(name, prefix):
    city = Subscriber(
        geonameid=1,
        display_name=name,
        country="CA",
        region_code="QC",
        contact_emails=("a@b.example",),
        agent_allow_list=(),
        time_zone="America/Toronto",
    )

    assert reference_prefix(city) == prefix


def test_a_status_change_under_an_idempotency_key_is_made_once(requests_table):
    store = ServiceRequestStore(clock=SteppingClock())
    file_pothole(store)

    first = store.set_status(GATINEAU, "GAT-1001", CLOSED, "Filled", "agent@gatineau.example.ca", idempotency_key="a1")
    again = store.set_status(GATINEAU, "GAT-1001", CLOSED, "Filled", "agent@gatineau.example.ca", idempotency_key="a1")

    assert again == first
    assert [c.status for c in again.history] == [OPEN, CLOSED]
    assert store.claimed(GATINEAU, "a1") == "GAT-1001"
    assert store.claimed(GATINEAU, "a2") is None
    with pytest.raises(UnknownRequest):
        store.set_status(GATINEAU, "GAT-1002", CLOSED, "", "agent@gatineau.example.ca", idempotency_key="a3")
