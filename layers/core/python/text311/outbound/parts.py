"""Message-part counting for pacing: GSM-7 versus UCS-2, as the carrier counts a concatenated SMS.

The counting itself is ``text311.sms.concatenated_parts`` (one place for the GSM 03.38 tables);
the pacer only needs a ``(body) -> int`` counter, injected where messages are built
(``OutboundMessage.create(..., count=...)``). An empty body is still one part on the wire.
"""

from __future__ import annotations

from text311.sms import concatenated_parts


def count_parts(body: str) -> int:
    """Message parts the carrier will bill and count against the MPS (an empty body is one part)."""
    return max(1, concatenated_parts(body))
