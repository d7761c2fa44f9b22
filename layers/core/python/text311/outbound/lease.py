"""The drainer's two items in the idempotency table (hash key ``id``, TTL ``expiration``).

``lease#<identity>``: only one drainer sends for an identity at a time. That is what makes the
pacing exact and lets the ledger read a ``sending`` record as "its drainer died" (docs/outbound.md).
Acquire is a conditional put that succeeds when the item is absent, expired or already ours; renew
and release are conditioned on the owner token, so a drainer that lost its lease (it stalled past
the expiry and another took over) learns it at its next renewal and stops, and never deletes the
successor's lease. A holder at the end of its life marks it ``handoff`` (:meth:`Lease.hand_off`)
before it invokes its successor: a starter that finds a lease so marked waits for it (its holder
drops it within a second or so) instead of returning, so the successor starts while its
predecessor still finishes its last calls and gives back what it held. That release leaves the item
expired, with ``line_free`` (when its line allows the next part), which the successor's acquire reads.

``status#<identity>``: the drainer's :class:`~text311.outbound.scheduler.QueueStatus`, written every
few seconds, read by producers for "queued, about N minutes".
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

KEEP_SECONDS = 24 * 3600  # the table's TTL removes an item this long after its last write
# A short lease renewed by the drainer's heartbeat (every RENEW_EVERY s): a dead drainer's lease is free
# again within LEASE_SECONDS. This is its length while the line is idle or slow (lease_seconds_for).
LEASE_SECONDS = 10.0
RENEW_EVERY = 4.0
# While the line is busy the lease follows the MPS: a takeover leaves the line empty for about the
# lease's length, which costs length × MPS parts of line time, so the busy lease is the length that
# costs LEASE_GAP_PARTS (1.5 s at 100 MPS; LEASE_SECONDS at 15 MPS and below), never shorter than
# BUSY_LEASE_MIN. Renewed, like the idle one, every 0.4 of its length (renew_every_for), it costs
# 2.5 / LEASE_GAP_PARTS ≈ 0.017 writes a part sent at any speed, and nothing more while idle.
LEASE_GAP_PARTS = 150.0
BUSY_LEASE_MIN = 1.5


def renew_every_for(seconds: float) -> float:
    """How often a lease of ``seconds`` is renewed: as the idle lease (RENEW_EVERY of LEASE_SECONDS), so
    that one failed renewal is survived at every length."""
    return seconds * RENEW_EVERY / LEASE_SECONDS


def lease_seconds_for(mps: float, busy: bool) -> float:
    """The lease's length for a line of ``mps`` that is ``busy`` (holds messages) or idle."""
    if not busy:
        return LEASE_SECONDS
    return min(LEASE_SECONDS, max(BUSY_LEASE_MIN, LEASE_GAP_PARTS / mps))


def _conditional(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Lease:
    def __init__(self, client: Any, table: str, identity: str, *, seconds: float = LEASE_SECONDS,
                 now: Callable[[], float] = time.time, owner: str | None = None) -> None:
        self.client = client
        self.table = table
        self.key = {"id": {"S": f"lease#{identity}"}}
        self.base = seconds  # the length it is taken for: a new life starts idle
        self.seconds = seconds  # its length now (renew may change it): > two gaps between renewals
        self.now = now  # wall clock: the lease is compared across containers
        self.owner = owner or uuid.uuid4().hex
        # Until when this holder may send (its clock, taken before the write that set it): a renewal that
        # stalls lets the lease run out while the holder lives, and a successor may take it then.
        self.valid_until = float("-inf")
        # When the line is free again after the previous holder's last call (wall clock; None: not
        # told): its next part may not start sooner, or the service refuses it (the MPS is the line's).
        self.line_free_at: float | None = None
        # The Lambda invocation (request id) that holds it, written with it: Lambda's record of a failed
        # invocation names it, and that record's receiver may take the lease at once (``replacing``).
        self.invocation: str | None = None

    def acquire(self, seconds: float | None = None, replacing: str | None = None) -> bool:
        """Take the lease if it is free, expired or ours; with ``replacing`` (the request id of an
        invocation Lambda reported failed: it has ended, and none of its threads runs any more) also
        while that invocation still holds it, without waiting for it to expire (issue 19)."""
        self.seconds = seconds or self.base
        now = self.now()
        item = {**self.key, "owner": {"S": self.owner}, "until": {"N": repr(now + self.seconds)},
                "expiration": {"N": str(int(now) + KEEP_SECONDS)}}
        if self.invocation:
            item["invocation"] = {"S": self.invocation}
        condition = "attribute_not_exists(id) OR #until < :now OR #owner = :me"
        names = {"#until": "until", "#owner": "owner"}
        values = {":now": {"N": repr(now)}, ":me": {"S": self.owner}}
        if replacing:
            condition += " OR #invocation = :dead"
            names["#invocation"] = "invocation"
            values[":dead"] = {"S": replacing}
        try:
            response = self.client.put_item(
                TableName=self.table, Item=item, ConditionExpression=condition,
                ExpressionAttributeNames=names, ExpressionAttributeValues=values, ReturnValues="ALL_OLD",
            )
            self.valid_until = now + self.seconds
            before = response.get("Attributes", {})
            self.line_free_at = float(before["line_free"]["N"]) if "line_free" in before else None
            return True
        except ClientError as exc:
            if _conditional(exc):
                return False
            raise

    def renew(self, seconds: float | None = None) -> bool:
        """Extend the lease, to ``seconds`` from now if given (its new length, written in ``until`` so
        that a successor waits for the right time); False when it is no longer ours (stop sending)."""
        length = seconds or self.seconds
        now = self.now()
        try:
            self.client.update_item(
                TableName=self.table, Key=self.key,
                UpdateExpression="SET #until = :until, expiration = :exp",
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#until": "until", "#owner": "owner"},
                ExpressionAttributeValues={":until": {"N": repr(now + length)}, ":me": {"S": self.owner},
                                           ":exp": {"N": str(int(now) + KEEP_SECONDS)}},
            )
            self.seconds = length
            self.valid_until = now + length
            return True
        except ClientError as exc:
            if _conditional(exc):
                return False
            raise

    def left(self) -> float:
        """Seconds this holder may still send for (negative: its lease may be another's by now)."""
        return self.valid_until - self.now()

    def free_in(self) -> float | None:
        """Seconds until the current holder's lease expires (0 when it has, or none is held); None
        when the lease is ours. A successor started after a crash waits this long, not a minute."""
        return self.holder()[0]

    def holder(self) -> tuple[float | None, bool]:
        """(:meth:`free_in`, whether its holder is handing it off): one consistent read."""
        item = self.client.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item")
        if not item:
            return 0.0, False
        if item.get("owner", {}).get("S") == self.owner:
            return None, False
        return max(0.0, float(item["until"]["N"]) - self.now()), bool(item.get("handoff", {}).get("BOOL"))

    def hand_off(self) -> bool:
        """Mark the lease as being handed off (its holder has stopped taking work and is starting its
        successor, who then waits for it); False when it is no longer ours (start no successor). The
        mark goes with the item: a renewal keeps it, the release deletes it, the next holder's
        acquire writes an item without it."""
        try:
            self.client.update_item(
                TableName=self.table, Key=self.key, UpdateExpression="SET handoff = :yes",
                ConditionExpression="#owner = :me", ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":me": {"S": self.owner}},
            )
            return True
        except ClientError as exc:
            if _conditional(exc):
                return False
            raise

    def release(self, line_free_in: float | None = None) -> bool:
        """Drop the lease; False when it was no longer ours (another drainer took over: its lease stays).
        With ``line_free_in`` (seconds until this holder's line allows the next part) the item is left
        expired instead of deleted, and tells the next holder when it may send (``line_free_at``, read
        by its acquire at no extra call): a successor that starts within a part's time of the last
        call would otherwise be refused by the service, and cut its pace (issue 19, fifth pass)."""
        try:
            if line_free_in is None:
                self.client.delete_item(
                    TableName=self.table, Key=self.key, ConditionExpression="#owner = :me",
                    ExpressionAttributeNames={"#owner": "owner"}, ExpressionAttributeValues={":me": {"S": self.owner}},
                )
            else:
                now = self.now()
                self.client.update_item(  # "until" a second ago: expired, whoever's clock reads it
                    TableName=self.table, Key=self.key, UpdateExpression="SET #until = :gone, line_free = :free "
                    "REMOVE handoff", ConditionExpression="#owner = :me",
                    ExpressionAttributeNames={"#until": "until", "#owner": "owner"},
                    ExpressionAttributeValues={":gone": {"N": repr(now - 1.0)}, ":me": {"S": self.owner},
                                               ":free": {"N": repr(now + max(0.0, line_free_in))}},
                )
            return True
        except ClientError as exc:
            if not _conditional(exc):
                raise
            return False


class StatusBoard:
    """Where the drainer posts its queue status and producers read it (one item per identity)."""

    def __init__(self, client: Any, table: str, identity: str, now: Callable[[], float] = time.time) -> None:
        self.client = client
        self.table = table
        self.key = {"id": {"S": f"status#{identity}"}}
        self.now = now

    def write(self, status: dict[str, Any]) -> None:
        now = self.now()
        self.client.put_item(TableName=self.table, Item={
            **self.key, "status": {"S": json.dumps(status)}, "written_at": {"N": repr(now)},
            "expiration": {"N": str(int(now) + KEEP_SECONDS)},
        })

    def read(self, fresh_within: float) -> dict[str, Any] | None:
        """The last status, or None when none was written within ``fresh_within`` seconds (no
        drainer running: its figures would describe a queue that has moved on)."""
        item = self.client.get_item(TableName=self.table, Key=self.key).get("Item")
        if not item or self.now() - float(item["written_at"]["N"]) > fresh_within:
            return None
        status: dict[str, Any] = json.loads(item["status"]["S"])
        return status
