"""A simulated clock for several threads: discrete events, one thread running at a time (issue 19).

The pipelined scheduler keeps several sends in flight on threads. ``FakeClock`` cannot serve it: its
``sleep`` moves time for everyone at once. Here each thread the simulation knows (the one that built
the clock, and every thread started with :meth:`SimClock.spawn`) is a *fiber*: exactly one runs at a
time, and it gives the turn away only when it waits on the clock (``sleep``, or ``wait`` on a
:class:`SimCondition`). The next fiber is the first ready one (woken by ``notify_all``, in the order
they were woken), else the one whose timer is earliest, and time jumps to that timer. So:

- nothing waits in real time: a 10,000-part drain at 1 MPS takes seconds, not hours;
- a run is deterministic for a given seed (the order of fibers is the order of events, never the
  operating system's);
- no two fibers touch shared state at once, so code written for real threads (a lock held except
  around I/O) runs unchanged: the condition's lock is a no-op here.

``SystemClock`` (pacing.py) offers the same three calls over real threads and real time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class SimulationDeadlock(RuntimeError):
    """Every fiber waits on a condition with no timeout: nothing can ever happen again."""


class _Fiber:
    def __init__(self, name: str) -> None:
        self.name = name
        self.turn = threading.Semaphore(0)
        self.wait_id = 0  # bumped at every wait: a timer or a notify of an older wait is stale
        self.notified = False


class SimCondition:
    """``threading.Condition`` for fibers of one :class:`SimClock` (the lock is the clock's turn)."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._waiters: list[tuple[_Fiber, int]] = []

    def __enter__(self) -> SimCondition:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Give the turn away until notified (True) or ``timeout`` simulated seconds passed (False)."""
        return self._clock._block(self, timeout)

    def notify_all(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fiber, wait_id in waiters:
            self._clock._wake(fiber, wait_id)

    notify = notify_all  # waking more than asked is allowed by Condition's contract


class SimClock:
    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self._ready: deque[_Fiber] = deque()
        self._timers: list[tuple[float, int, int, _Fiber]] = []  # (at, order, wait id, fiber)
        self._order = itertools.count()
        self._local = threading.local()
        self._local.fiber = _Fiber(threading.current_thread().name)  # the builder runs first

    def now(self) -> float:
        return self.t

    def set(self, t: float) -> None:
        """Jump forward (a single-fiber caller, between runs)."""
        self.t = max(self.t, t)

    def sleep(self, seconds: float) -> None:
        self._block(None, max(0.0, seconds))

    def condition(self) -> SimCondition:
        return SimCondition(self)

    def spawn(self, target: Callable[[], Any], name: str) -> None:
        """Start ``target`` on a new daemon thread, as a fiber that runs when its turn comes."""
        fiber = _Fiber(name)

        def body() -> None:
            self._local.fiber = fiber
            fiber.turn.acquire()
            try:
                target()
            finally:
                self._pass_turn()  # this fiber is gone: the next one runs

        threading.Thread(target=body, name=name, daemon=True).start()
        self._ready.append(fiber)

    # -- the turn ----------------------------------------------------------------------------------

    def _block(self, condition: SimCondition | None, timeout: float | None) -> bool:
        me: _Fiber = self._local.fiber
        me.wait_id += 1
        me.notified = False
        if condition is not None:
            condition._waiters.append((me, me.wait_id))
        if timeout is not None:
            heapq.heappush(self._timers, (self.t + timeout, next(self._order), me.wait_id, me))
        self._pass_turn()
        me.turn.acquire()
        return me.notified

    def _wake(self, fiber: _Fiber, wait_id: int) -> None:
        if fiber.wait_id == wait_id:
            fiber.wait_id += 1  # its timer is now stale
            fiber.notified = True
            self._ready.append(fiber)

    def _pass_turn(self) -> None:
        if not self._ready:
            while self._timers:
                at, _, wait_id, fiber = heapq.heappop(self._timers)
                if fiber.wait_id == wait_id:
                    fiber.wait_id += 1
                    self.t = max(self.t, at)
                    self._ready.append(fiber)
                    break
        if not self._ready:
            raise SimulationDeadlock("every fiber waits on a condition without a timeout")
        self._ready.popleft().turn.release()
