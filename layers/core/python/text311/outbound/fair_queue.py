"""The drainer's in-memory view of one identity's queue: strict priority between classes, deficit
round robin (DRR) weighted by message parts between cities within a class.

DRR: each city with something queued is visited in turn and earns ``quantum`` parts of credit per
visit; it sends from the head of its own FIFO while its credit covers the head's parts. Over any
busy period each backlogged city gets the same number of *parts* (not messages) within one quantum,
so a city whose answers are long or accented cannot crowd out one whose answers are short, and a
city with 6,000 parts queued cannot starve one with 60.

A message that could not be sent (throttled, transient failure) goes back with :meth:`push_front`
and is the next of its class to go: requeued at the head, never lost, never overtaken by its own
class (a higher class still goes first). A message partly sent goes back the same way with the
parts it still has to send: the scheduler sends one part per turn, so between two parts of an
answer an urgent message can go, but no other message of the answer's class starts before it ends.
DRR charges a message's city for all its parts when it starts, so the shares stay counted in parts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from text311.outbound.message import OutboundMessage, Priority


@dataclass
class _Class:
    quantum: int
    queues: dict[int, deque[OutboundMessage]] = field(default_factory=dict)
    active: deque[int] = field(default_factory=deque)  # cities with something queued, in visiting order
    deficit: dict[int, int] = field(default_factory=dict)
    turn_open: bool = False  # the head city has already been given this visit's quantum
    retry: deque[tuple[OutboundMessage, int]] = field(default_factory=deque)  # (message, parts left)
    parts_by_city: dict[int, int] = field(default_factory=dict)

    def push(self, message: OutboundMessage) -> None:
        city = message.city
        queue = self.queues.get(city)
        if queue is None:
            queue = self.queues[city] = deque()
            self.active.append(city)
            self.deficit[city] = 0
        queue.append(message)
        self.parts_by_city[city] = self.parts_by_city.get(city, 0) + message.parts

    def pop(self) -> OutboundMessage | None:
        if self.retry:
            message, left = self.retry.popleft()
            return self._taken(message, left)
        while self.active:
            city = self.active[0]
            queue = self.queues[city]
            if not self.turn_open:
                self.deficit[city] += self.quantum
                self.turn_open = True
            if queue[0].parts <= self.deficit[city]:
                message = queue.popleft()
                self.deficit[city] -= message.parts
                if not queue:  # an idle city keeps no credit (DRR): it cannot save up a burst
                    self.active.popleft()
                    del self.queues[city], self.deficit[city]
                    self.turn_open = False
                return self._taken(message, message.parts)
            self.active.rotate(-1)
            self.turn_open = False
        return None

    def _taken(self, message: OutboundMessage, parts: int) -> OutboundMessage:
        left = self.parts_by_city[message.city] - parts
        if left:
            self.parts_by_city[message.city] = left
        else:
            del self.parts_by_city[message.city]
        return message

    def push_front(self, message: OutboundMessage, parts: int) -> None:
        self.retry.appendleft((message, parts))
        self.parts_by_city[message.city] = self.parts_by_city.get(message.city, 0) + parts

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

    def push_front(self, message: OutboundMessage, parts: int | None = None) -> None:
        """Back to the head of its class, with ``parts`` still to send (all of them by default)."""
        self._classes[message.priority].push_front(message, message.parts if parts is None else parts)

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
                yield from queue

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
            totals = {city: sum(m.parts for m in queue) for city, queue in cls.queues.items()}
            for city, queue in cls.queues.items():
                own = 0
                for message in queue:
                    others = sum(min(total, own + message.parts) for c, total in totals.items() if c != city)
                    ahead.setdefault(message.id, before + own + others)
                    own += message.parts
            before += sum(totals.values())
        return ahead

    def parts_ahead(self, priority: Priority, city: int | None = None, parts: int = 1) -> int:
        """Parts that go before a new message of this class (and city, if known)."""
        higher = sum(self._classes[p].parts() for p in Priority if p < priority)
        cls = self._classes[priority]
        same = cls.parts() if city is None else cls.parts_ahead_of(city, parts)
        return higher + same
