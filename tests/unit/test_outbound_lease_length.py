"""A lease whose length follows the work (issue 19): short while a fast line is busy, so a takeover
after a crash costs about a second and a half of a 100-MPS line instead of ten; long while idle or
slow, so an idle hour costs no more writes. The keeper renews it on a thread of its own (SimClock),
and writes each new length, so a successor waits for exactly what is left of it."""

from __future__ import annotations

import boto3
import pytest
from harness import create_key_table
from moto import mock_aws

from text311.outbound.drainer import LeaseKeeper
from text311.outbound.lease import (
    BUSY_LEASE_MIN,
    LEASE_SECONDS,
    RENEW_EVERY,
    Lease,
    lease_seconds_for,
    renew_every_for,
)
from text311.outbound.sim_clock import SimClock

REGION = "ca-central-1"
TABLE = "test-idempotency"
IDENTITY = "+15145550100"


class CountingDynamoDb:
    """moto's client, with the lease renewals (UpdateItem) counted."""

    def __init__(self, client) -> None:
        self.client = client
        self.renewals = 0

    def __getattr__(self, name):
        if name == "update_item":
            self.renewals += 1
        return getattr(self.client, name)


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_key_table(client, TABLE)
        yield CountingDynamoDb(client)


@pytest.mark.parametrize("mps", [1, 3, 10, 20, 100, 1_000])
def test_the_busy_lease_costs_at_most_a_fiftieth_of_a_write_per_part_at_any_speed(mps):
    busy, idle = lease_seconds_for(mps, busy=True), lease_seconds_for(mps, busy=False)

    # renewals a second above the idle lease's, per part sent at the MPS
    extra_per_part = (1 / renew_every_for(busy) - 1 / renew_every_for(idle)) / mps
    assert BUSY_LEASE_MIN <= busy <= LEASE_SECONDS
    assert extra_per_part <= 0.02
    assert idle == LEASE_SECONDS and renew_every_for(idle) == RENEW_EVERY  # idle: as few writes as before


def test_a_busy_100_mps_line_holds_a_lease_of_a_second_and_a_half_and_a_slow_one_keeps_ten():
    assert lease_seconds_for(100, busy=True) <= 1.5
    assert lease_seconds_for(3, busy=True) == lease_seconds_for(1, busy=True) == LEASE_SECONDS


def test_the_keeper_writes_the_length_the_work_asks_for_so_a_successor_waits_only_that_long(dynamodb):
    # given a drainer's lease kept on a thread of its own, its line busy at 100 MPS
    clock = SimClock(1_000.0)
    holder = Lease(dynamodb, TABLE, IDENTITY, now=clock.now, owner="holder")
    assert holder.acquire()
    work = {"busy": True}
    keeper = LeaseKeeper(holder, clock, lambda: lease_seconds_for(100, work["busy"]))
    keeper.start()
    successor = Lease(dynamodb, TABLE, IDENTITY, now=clock.now, owner="successor")

    # when it has been busy for a while
    clock.sleep(3.0)
    busy_wait = successor.free_in()
    busy_renewals = dynamodb.renewals

    # then a successor would wait at most the busy lease for it, and it was renewed every 0.4 of it
    assert busy_wait is not None and busy_wait <= lease_seconds_for(100, True) + 1e-6
    assert busy_renewals >= 3.0 / renew_every_for(lease_seconds_for(100, True)) - 1

    # and when the line goes idle, the long lease is written at once and renewed seldom
    work["busy"] = False
    clock.sleep(0.5)
    assert successor.free_in() > LEASE_SECONDS - 1
    before = dynamodb.renewals
    clock.sleep(60.0)
    assert dynamodb.renewals - before <= 60.0 / RENEW_EVERY + 1
    keeper.stop()


def test_a_stopped_keeper_renews_no_more_so_the_lease_ends_with_its_life(dynamodb):
    clock = SimClock(1_000.0)
    holder = Lease(dynamodb, TABLE, IDENTITY, now=clock.now, owner="holder")
    assert holder.acquire()
    keeper = LeaseKeeper(holder, clock, lambda: lease_seconds_for(100, True))
    keeper.start()
    clock.sleep(2.0)

    keeper.stop()  # the life ends (a crash leaves the item as it is)
    renewals = dynamodb.renewals
    clock.sleep(10.0)

    assert dynamodb.renewals == renewals
    assert Lease(dynamodb, TABLE, IDENTITY, now=clock.now, owner="successor").acquire()


def test_a_keeper_that_finds_another_holder_says_the_lease_is_lost(dynamodb):
    clock = SimClock(1_000.0)
    stalled = Lease(dynamodb, TABLE, IDENTITY, now=clock.now, owner="stalled")
    assert stalled.acquire()
    clock.sleep(LEASE_SECONDS + 1)  # it stalled past its expiry
    assert Lease(dynamodb, TABLE, IDENTITY, now=clock.now, owner="next").acquire()
    keeper = LeaseKeeper(stalled, clock, lambda: lease_seconds_for(100, True))

    keeper.start()
    clock.sleep(1.0)

    assert keeper.lost
