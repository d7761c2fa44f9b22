"""All of Text311 on one machine, no AWS account: ``python -m localrun`` (``make run``).

moto in server mode holds what a region's stack creates; the same Lambda handlers run in-process,
fed the exact AWS event shapes by a small local bus (SNS → SQS with redelivery and a DLQ, SES
receipt rules); an SMS sink stands in for End User Messaging; an SMTP server and a web page let a
person play the resident and the city. See docs/local-run.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The handlers live in functions/<name>/handler.py and the config model in stacks/: both import from
# the repository root, as the Lambda bundle and the CDK app do.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
