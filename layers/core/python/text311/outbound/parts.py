"""Message-part counting for pacing: what the sender will actually put on the line.

Text311's sender never relies on carrier concatenation: ``SmsSegmenter.split`` sends a long reply
as numbered SMS of one segment each ("1/3 …"), GSM-7 or UCS-2 per SMS. The pacer must count those
SMS, not the parts of the same text sent as one concatenated message (``sms.concatenated_parts``):
the two differ (the "k/n " markers and word boundaries cost room; 307 GSM-7 letters are 3
concatenated parts but 2 split SMS), and counting the wrong one would pace to a rate the line
never sees. The pacer only needs a ``(body) -> int`` counter, injected where messages are built
(``OutboundMessage.create(..., count=...)``). An empty body is still one part on the wire.
"""

from __future__ import annotations

from text311.sms import SmsSegmenter

# count() never raises for a long text (split() would, past max_parts): the pacer counts what it gets.
_SEGMENTER = SmsSegmenter()


def count_parts(body: str) -> int:
    """SMS the sender will send for ``body`` (each one billed part, counted against the MPS)."""
    return max(1, _SEGMENTER.count(body).parts)


def split_parts(body: str) -> list[str]:
    """The SMS the drainer sends for ``body``, in order, each numbered as the resident sees it
    ("1/3 …"). The drainer sends one per call so it can choose the next SMS at every part boundary
    (a STOP confirmation goes between two parts of a long answer). Raises ``ReplyTooLong`` past the
    segmenter's ``max_parts`` and ``ValueError`` for a blank body, as the adapter would: nothing is
    sent for either. A part given back to ``SmsSegmenter.split`` comes back unchanged (one segment,
    already normalised), so a sender that splits again sends exactly this text."""
    return _SEGMENTER.split(body)
