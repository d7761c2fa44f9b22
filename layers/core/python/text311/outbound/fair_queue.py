"""The drainer's in-memory view of one identity's queue: strict priority between classes, deficit
round robin (DRR) counted in message parts between cities within a class.

DRR: each city with something queued is visited in turn and given ``quantum`` parts of credit per
visit; it sends parts from the head of its own FIFO (ordered by ``enqueued_at``: :meth:`_Class.push`),
one part of credit each, until the credit is
spent or its FIFO is empty. A part is the unit of both sending and charging, so a visit is exactly
``quantum`` parts (fewer if the city runs out) and no credit is ever carried to the next visit: a
city whose answers are long or accented cannot crowd out one whose answers are short, and a city
with 6,000 parts queued cannot starve one with 60.

A city that had nothing queued is visited as soon as the visit under way ends, before any other
city's next visit (in the order such cities arrived; cities that arrive in one receive, fewest
parts first: :meth:`FairQueue.push_all`); afterwards it takes its place at the end of the round.
So a small city's message waits for at most the rest of one visit: ``quantum`` parts of
a flooding city (issue 19). Two things had let it wait longer, measured at 7 to 10 parts with a
quantum of 4: DRR charged by whole messages carries up to the longest message less one part to the
next visit, so a flooding city's visit was up to 7 parts; and a city joining just after a visit
ended went to the end of the round, behind the next whole visit. (A city that empties and comes
back at every visit's end could get a quantum per visit instead of per round; a city that sends
that much is in effect backlogged, and it is still served no more than one quantum at a time.)

A message under way keeps its city's place: the scheduler sends one part per turn and gives the
rest back with :meth:`push_next`, at the head of its city's FIFO, so it goes on in the same visit
while the credit lasts and first at the city's next visit otherwise. Its parts stay in order; a long
answer may straddle two visits of its city, with other cities' parts in between. While its part is
on the line the message is out of the queue (the pipelined drainer); a city whose only message is
out is passed over until it comes back, and :meth:`settled` lets the city go when it will not.

A message that could not be sent (throttled, transient failure) goes back with :meth:`push_front`
and is the next of its class to go: requeued at the head, never lost, never overtaken by its own
class (a higher class still goes first). Its part was charged when it was taken, once.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from text311.outbound.message import OutboundMessage, Priority


def _newer(entry: tuple[OutboundMessage, int], enqueued_at: float) -> bool:
    """Whether a queued (message, parts left) was enqueued after ``enqueued_at`` and is not under way."""
    message, left = entry
    return message.enqueued_at > enqueued_at and left == message.parts


@dataclass
class _Class:
    quantum: int
    queues: dict[int, deque[tuple[OutboundMessage, int]]] = field(default_factory=dict)  # (message, parts left)
    active: deque[int] = field(default_factory=deque)  # cities with something queued or under way, in visiting order
    joining: deque[int] = field(default_factory=deque)  # cities that had nothing: visited at the next visit's start
    credit: int = 0  # parts the head city may still send in this visit
    turn_open: bool = False  # the head city has already been given this visit's quantum
    retry: deque[tuple[OutboundMessage, int]] = field(default_factory=deque)  # (message, parts left)
    parts_by_city: dict[int, int] = field(default_factory=dict)
    under_way: dict[str, int] = field(default_factory=dict)  # message id → city: taken, more parts to come

    def _join(self, city: int) -> deque[tuple[OutboundMessage, int]]:
        queue = self.queues.get(city)
        if queue is None:
            queue = self.queues[city] = deque()
            self.joining.append(city)
        return queue

    def push(self, message: OutboundMessage) -> None:
        """Behind its city's messages enqueued before it, ahead of those enqueued after (oldest first),
        never ahead of a message under way: a message given back or delivered again (a successor's,
        after its predecessor's late call) regains its place instead of going behind its city's backlog."""
        queue = self._join(message.city)
        at = len(queue)  # (arrivals come in about their order: the scan ends at once, as a plain append)
        while at > 0 and _newer(queue[at - 1], message.enqueued_at):
            at -= 1
        queue.insert(at, (message, message.parts))
        self._count(message.city, message.parts)

    def push_next(self, message: OutboundMessage, parts: int) -> None:
        """The rest of a message under way: at the head of its city's FIFO."""
        self.under_way.pop(message.id, None)
        self._join(message.city).appendleft((message, parts))
        self._count(message.city, parts)

    def push_front(self, message: OutboundMessage, parts: int) -> None:
        self.under_way.pop(message.id, None)
        self._leave_if_done(message.city)
        self.retry.appendleft((message, parts))
        self._count(message.city, parts)

    def settled(self, message: OutboundMessage) -> None:
        """``message`` will not come back (sent, failed, given back): its city need not wait for it."""
        if self.under_way.pop(message.id, None) is not None:
            self._leave_if_done(message.city)

    def pop(self) -> OutboundMessage | None:
        if self.retry:
            message, left = self.retry.popleft()
            return self._taken(message, left)
        for _ in range(len(self.active) + len(self.joining)):
            if not self.turn_open and self.joining:
                self.active.appendleft(self.joining.popleft())
            city = self.active[0]
            queue = self.queues[city]
            if not queue:  # its message is on the line: its visit ends (no credit is kept)
                self._next_city()
                continue
            if not self.turn_open:
                self.credit, self.turn_open = self.quantum, True
            message, left = queue.popleft()
            self.credit -= 1  # one part goes now; the rest comes back with push_next
            self._taken(message, left)
            if not self._leave_if_done(city) and self.credit <= 0:
                self._next_city()
            return message
        return None

    def _next_city(self) -> None:
        self.active.rotate(-1)
        self.turn_open = False

    def _leave_if_done(self, city: int) -> bool:
        """An idle city keeps no place and no credit (DRR): it cannot save up a burst."""
        queue = self.queues.get(city)
        if queue is None or queue or city in self.under_way.values():
            return False
        if city in self.joining:
            self.joining.remove(city)
        else:
            if self.active[0] == city:
                self.turn_open = False
            self.active.remove(city)
        del self.queues[city]
        return True

    def _taken(self, message: OutboundMessage, parts: int) -> OutboundMessage:
        if parts > 1:
            self.under_way[message.id] = message.city
        self._count(message.city, -parts)
        return message

    def _count(self, city: int, parts: int) -> None:
        left = self.parts_by_city.get(city, 0) + parts
        if left:
            self.parts_by_city[city] = left
        else:
            del self.parts_by_city[city]

    def __len__(self) -> int:
        return len(self.retry) + sum(len(q) for q in self.queues.values())

    def parts(self) -> int:
        return sum(self.parts_by_city.values())

    def parts_ahead_of(self, city: int, parts: int) -> int:
        """Parts DRR sends before a new message of ``parts`` from ``city`` is through: the retries,
        then each backlogged city's parts up to what this city itself has queued (fair share)."""
        own = self.parts_by_city.get(city, 0) + parts
        retry = sum(left for _, left in self.retry)
        others = sum(min(p, own) for c, p in self.parts_by_city.items() if c != city)
        return retry + others + own - parts


class FairQueue:
    def __init__(self, quantum: int = 4) -> None:
        self._classes = {p: _Class(quantum) for p in Priority}

    def push(self, message: OutboundMessage) -> None:
        self._classes[message.priority].push(message)

    def push_all(self, messages: list[OutboundMessage]) -> None:
        """``push`` the messages of one receive. Cities that join with it join fewest parts first
        (ties in the order given): the queue lists them in no order of ours, and a successor's first
        read after a hand-off holds a small city's answer that was next beside a flood's backlog,
        whose city, listed first, got a whole visit before it (issue 19)."""
        parts: Counter[int] = Counter()
        for message in messages:
            parts[message.city] += message.parts
        for message in sorted(messages, key=lambda message: parts[message.city]):
            self.push(message)

    def push_front(self, message: OutboundMessage, parts: int | None = None) -> None:
        """Back to the head of its class, with ``parts`` still to send (all of them by default)."""
        self._classes[message.priority].push_front(message, message.parts if parts is None else parts)

    def push_next(self, message: OutboundMessage, parts: int) -> None:
        """A message under way, one part sent, with ``parts`` still to send: at the head of its city."""
        self._classes[message.priority].push_next(message, parts)

    def settled(self, message: OutboundMessage) -> None:
        """Done with ``message`` (it will not be pushed back): see the module docstring."""
        self._classes[message.priority].settled(message)

    def pop(self) -> OutboundMessage | None:
        for priority in Priority:  # strict: a lower class goes only when every higher one is empty
            message = self._classes[priority].pop()
            if message is not None:
                return message
        return None

    def head_priority(self) -> Priority | None:
        """The class :meth:`pop` would take from now, or None when nothing is queued."""
        return next((p for p in Priority if len(self._classes[p])), None)

    def __len__(self) -> int:
        return sum(len(c) for c in self._classes.values())

    def __bool__(self) -> bool:
        return any(len(c) for c in self._classes.values())

    def __iter__(self) -> Iterator[OutboundMessage]:
        for cls in self._classes.values():
            yield from (message for message, _ in cls.retry)
            for queue in cls.queues.values():
                yield from (message for message, _ in queue)

    def depth(self, priority: Priority) -> tuple[int, int]:
        """(messages, parts) queued in one class."""
        cls = self._classes[priority]
        return len(cls), cls.parts()

    def parts_ahead_of_each(self) -> dict[str, int]:
        """Message id → the parts DRR sends before that queued message starts (an estimate of its
        turn, as :meth:`_Class.parts_ahead_of` for a new one): the higher classes, the retries of
        its class, its own city's parts before it, and each other city's parts up to as many."""
        ahead: dict[str, int] = {}
        before = 0
        for priority in Priority:
            cls = self._classes[priority]
            for message, left in cls.retry:
                ahead.setdefault(message.id, before)
                before += left
            totals = {city: sum(left for _, left in queue) for city, queue in cls.queues.items()}
            for city, queue in cls.queues.items():
                own = 0
                for message, left in queue:
                    others = sum(min(total, own + left) for c, total in totals.items() if c != city)
                    ahead.setdefault(message.id, before + own + others)
                    own += left
            before += sum(totals.values())
        return ahead

    def parts_ahead(self, priority: Priority, city: int | None = None, parts: int = 1) -> int:
        """Parts that go before a new message of this class (and city, if known)."""
        higher = sum(self._classes[p].parts() for p in Priority if p < priority)
        cls = self._classes[priority]
        same = cls.parts() if city is None else cls.parts_ahead_of(city, parts)
        return higher + same
