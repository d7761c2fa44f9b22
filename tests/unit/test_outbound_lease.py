"""The drainer's lease and status items in the idempotency table (moto)."""

from __future__ import annotations

import boto3
import pytest
from harness import create_key_table
from moto import mock_aws

from text311.outbound.lease import Lease, StatusBoard

REGION = "ca-central-1"
TABLE = "test-idempotency"
IDENTITY = "+15145550100"


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_key_table(client, TABLE)
        yield client


class Wall:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_only_one_of_two_contenders_gets_the_lease(dynamodb):
    clock = Wall()
    first = Lease(dynamodb, TABLE, IDENTITY, seconds=60, now=clock)
    second = Lease(dynamodb, TABLE, IDENTITY, seconds=60, now=clock)

    assert first.acquire() is True
    assert second.acquire() is False
    assert second.renew() is False  # not its lease
    assert first.renew() is True


def test_a_lease_held_past_its_expiry_is_taken_over_and_the_stalled_holder_learns_it(dynamodb):
    clock = Wall()
    stalled = Lease(dynamodb, TABLE, IDENTITY, seconds=60, now=clock)
    successor = Lease(dynamodb, TABLE, IDENTITY, seconds=60, now=clock)
    assert stalled.acquire()

    clock.t += 59
    assert successor.acquire() is False  # still held
    clock.t += 2
    assert successor.acquire() is True

    assert stalled.renew() is False
    stalled.release()  # must not delete the successor's lease
    assert Lease(dynamodb, TABLE, IDENTITY, now=clock).acquire() is False


def test_a_released_lease_is_free_at_once_and_the_holder_may_acquire_again(dynamodb):
    clock = Wall()
    holder = Lease(dynamodb, TABLE, IDENTITY, now=clock)
    assert holder.acquire() and holder.acquire()  # its own lease: acquiring again renews it
    holder.release()
    assert Lease(dynamodb, TABLE, IDENTITY, now=clock).acquire() is True


def test_leases_of_two_identities_are_independent(dynamodb):
    clock = Wall()
    assert Lease(dynamodb, TABLE, IDENTITY, now=clock).acquire()
    assert Lease(dynamodb, TABLE, "+18005550100", now=clock).acquire()


def test_the_lease_item_expires_with_the_tables_ttl(dynamodb):
    clock = Wall()
    Lease(dynamodb, TABLE, IDENTITY, now=clock).acquire()
    item = dynamodb.get_item(TableName=TABLE, Key={"id": {"S": f"lease#{IDENTITY}"}})["Item"]
    assert int(item["expiration"]["N"]) > clock.t


def test_the_status_is_read_while_fresh_and_ignored_once_stale(dynamodb):
    clock = Wall()
    board = StatusBoard(dynamodb, TABLE, IDENTITY, now=clock)
    board.write({"rate": 0.75, "wait_by_priority": {"ANSWER": 300.0}})

    assert board.read(fresh_within=120) == {"rate": 0.75, "wait_by_priority": {"ANSWER": 300.0}}
    clock.t += 121
    assert board.read(fresh_within=120) is None
    assert StatusBoard(dynamodb, TABLE, "+18005550100", now=clock).read(fresh_within=120) is None
