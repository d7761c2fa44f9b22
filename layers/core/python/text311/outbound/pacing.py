"""Pacing one origination identity to its MPS, and the limit the service itself enforces.

The pacer is a zero-tolerance GCRA ("virtual scheduling", the token bucket's exact form): the line
is busy until ``ready_at``; a message of *k* parts sent at *t* keeps it busy until
``max(ready_at, t) + k / rate``. No burst credit is ever saved up, so parts are never closer than
``1 / MPS`` apart and no sliding one-second window holds more than MPS part-slots. (A bucket with a
burst capacity *b* would allow ``b + MPS`` in a window; the only capacity that keeps every window at
or below MPS while still letting a 3-part message through a 1-MPS long code is this one, where a
message borrows its line time and the next one waits it out.)

The rate follows AIMD: a ThrottlingException multiplies it by ``decrease`` (throttles closer than
``cooldown`` seconds count as one overload), and every part sent without a throttle adds
``recover_per_part × MPS`` back, never above the configured MPS. Recovery is counted in parts sent,
not in seconds (TCP's "per acknowledgement"), so it behaves the same at 1 and at 100 MPS: with the
defaults a spurious throttle costs under one part-time of pace and the pace is whole again
after 5 parts.

Urgent messages (STOP/HELP confirmations, emergency notices) are spaced at the configured MPS, not
at the AIMD pace: ``delay(now, urgent=True)`` waits only for the physical end of the last part
(``line_free_at``: its start plus ``parts / MPS``) and any pause after a transient failure. The
AIMD pace is a guess at what the service will take; the MPS is the limit itself, so two parts are
still never closer than ``1 / MPS``, and urgent messages are too few (a share of a percent or two) to
be what overloads the line. Without this, one throttle on the line before a STOP (0.75 × 1 MPS)
stretches its wait to 1.33 s, and one on the STOP itself to 2.67 s.

A stray refusal costs the line one back-off, not two (:meth:`Pacer.on_refused`; issue 19's third
pass for urgent calls, its fourth for every class). A ThrottlingException sends no message part, and
the MPS is a count of the parts sent ("the maximum number of message parts that you can send in a
second", End User Messaging SMS User Guide, MPS limits). So while the refused slot is still the last
one taken (below about 15 MPS, where a slot outlasts a call's round trip) it is given back
(:meth:`Pacer.give_back`): the line is as it was before it, both the MPS's slot and the AIMD pace's,
and AIMD's cut applies from there, the retry waiting for the last part sent + 1/rate at the cut
rate (1/0.75 s at 1 MPS), not for a whole slot after the refusal. A refusal had cost an ordinary
part its slot on top of the cut: 1.96 part-times a refusal in the 3-MPS bench, now 1.37, AIMD's
recovery alone (the retry and the next five parts, each reserved at the pace of its turn). On a fast
line several calls are out when the refusal comes back and its slot is in the past: a part sent in
its place would put MPS + 1 parts in the second after it, so the slot is lost, and that lost
part-time is the back-off: the pace is not cut as well (that had cost about 2.7 s of a 107-s drain
at 100 MPS). Parts sent stay at least 1/MPS apart;
only a refused call and its retry may be closer.

A refusal is stray when at least ``isolated_after`` calls (5, the parts AIMD takes to recover from a
cut) were accepted since the last one; a refusal sooner is an overload, and gets AIMD's whole
back-off: its slot kept and the pace cut. Urgent calls are stray until ``urgent_fast_tries`` urgent
refusals in a row, then go at the AIMD pace too (scheduler.py). The guide does not say whether a
refused call counts against the identity's limit; if it does, the quick retry is refused too, and
that second refusal is an overload.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

EPSILON = 1e-9  # float slack when comparing instants built by repeated addition


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time and real threads. ``condition`` and ``spawn`` are what the pipelined scheduler needs
    of a clock; ``sim_clock.SimClock`` offers the same over simulated time."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def condition(self) -> threading.Condition:
        return threading.Condition()

    def spawn(self, target: Callable[[], Any], name: str) -> None:
        threading.Thread(target=target, name=name, daemon=True).start()


class FakeClock:
    """Simulated time: ``sleep`` advances it, nothing waits."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)

    def set(self, t: float) -> None:
        self.t = max(self.t, t)

    def condition(self) -> threading.Condition:
        """A plain lock for the serial scheduler: one thread, nothing ever waits on it."""
        return threading.Condition()


@dataclass(frozen=True)
class Aimd:
    decrease: float = 0.75  # rate × this on a throttle
    recover_per_part: float = 0.05  # + this × MPS for each part sent without a throttle
    floor: float = 0.1  # never below this × MPS
    cooldown: float = 0.0  # seconds: throttles closer together than this count as one


class Pacer:
    def __init__(self, mps: float, aimd: Aimd = Aimd(), start: float = 0.0) -> None:
        if mps <= 0:
            raise ValueError("MPS must be positive")
        self.mps = float(mps)
        self.aimd = aimd
        self.rate = self.mps
        self.ready_at = start  # the next slot at the AIMD pace
        self.line_free_at = start  # the last part's start + parts / MPS: the next slot the MPS allows
        self.paused_until = start  # after a transient failure: nothing goes before this
        self._last_cut = float("-inf")
        self.throttles = 0
        self._last_slot: tuple[float, int] | None = None  # (start, parts) of the last slot taken
        # The last slot's start, and the line as it was before it: what ``give_back`` restores.
        self._before_last: tuple[float, float, float, tuple[float, int] | None] | None = None

    def _ready(self, urgent: bool) -> float:
        return max(self.line_free_at, self.paused_until) if urgent else self.ready_at

    def delay(self, now: float, urgent: bool = False) -> float:
        """Seconds until the line is free (0 when it is), for an urgent message or any other."""
        wait = self._ready(urgent) - now
        return wait if wait > EPSILON else 0.0

    def reserve(self, parts: int, now: float, urgent: bool = False) -> float:
        """Take the line for ``parts``; returns the instant the send starts. The next message waits
        ``parts / rate`` (an urgent one only ``parts / MPS``)."""
        start = max(self._ready(urgent), now)
        self._before_last = (start, self.line_free_at, self.ready_at, self._last_slot)
        self._last_slot = (start, parts)
        self.ready_at = max(self.ready_at, start + parts / self.rate)
        self.line_free_at = start + parts / self.mps
        return start

    def give_back(self, start: float) -> bool:
        """The call that took the slot at ``start`` was refused (throttled): no part went, so the line
        is as it was before that slot (the module docstring), both the MPS's slot (``line_free_at``)
        and the AIMD pace's (``ready_at``), and the pace's cut (``on_throttle``, made first) then
        spaces the retry from the slot before: ``its start + its parts / rate``. Only while that slot
        is still the last one taken: a slot taken after it stays where it is, and so does the refused
        one. Returns whether it was given back."""
        before = self._before_last
        if before is None or before[0] != start:
            return False
        _, self.line_free_at, ready_at, self._last_slot = before
        if self._last_slot is not None:
            previous, parts = self._last_slot
            ready_at = max(ready_at, previous + parts / self.rate)
        self.ready_at = max(ready_at, self.paused_until)
        self._before_last = None
        return True

    def on_refused(self, start: float | None, now: float, isolated: bool) -> bool:
        """A call that took the slot at ``start`` (None: no slot) was refused. An ``isolated`` (stray)
        refusal costs the line one back-off, not two: its slot given back and the pace cut, the retry
        spaced at the cut pace from the slot before (``give_back``); or, when a later slot was already
        taken (a fast line, several calls out), its slot lost and the pace left whole, the lost slot
        being the back-off (the module docstring). Any other refusal (an overload) keeps its slot and
        cuts the pace (AIMD). Returns whether the slot was given back."""
        if isolated and start is not None and not self._is_last(start):
            self.throttles += 1
            return False
        self.on_throttle(now)
        return isolated and start is not None and self.give_back(start)

    def _is_last(self, start: float) -> bool:
        return self._before_last is not None and self._before_last[0] == start

    def on_throttle(self, now: float) -> None:
        self.throttles += 1
        if now - self._last_cut >= self.aimd.cooldown or self.aimd.cooldown <= 0:
            self.rate = max(self.aimd.floor * self.mps, self.rate * self.aimd.decrease)
            self._last_cut = now

    def pause_until(self, t: float) -> None:
        self.ready_at = max(self.ready_at, t)
        self.paused_until = max(self.paused_until, t)

    def on_success(self, parts: int) -> None:
        self.rate = min(self.mps, self.rate + self.aimd.recover_per_part * self.mps * parts)


class MpsLimit:
    """What End User Messaging enforces on one identity, as we model it for the bench and the local
    sink: a bucket of ``burst`` parts (one second's worth by default) refilled at ``mps``; a message
    may take the bucket into debt (a 3-part message on a 1-MPS number is accepted when the bucket is
    not empty, and the next one waits). A refused call is a ThrottlingException."""

    def __init__(self, mps: float, burst: float | None = None) -> None:
        self.mps = float(mps)
        burst = self.mps if burst is None else burst
        self._tolerance = max(0.0, (burst - 1) / self.mps)
        self._tat = float("-inf")

    def try_acquire(self, parts: int, now: float) -> bool:
        if self._tat - now > self._tolerance + EPSILON:
            return False
        self._tat = max(self._tat, now) + parts / self.mps
        return True


def part_slots(sends: Iterable[tuple[float, int]], mps: float) -> list[float]:
    """The instants the carrier transmits each part: part *i* of a message accepted at *t* goes at
    ``t + i / MPS`` (a long message is one API call but occupies the line for parts / MPS)."""
    return sorted(t + i / mps for t, parts in sends for i in range(parts))


def max_in_window(instants: list[float], window: float = 1.0) -> int:
    """The most instants in any half-open sliding window ``[t, t + window)`` (instants sorted)."""
    best = 0
    for i, t in enumerate(instants):
        j = bisect.bisect_left(instants, t + window - EPSILON, lo=i)
        best = max(best, j - i)
    return best
